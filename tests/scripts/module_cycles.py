#!/usr/bin/env python3
"""Checks that the modules of a crate import each other without a cycle.

Usage: module_cycles.py [--relative] SRC_DIR... (e.g. master/src worker/src). In every module
file (tests excluded) a path is an edge to the file of the longest module prefix that exists:
`crate::a::b`, and with --relative also `super::x` (the parent's `x`; `super::super::` goes
further up), `self::x`, and a path that starts with a child module's name
(`session::next_command` in coordinator.rs). An edge from a module to itself is ignored;
with --relative one to a child or a parent counts like any other, so a parent and a child
that use each other's items are a cycle (without it, edges to descendants are ignored).
Modules must not use items of the crate root (lib.rs only declares and wires them). Prints
every cycle found (two files importing each other is the shortest) and exits 1 if there is
one, in any of the crates.
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


RELATIVE = re.compile(
    r"(?<![A-Za-z0-9_:])((?:super::)+|self::)((?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)(?:::(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*))*)"
)


def child_paths(text: str, children: list[str]) -> list[str]:
    """Paths that start with a child module's name: `session::next_command`."""
    if not children:
        return []
    pattern = re.compile(
        r"(?<![A-Za-z0-9_:])(" + "|".join(map(re.escape, children)) + r")::((?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)(?:::(?:\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*))*)"
    )
    return [m.group(1) + "::" + m.group(2) for m in pattern.finditer(text)]


def edges(src: Path, relative: bool) -> tuple[dict[str, set[str]], list[str]]:
    files = [f for f in src.rglob("*.rs") if f.name != "tests.rs" and "tests" not in f.parts]
    modules = {module_of(src, f): f for f in files}
    graph: dict[str, set[str]] = {m: set() for m in modules if m}
    problems = []

    def target_of(parts: list[str]) -> str:
        return next(
            ("::".join(parts[:n]) for n in range(len(parts), 0, -1) if "::".join(parts[:n]) in modules),
            "",
        )

    for module, file in modules.items():
        if not module:
            continue
        text = code_without_comments_and_tests(file.read_text())
        own = module.split("::")
        absolute = []
        for found in PATH.finditer(text):
            absolute.extend(expand(found.group(1)))
        for found in RELATIVE.finditer(text) if relative else ():
            ups = found.group(1).count("super::")
            # `self::` and `super::` in a file are relative to its module (a file module's
            # `self` is itself; `super` its parent).
            base = own[: len(own) - ups] if ups else own
            for path in expand(found.group(2)):
                absolute.append("::".join(base + [path]) if base else path)
        children = sorted({m.split("::")[len(own)] for m in modules if m.startswith(module + "::")})
        for path in child_paths(text, children) if relative else ():
            for item in expand(path):
                absolute.append(module + "::" + item)
        for path in absolute:
            parts = [p for p in path.split("::") if p and p != "self"]
            target = target_of(parts)
            if not target:
                problems.append(f"{file}: uses crate::{path} from the crate root")
            elif target != module and (relative or not target.startswith(module + "::")):
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
    args = sys.argv[1:]
    relative = "--relative" in args
    sources = [a for a in args if a != "--relative"]
    if not sources:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for src in sources:
        graph, problems = edges(Path(src), relative)
        loops = cycles(graph)
        for problem in problems:
            print(problem)
        for loop in loops:
            print("cycle: " + " -> ".join(loop + [loop[0]]))
        edge_count = sum(len(t) for t in graph.values())
        print(f"{src}: {len(graph)} modules, {edge_count} imports, {len(loops)} cycles")
        failed |= bool(loops or problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
