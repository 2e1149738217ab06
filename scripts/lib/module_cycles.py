#!/usr/bin/env python3
"""Fails on an import cycle between the modules of one crate.

For every crate of the workspace, each top-level module (`src/x.rs` or `src/x/mod.rs`, its
child modules counted as part of it) is a node, and so is the crate root (`lib.rs` or
`main.rs`, for the items it defines itself). A module that names `crate::y` depends on `y`
(or on the root, if `y` is an item the root defines). Test modules (`#[cfg(test)] mod ...`)
are left out: a test may reach across the crate.

A cycle means two modules that cannot be read, tested or moved apart; the records, ports and
rules of a kernel must not depend on the use cases built on them. Usage: module_cycles.py
[REPO]; exit 1 and the cycles on stderr if any.
"""

import re
import sys
from pathlib import Path

CRATE_REF = re.compile(r"\bcrate::(\{[^;]*?\}|[A-Za-z_][A-Za-z0-9_]*)", re.S)
CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")
LINE_COMMENT = re.compile(r"//[^\n]*")


def strip_tests(text):
    """The text without `#[cfg(test)] mod name { ... }` blocks (brace-matched)."""
    out, at = [], 0
    for m in CFG_TEST.finditer(text):
        if m.start() < at:
            continue
        out.append(text[at:m.start()])
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        at = i
    out.append(text[at:])
    return "".join(out)


def top_names(group):
    """`{a, b::c, d as e}` -> ["a", "b", "d"]; `x` -> ["x"]."""
    if not group.startswith("{"):
        return [group]
    names, depth, current = [], 0, ""
    for ch in group[1:-1]:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            names.append(current)
            current = ""
        else:
            current += ch
    names.append(current)
    return [re.split(r"::|\s", n.strip())[0] for n in names if n.strip()]


def crate_graph(src):
    """{module: set(dependencies)} for one crate's src directory."""
    roots = [p for p in (src / "lib.rs", src / "main.rs") if p.exists()]
    if not roots:
        return {}
    modules = {}
    for path in src.rglob("*.rs"):
        if path in roots:
            continue
        relative = path.relative_to(src)
        top = relative.parts[0]
        modules.setdefault(top[:-3] if top.endswith(".rs") else top, []).append(path)
    graph = {}
    for name, paths in list(modules.items()) + [("(root)", roots)]:
        deps = set()
        for path in paths:
            text = LINE_COMMENT.sub("", strip_tests(path.read_text()))
            for m in CRATE_REF.finditer(text):
                for target in top_names(m.group(1)):
                    if target in ("self", "super"):
                        continue
                    deps.add(target if target in modules else "(root)")
        deps.discard(name)
        graph[name] = deps
    return graph


def cycles(graph):
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def main():
    repo = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    crates = sorted(p.parent for p in repo.glob("*/**/Cargo.toml") if "target" not in p.parts
                    and "node_modules" not in p.parts and not any(part.startswith(".") for part in p.parts))
    problems, modules = [], 0
    for crate in crates:
        graph = crate_graph(crate / "src")
        modules += len(graph)
        for component in cycles(graph):
            detail = ", ".join(f"{m} -> {sorted(graph[m] & set(component))}" for m in component)
            problems.append(f"{crate.relative_to(repo)}: {detail}")
    if problems:
        print("import cycles between modules:", file=sys.stderr)
        for p in problems:
            print(f"  {p}", file=sys.stderr)
        return 1
    print(f"module cycles: none in {len(crates)} crates ({modules} modules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
