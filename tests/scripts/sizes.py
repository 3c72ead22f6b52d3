#!/usr/bin/env python3
"""Checks that product code stays in pieces small enough to hold in your head.

Usage: sizes.py [--list] SRC_DIR... (e.g. master/src worker/src).

Product code is every .rs file under the given folders except test code: files named
tests.rs or testing.rs, files under a `tests/` folder, and `#[cfg(test)]` items. Limits:
- a function body spans at most 60 lines (from its `fn` line to its closing brace);
- a file has at most 500 lines, not counting its `#[cfg(test)]` items.

An exception carries its reason in the file, on one line:
- `// long fn: <reason>` on the line just above the function (or above its attributes);
- `//! long file: <reason>` anywhere in the file.
A marker without a reason does not count. Prints every piece over its limit and exits 1 if
there is one; --list also prints the granted exceptions.
"""

import re
import sys
from pathlib import Path

MAX_FN_LINES = 60
MAX_FILE_LINES = 500
FN = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:const\s+)?(?:async\s+)?(?:unsafe\s+)?(?:extern\s+\"[^\"]*\"\s+)?fn\s+([A-Za-z_][A-Za-z0-9_]*)")
LONG_FN = re.compile(r"^\s*// long fn: \S")
LONG_FILE = re.compile(r"^\s*//! long file: \S")


def is_test_file(path: Path) -> bool:
    return path.name in ("tests.rs", "testing.rs") or path.name.endswith("_tests.rs") or "tests" in path.parts[:-1]


def blank_strings_and_comments(text: str) -> str:
    """The text with string, char and comment contents replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:]) and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r"r(#*)\"", text[i:]).group(1)
            end = text.find('"' + hashes, i + 2 + len(hashes))
            end = n if end < 0 else end + 1 + len(hashes)
            out.append(re.sub(r"[^\n]", " ", text[i:end]))
            i = end
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append(re.sub(r"[^\n]", " ", text[i : j + 1]))
            i = j + 1
        elif c == "'":
            # A char literal ('a', '\n', '{'); a lifetime ('a) has no closing quote nearby.
            m = re.match(r"'(?:\\.[^']*|[^'\\])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def test_item_lines(code: str) -> set[int]:
    """Line numbers (0-based) inside `#[cfg(test)]` items."""
    lines = code.split("\n")
    inside: set[int] = set()
    for number, line in enumerate(lines):
        if "#[cfg(test)]" not in line:
            continue
        depth, opened = 0, False
        for k in range(number, len(lines)):
            inside.add(k)
            for ch in lines[k]:
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if (opened and depth == 0) or (not opened and lines[k].rstrip().endswith(";") and k > number):
                break
    return inside


def check(path: Path) -> tuple[list[str], list[str]]:
    text = path.read_text()
    raw = text.split("\n")
    code = blank_strings_and_comments(text)
    lines = code.split("\n")
    tests = test_item_lines(code)
    problems, granted = [], []

    # split() leaves an empty last item after a final newline: it is not a line.
    size = len(raw) - (1 if text.endswith("\n") else 0) - len(tests)
    if size > MAX_FILE_LINES:
        if any(LONG_FILE.match(line) for line in raw):
            granted.append(f"{path}: {size} lines (file reason given)")
        else:
            problems.append(f"{path}: {size} lines (limit {MAX_FILE_LINES})")

    for number, line in enumerate(lines):
        m = FN.match(line)
        if not m or number in tests:
            continue
        # The body opens at the first `{` at depth 0 after the signature; `;` first means no body.
        depth, start, end = 0, None, None
        for k in range(number, len(lines)):
            for ch in lines[k]:
                if start is None and ch == ";" and depth == 0:
                    end = -1
                    break
                if ch in "([<" and start is None:
                    depth += 1 if ch != "<" else 0
                elif ch in ")]" and start is None:
                    depth -= 1
                elif ch == "{":
                    if start is None and depth == 0:
                        start, depth = k, 1
                    else:
                        depth += 1
                elif ch == "}":
                    depth -= 1
                    if start is not None and depth == 0:
                        end = k
                        break
            if end is not None:
                break
        if end is None or end < 0:
            continue
        length = end - number + 1
        if length <= MAX_FN_LINES:
            continue
        above = number - 1
        while above >= 0 and raw[above].strip().startswith(("#[", "///")):
            above -= 1
        name = f"{path}:{number + 1}: fn {m.group(1)}: {length} lines"
        if above >= 0 and LONG_FN.match(raw[above]):
            granted.append(f"{name} ({raw[above].strip()})")
        else:
            problems.append(f"{name} (limit {MAX_FN_LINES})")
    return problems, granted


def main(argv: list[str]) -> int:
    show = "--list" in argv
    roots = [Path(a) for a in argv if a != "--list"]
    if not roots:
        print(__doc__, file=sys.stderr)
        return 2
    problems, granted = [], []
    for root in roots:
        for path in sorted(root.rglob("*.rs")):
            if is_test_file(path.relative_to(root)):
                continue
            p, g = check(path)
            problems += p
            granted += g
    if show:
        for line in granted:
            print("granted:", line)
    for line in problems:
        print(line)
    print(f"sizes: {len(problems)} over the limits, {len(granted)} with a reason, in {', '.join(map(str, roots))}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
