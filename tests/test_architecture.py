"""The package's import structure: no circles, and no floor imports from a floor above it.

Every module of `kerasaudio/` is parsed with `ast` (nothing is imported or run) and every
import statement is an edge, wherever it is: at module level, inside a function, under
`if TYPE_CHECKING:`, `import x`, `from x import y` (an edge to the submodule `x.y` when it
is one, else to `x`), relative imports, and `importlib.import_module("literal")`. A
package's `__init__` is a node of its own; importing `a.b.c` does not count as importing
`a` and `a.b` (Python runs their `__init__`s first, but they must then not import back).

The floors, from docs/design.md ("Weights, presets and the composition layer") and the
README's architecture section:

```
floor 5  cli
floor 4  hub, ensemble, export, embeddings, vad, training (and export's helpers)
floor 3  models
floor 2  layers, data, datasets, weights, runtime
floor 1  audio_io, filters, errors, metrics, losses, info, _version
```

The package root (`kerasaudio/__init__.py`, which gathers the public names from hub,
layers and models) is on the top floor with the CLI: only the CLI may import it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kerasaudio"
ROOT = "kerasaudio"

#: Top-level part of the package -> floor; a package's modules share its floor (every
#: module of audio_io/ is on floor 1, of data/ on floor 2). Names listed here but absent
#: from the tree (modules that other changes add or remove) cost nothing; a part missing
#: from this table fails `test_every_module_has_a_floor`.
FLOORS = {
    "_version": 1, "audio_io": 1, "filters": 1, "errors": 1, "metrics": 1, "losses": 1,
    "info": 1,
    "layers": 2, "data": 2, "datasets": 2, "weights": 2, "runtime": 2,
    "models": 3,
    "hub": 4, "presets": 4, "ensemble": 4, "export": 4, "embeddings": 4, "vad": 4,
    "training": 4, "equalization": 4, "tflite_graph": 4, "tflite_metadata": 4,
    "cli": 5, "_registration": 5, "__main__": 5,
}
ROOT_FLOOR = 5
#: The low floors, and what they must never import.
LOW = ("audio_io", "filters", "errors", "metrics", "losses", "layers", "data", "datasets",
       "weights", "runtime")
HIGH = ("models", "hub", "presets", "ensemble", "export", "training", "embeddings", "vad",
        "cli")
#: What the model registry and families must never import.
ABOVE_MODELS = ("hub", "presets", "ensemble", "export", "training", "cli")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def discover() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def resolve(name: str, modules: dict) -> str | None:
    """The module `name` refers to (its longest existing prefix), or None outside the
    package."""
    if name != ROOT and not name.startswith(ROOT + "."):
        return None
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def imports_of(name: str, path: Path, modules: dict) -> set[tuple[str, int]]:
    """`(imported module, line)` for every kerasaudio import in a module's source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()

    def add(target: str | None, node: ast.AST) -> None:
        if target is not None and target != name:
            found.add((target, node.lineno))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(resolve(alias.name, modules), node)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                add(resolve(submodule if submodule in modules else source, modules), node)
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and ((isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
                   or (isinstance(node.func, ast.Name) and node.func.id == "import_module"))):
            add(resolve(node.args[0].value, modules), node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, dict[str, int]]:
    """module -> {imported module: first line importing it}."""
    modules = discover()
    edges = {}
    for name, path in modules.items():
        targets: dict[str, int] = {}
        for target, line in sorted(imports_of(name, path, modules)):
            targets.setdefault(target, line)
        edges[name] = targets
    return edges


def part(name: str) -> str | None:
    """The top-level part of the package a module belongs to (None: the root)."""
    return name.split(".")[1] if "." in name else None


def floor(name: str) -> int:
    top = part(name)
    return ROOT_FLOOR if top is None else FLOORS[top]


def where(graph, source: str, target: str) -> str:
    path = discover()[source].relative_to(PACKAGE.parent)
    return f"{source} -> {target} ({path}:{graph[source][target]})"


def find_cycles(graph: dict[str, dict[str, int]]) -> list[tuple[list[str], list[str]]]:
    """Every strongly connected component of more than one module (Tarjan): a shortest
    concrete circle through its first module, and all its modules."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(set(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    cycles = []
    for component in components:  # a shortest circle from the component's first module
        start = min(component)
        paths = {start: [start]}
        queue = [start]
        circle = None
        while queue and circle is None:
            node = queue.pop(0)
            for nxt in sorted(graph[node]):
                if nxt == start:
                    circle = [*paths[node], start]
                    break
                if nxt in component and nxt not in paths:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        cycles.append((circle, sorted(component)))
    return cycles


def test_the_walker_sees_every_kind_of_import(tmp_path):
    """The parser finds function-level, relative, aliased and importlib imports."""
    modules = {"kerasaudio": None, "kerasaudio.a": None, "kerasaudio.pkg": None,
               "kerasaudio.pkg.b": None, "kerasaudio.pkg.c": None, "kerasaudio.d": None}
    source = tmp_path / "b.py"
    source.write_text(
        "import os\n"
        "from . import c\n"
        "from .. import a\n"
        "def f():\n"
        "    import kerasaudio.d as d\n"
        "    from kerasaudio import __version__\n"
        "    return importlib.import_module('kerasaudio.pkg')\n")
    found = {target for target, _ in imports_of("kerasaudio.pkg.b", source, modules)}
    assert found == {"kerasaudio.pkg.c", "kerasaudio.a", "kerasaudio.d", "kerasaudio",
                     "kerasaudio.pkg"}
    circle = {"x": {"y": 1}, "y": {"z": 1}, "z": {"x": 1}, "w": {"x": 1}}
    assert find_cycles(circle) == [(["x", "y", "z", "x"], ["x", "y", "z"])]


def test_every_module_has_a_floor(graph):
    missing = sorted({part(name) for name in graph if part(name) is not None}
                     - set(FLOORS))
    assert not missing, f"add these parts of kerasaudio/ to FLOORS: {missing}"


def test_no_import_circles(graph):
    cycles = find_cycles(graph)
    lines = [f"{' -> '.join(circle)}  (the circle's component: {', '.join(component)})"
             for circle, component in cycles]
    assert not cycles, "import circles (module- or function-level):\n" + "\n".join(lines)


def test_low_floors_import_nothing_above_them(graph):
    bad = [where(graph, source, target) for source, targets in sorted(graph.items())
           for target in targets
           if part(source) in LOW and (part(target) in HIGH or part(target) is None)]
    assert not bad, "low floors importing models/hub/ensembles/export/cli:\n" + "\n".join(bad)


def test_models_import_no_composition_layer(graph):
    bad = [where(graph, source, target) for source, targets in sorted(graph.items())
           for target in targets
           if part(source) == "models"
           and (part(target) in ABOVE_MODELS or part(target) is None)]
    assert not bad, "kerasaudio.models importing what composes it:\n" + "\n".join(bad)


def test_no_module_imports_a_floor_above_its_own(graph):
    bad = [f"{where(graph, source, target)}: floor {floor(source)} -> {floor(target)}"
           for source, targets in sorted(graph.items()) for target in targets
           if floor(target) > floor(source)]
    assert not bad, "imports from a higher floor:\n" + "\n".join(bad)
