"""The layering, checked from the source: kg -> gnn -> api, with the ``cartograph`` composition root on top.

Every import statement in the four packages is read from the syntax tree (module level and inside functions
alike: an import hidden in a function is still a dependency), resolved to a project module, and checked:

- a package imports only the layers below it (:data:`ALLOWED`); nothing imports ``cartograph``;
- the module graph has no cycle, between packages or inside one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("kg", "gnn", "api", "cartograph")
#: package -> the packages it may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "kg": frozenset(),
    "gnn": frozenset({"kg"}),
    "api": frozenset({"kg", "gnn"}),
    "cartograph": frozenset({"kg", "gnn", "api"}),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the four packages."""
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module that importing ``name`` loads last (``a.b.c`` -> ``a.b`` if ``c`` is an attribute)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> list[tuple[int, str]]:
    """(line, imported project module) for every import statement in the file, wherever it stands."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                found.append((node.lineno, target))
    return found


def import_graph() -> dict[str, list[tuple[int, str]]]:
    modules = project_modules()
    return {m: imports_of(m, p, modules) for m, p in modules.items()}


def upward_imports(graph: dict[str, list[tuple[int, str]]]) -> list[str]:
    bad = []
    for module, edges in graph.items():
        layer = module.split(".")[0]
        for line, target in edges:
            other = target.split(".")[0]
            if other != layer and other not in ALLOWED[layer]:
                bad.append(f"{module}:{line} imports {target}")
    return bad


def cycles(graph: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a circle of imports."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for _, w in graph.get(v, []):
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_every_package_and_function_local_imports() -> None:
    graph = import_graph()
    assert {m.split(".")[0] for m in graph} == set(PACKAGES)
    # A function-local import must count: cartograph's CLI imports domain code, some of it inside functions.
    assert any(t.startswith("api") for edges in graph.values() for _, t in edges)


def test_no_upward_imports() -> None:
    assert upward_imports(import_graph()) == []


def test_no_import_cycles() -> None:
    assert cycles(import_graph()) == []


def test_nothing_imports_the_composition_root() -> None:
    graph = import_graph()
    users = [f"{m}:{line}" for m, edges in graph.items() if not m.startswith("cartograph")
             for line, t in edges if t.startswith("cartograph")]
    assert users == []


@pytest.mark.parametrize("source, expected", [
    ("import gnn.data\n", ["kg.x imports gnn.data"]),
    ("def f():\n    from api import main\n", ["kg.x imports api.main"]),
    ("from kg import store\n", []),
])
def test_the_checker_catches_upward_imports(tmp_path: Path, source: str, expected: list[str]) -> None:
    modules = {"kg.x": tmp_path / "x.py", "kg.store": tmp_path / "s.py", "gnn.data": tmp_path / "d.py",
               "api.main": tmp_path / "m.py", "api": tmp_path / "a.py", "kg": tmp_path / "k.py"}
    modules["kg.x"].write_text(source)
    graph = {"kg.x": imports_of("kg.x", modules["kg.x"], modules)}
    assert [b.split(":")[0] + " " + b.split(" ", 1)[1] for b in upward_imports(graph)] == expected


def test_the_checker_finds_a_circle() -> None:
    graph = {"kg.a": [(1, "kg.b")], "kg.b": [(3, "kg.c")], "kg.c": [(2, "kg.a")], "kg.d": [(1, "kg.a")]}
    assert cycles(graph) == [["kg.a", "kg.b", "kg.c"]]
