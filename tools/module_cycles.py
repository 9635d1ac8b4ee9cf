"""No import cycles between the modules of a crate: a layer never imports from the layer above.

For each crate of the workspace, every `crate::a::b` and `super::x` path in a module's code
(its tests left out) is an edge from that module to the one named. Modules are compared with
their siblings (`pipeline` with `mqtt`, `head/train` with `head/pixels`); a cycle among
siblings is printed, and the exit code is 1.

Usage:  python3 tools/module_cycles.py   (from the repository root; tools/test.sh runs it)
"""

import re
import sys
from pathlib import Path

CRATES = ["daemon/src", "backbone/src", "heads/src", "config/src", "calibration/src", "sim/src"]
PATH = re.compile(r"\b(crate|super)::([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?")


def module_of(root: Path, file: Path) -> tuple[str, ...]:
    """`pipeline/worker.rs` → ("pipeline", "worker"); `pipeline/mod.rs` → ("pipeline",)."""
    parts = file.relative_to(root).with_suffix("").parts
    return parts[:-1] if parts[-1] in ("mod", "lib", "main") else parts


def edges(root: Path) -> set[tuple[tuple[str, ...], tuple[str, ...]]]:
    found = set()
    for file in root.rglob("*.rs"):
        module = module_of(root, file)
        code = file.read_text().split("#[cfg(test)]")[0]
        for kind, first, second in PATH.findall(code):
            base = () if kind == "crate" else module[:-1]
            target = base + (first,) + ((second,) if second else ())
            found.add((module, target))
    return found


def sibling_graph(found, depth: int) -> dict[tuple[str, ...], set[tuple[str, ...]]]:
    """Edges between modules `depth` deep that share a parent."""
    graph: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
    for a, b in found:
        a, b = a[:depth], b[:depth]
        if len(a) == len(b) == depth and a != b and a[:-1] == b[:-1]:
            graph.setdefault(a, set()).add(b)
    return graph


def cycles(graph) -> set[tuple[str, ...]]:
    out = set()

    def walk(node, path):
        for nxt in graph.get(node, ()):
            if nxt in path:
                loop = path[path.index(nxt):]
                start = loop.index(min(loop))
                out.add(tuple("/".join(m) for m in loop[start:] + loop[:start]))
            else:
                walk(nxt, path + [nxt])

    for node in graph:
        walk(node, [node])
    return out


def main() -> int:
    bad = 0
    for crate in CRATES:
        found = edges(Path(crate))
        deepest = max((len(m) for edge in found for m in edge), default=1)
        for depth in range(1, deepest + 1):
            for loop in sorted(cycles(sibling_graph(found, depth))):
                print(f"{crate}: import cycle: {' -> '.join(loop + (loop[0],))}", file=sys.stderr)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
