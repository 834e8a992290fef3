"""No import cycles inside archcalc: every import of an archcalc module, at module level or
inside a function, read with ``ast``, forms a graph without cycles."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "archcalc"


def _modules() -> dict:
    """Dotted module name → its file (a package is its __init__)."""
    out = {}
    for f in PACKAGE.rglob("*.py"):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _imports(name: str, path: Path, modules: dict) -> set:
    """The archcalc modules that ``name`` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    package = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            target = ".".join(base + ([node.module] if node.module else []))
            names = [a.name for a in node.names]
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            found.update(subs)  # from . import x: the module x when x is one
            if target in modules and len(subs) < len(names):
                found.add(target)  # a name defined in the module (or package) itself
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
    found.discard(name)
    return found


def _cycles(graph: dict) -> list:
    """Every strongly connected component of more than one module (Tarjan), sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(tuple(sorted(comp)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def _package_imports_are_not_dependencies(graph: dict) -> dict:
    """A package's __init__ runs before any of its members, whatever they import: an edge
    from a member to its own enclosing package adds nothing, and is dropped."""
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in graph.items()}


def test_the_import_graph_is_read():
    modules = _modules()
    graph = {m: _imports(m, f, modules) for m, f in modules.items()}
    assert "archcalc.spec.conditions" in graph["archcalc.analysis"] or \
        "archcalc.dims" in graph["archcalc.analysis"]
    assert "archcalc.report.values" in graph["archcalc.report.explain"]


def test_no_import_cycles():
    modules = _modules()
    graph = _package_imports_are_not_dependencies(
        {m: _imports(m, f, modules) for m, f in modules.items()})
    cycles = _cycles(graph)
    assert not cycles, "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)
