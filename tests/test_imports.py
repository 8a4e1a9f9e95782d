"""The package's import graph (issue #19): no import cycle, and the science library imports
nothing above it.

The graph is read from the source (``ast``), not by importing: an edge is any import of a
``replication`` module anywhere in a file (a function's deferred import is still a dependency)
and any ``"replication.x.y:name"`` string (a :class:`~replication.registry.Registry` entry,
imported lazily). ``from package import name`` is an edge to ``package.name`` when that is a
module, else to ``package``.
"""
from __future__ import annotations

import ast
import re
from collections import deque
from functools import cache

from replication.fingerprint import PACKAGE, PACKAGE_DIR, module_path

REGISTRY_ENTRY = re.compile(rf"({PACKAGE}(?:\.\w+)+):\w+")
# The science library, and the layers above it that it must never import.
SCIENCE = ("data", "models", "flows", "vae", "ode", "train", "measure")
ABOVE = ("experiments", "cli", "claims", "report", "regress", "collect", "plots", "estimate",
         "staleness", "config")


def _is_module(name: str) -> bool:
    try:
        module_path(name)
    except (ModuleNotFoundError, ValueError):
        return False
    return True


def _modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts)
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def _imports(module: str) -> set[str]:
    """The package modules *module* imports (see the module docstring for what counts)."""
    path = module_path(module)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            entry = REGISTRY_ENTRY.fullmatch(node.value)
            if entry:
                found.add(entry.group(1))
    return {name for name in found if _is_module(name)} - {module}


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {module: frozenset(_imports(module)) for module in _modules()}


def _strongly_connected(graph: dict[str, frozenset[str]]) -> list[set[str]]:
    """Tarjan's components with more than one module (a module never imports itself here)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(component)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(graph: dict[str, frozenset[str]], start: str, within: set[str]) -> list[str]:
    previous: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target in sorted(graph[node] & within):
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(previous[path[-1]])
                return [*reversed(path), start]
            if target not in previous:
                previous[target] = node
                queue.append(target)
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def import_cycles() -> list[list[str]]:
    """Each module's shortest cycle in every strongly connected component, as module names
    from its alphabetically first module back to it, without repeats."""
    graph = _graph()
    cycles = set()
    for component in _strongly_connected(graph):
        for module in component:
            cycle = _shortest_cycle(graph, module, component)[:-1]
            first = cycle.index(min(cycle))
            rotated = cycle[first:] + cycle[:first]
            cycles.add((*rotated, rotated[0]))
    return sorted(map(list, cycles))


def test_the_import_graph_sees_deferred_imports_and_registry_entries():
    graph = _graph()
    assert "replication.experiments.registry" in graph["replication.cli"]  # inside build_parser
    assert "replication.models.odenet" in graph["replication.models"]  # a Registry entry
    assert "replication.report.captions" in graph["replication.report.build"]
    assert len(graph) > 100 and "replication" in graph


def test_the_package_has_no_import_cycle():
    cycles = import_cycles()
    assert cycles == [], f"import cycles: {cycles}"


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_the_science_library_imports_nothing_above_it():
    """replication.{data,models,...} import each other, or a top-level helper module that
    itself imports nothing of the package (replication.registry); never a layer above them."""
    graph = _graph()

    def allowed(target: str) -> bool:
        layer = _layer(target)
        if layer in SCIENCE:
            return True
        top_level_file = target.count(".") == 1 and module_path(target).name != "__init__.py"
        return (target == PACKAGE or top_level_file) and layer not in ABOVE and not graph[target]

    violations = sorted(f"{module} -> {target}" for module, targets in graph.items()
                        if _layer(module) in SCIENCE for target in targets if not allowed(target))
    assert violations == [], f"the science library imports layers above it: {violations}"


def test_every_layer_named_here_exists():
    for layer in SCIENCE + ABOVE:
        assert _is_module(f"{PACKAGE}.{layer}"), f"{PACKAGE}.{layer} is gone: update this test"


def test_the_package_imports_no_test_code():
    """Test helpers (tests/support/, e.g. the browser driver) stay out of the installed package."""
    found = []
    for module in _modules():
        path = module_path(module)
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{module} -> {name}" for name in names
                      if name.split(".")[0] in ("tests", "conftest")]
    assert found == [], f"the package imports test code: {found}"
