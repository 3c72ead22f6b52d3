#!/usr/bin/env python3
"""Checks that the modules of a crate import each other without a cycle.

Usage: module_cycles.py SRC_DIR (e.g. master/src). Every `crate::a::b` path in a module file
(tests excluded) is an edge to the file of the longest module prefix that exists. Modules
must not use items of the crate root (lib.rs only declares and wires them). Prints every
cycle found (two files importing each other is the shortest) and exits 1 if there is one.
"""

import re
import sys
from pathlib import Path

PATH = re.compile(r"\bcrate::((?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)(?:::(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*))*)")


def module_of(src: Path, file: Path) -> str:
    """`report::html` for src/report/html.rs, `report` for src/report/mod.rs, `` for lib.rs."""
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts.pop()
    return "::".join(parts)


def expand(path: str) -> list[str]:
    """`a::{b, c::d}` -> [`a::b`, `a::c::d`] (one level of braces, what rustfmt writes)."""
    match = re.match(r"(.*?)\{([^}]*)\}", path, re.S)
    if not match:
        return [path]
    prefix = match.group(1)
    return [prefix + item.strip() for item in match.group(2).split(",") if item.strip()]


def code_without_comments_and_tests(text: str) -> str:
    text = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", text, flags=re.S)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def edges(src: Path) -> tuple[dict[str, set[str]], list[str]]:
    files = [f for f in src.rglob("*.rs") if f.name != "tests.rs" and "tests" not in f.parts]
    modules = {module_of(src, f): f for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules if m}
    problems = []
    for module, file in modules.items():
        if not module:
            continue
        text = code_without_comments_and_tests(file.read_text())
        for found in PATH.finditer(text):
            for path in expand(found.group(1)):
                parts = [p for p in path.split("::") if p and p != "self"]
                target = next(
                    ("::".join(parts[:n]) for n in range(len(parts), 0, -1) if "::".join(parts[:n]) in modules),
                    "",
                )
                if not target:
                    problems.append(f"{file}: uses crate::{path} from the crate root")
                elif target != module and not target.startswith(module + "::"):
                    graph[module].add(target)
    return graph, problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle's smallest rotation, found by depth-first search."""
    found = set()
    def walk(start: str, node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                found.add(tuple(path))
            elif nxt not in path and nxt > start:
                walk(start, nxt, path + [nxt])
    for start in sorted(graph):
        walk(start, start, [start])
    return [list(c) for c in sorted(found, key=lambda c: (len(c), c))]


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    graph, problems = edges(Path(sys.argv[1]))
    loops = cycles(graph)
    for problem in problems:
        print(problem)
    for loop in loops:
        print("cycle: " + " -> ".join(loop + [loop[0]]))
    edge_count = sum(len(t) for t in graph.values())
    print(f"{sys.argv[1]}: {len(graph)} modules, {edge_count} imports, {len(loops)} cycles")
    return 1 if loops or problems else 0


if __name__ == "__main__":
    sys.exit(main())
