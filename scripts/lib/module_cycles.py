#!/usr/bin/env python3
"""Fails on an import cycle between the modules of one crate.

For every crate of the workspace, each top-level module (`src/x.rs` or `src/x/mod.rs`, its
child modules counted as part of it) is a node, and so is the crate root (`lib.rs` or
`main.rs`, for the items it defines itself). A module depends on `y` when it names
`crate::y` (or `super::y` from a top-level module); a name the root re-exports
(`pub use y::Thing`) counts as a dependency on `y`, any other root item on the root. The
root's items depend on the modules they name (`use y::…`, `y::Thing`, a re-exported name);
its re-exports themselves are not edges. Comments, string and char
literals, and test modules (`#[cfg(test)] mod …`) are left out first: a test may reach across
the crate.

A cycle means two modules that cannot be read, tested or moved apart; the records, ports and
rules of a kernel must not depend on the use cases built on them. Usage: module_cycles.py
[REPO]; exit 1 and the cycles on stderr if any.
"""

import re
import sys
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CFG_TEST = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+\w+\s*\{")


def strip_code(text):
    """The text with comments, string, raw-string and char literals blanked out."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        elif re.match(r'b?r#*"', text[i:i + 10]) and (i == 0 or not text[i - 1].isalnum()):
            m = re.match(r'b?r(#*)"', text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            out.append('""')
            i = n if j < 0 else j + len(close)
        elif c == '"':
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            out.append('""')
            i += 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])+'", text[i:i + 12]):
            # A char literal ('a', '\n', '\u{..}'); a lifetime ('a) has no closing quote.
            m = re.match(r"'(\\[^']*|[^\\'])'", text[i:])
            if m:
                out.append("' '")
                i += m.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


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


def group_after(text, at):
    """The `{ … }` group starting at `at` (brace-matched), or the identifier there."""
    if text[at:at + 1] != "{":
        m = re.match(IDENT, text[at:])
        return m.group(0) if m else ""
    depth, i = 0, at
    while i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
        if depth == 0:
            break
    return text[at:i]


def top_names(group):
    """`{a, b::{c, d}, e as f}` -> ["a", "b", "e"]; `x` -> ["x"]."""
    if not group.startswith("{"):
        return [group] if group else []
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


def references(text, prefix):
    """Every first name after `prefix::` (e.g. `crate`), groups expanded."""
    found = []
    for m in re.finditer(r"\b" + prefix + r"::", text):
        found.extend(top_names(group_after(text, m.end())))
    return found


def crate_graph(src):
    """{module: set(dependencies)} for one crate's src directory."""
    roots = [p for p in (src / "lib.rs", src / "main.rs") if p.exists()]
    if not roots:
        return {}
    modules = {}
    for path in src.rglob("*.rs"):
        if path in roots:
            continue
        top = path.relative_to(src).parts[0]
        modules.setdefault(top[:-3] if top.endswith(".rs") else top, []).append(path)
    clean = {p: strip_tests(strip_code(p.read_text())) for ps in modules.values() for p in ps}
    clean.update({p: strip_tests(strip_code(p.read_text())) for p in roots})
    # What the root re-exports: `pub use module::{A, B}` makes `crate::A` a use of `module`.
    exported = {}
    for root in roots:
        for m in re.finditer(r"\bpub\s+use\s+(" + IDENT + r")::", clean[root]):
            if m.group(1) in modules:
                rest = group_after(clean[root], m.end())
                for name in top_names(rest) if rest.startswith("{") else [rest]:
                    exported[name] = m.group(1)

    def resolve(name):
        if name in ("self", "super", "crate"):
            return None
        return name if name in modules else exported.get(name, "(root)")

    graph = {}
    for name, paths in modules.items():
        deps = set()
        for path in paths:
            text = clean[path]
            targets = references(text, "crate")
            if path.parent == src:  # `super::` of a top-level module is the crate root
                targets += references(text, "super")
            deps.update(t for t in map(resolve, targets) if t)
        deps.discard(name)
        graph[name] = deps
    # The root's own items: a re-export (`pub use y::…;`) is not one of them, but a name it
    # re-exports and then uses (a struct field of type `y::Thing`) is a use of `y`.
    root_deps = set()
    for root in roots:
        text = re.sub(r"\bpub\s+use\s+[^;]*;", "", clean[root])
        for module in modules:
            if re.search(r"(?<![:\w])" + re.escape(module) + r"::", text):
                root_deps.add(module)
        for name, module in exported.items():
            if re.search(r"\b" + re.escape(name) + r"\b", text):
                root_deps.add(module)
    graph["(root)"] = root_deps
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
    crates = sorted(
        p.parent
        for p in repo.glob("*/**/Cargo.toml")
        if not {"target", "node_modules"} & set(p.parts)
        and not any(part.startswith(".") for part in p.relative_to(repo).parts)
    )
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
    print(f"module cycles: none in {len(crates)} crates ({modules} modules and roots)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
