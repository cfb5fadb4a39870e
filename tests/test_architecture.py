"""The house: subpackages by subject, imports one way down, no circles.

The rules are read from the code itself: every ``import`` (at module level or inside a
function, where the lazy ones live) is attributed to its *unit*, a subpackage (``intake``,
``case``, ...) or a top-level module (``coords``, ``investigation``, ...).

Layers, lowest first (a unit may import from its own layer and the ones below)::

    shared ground   errors, schema, arrays, coords, gazetteer, geocode, progress, ahead
    core            intake, networks, sites, demo
    case            case, team
    views           export, maps
    screen          explorer
    entry points    opening, investigation, lab, cli
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
LAYERS = [
    {"errors", "schema", "arrays", "coords", "gazetteer", "geocode", "progress", "ahead"},
    {"intake", "networks", "sites", "demo"},
    {"case", "team"},
    {"export", "maps"},
    {"explorer"},
    {"opening", "investigation", "lab", "cli", "__main__"},
]
LAYER_OF = {unit: i for i, layer in enumerate(LAYERS) for unit in layer}
UI = {"ipywidgets", "IPython", "jupyter_server", "traitlets", "tornado"}


def _unit(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def _imports(path: Path) -> set[str]:
    """Dotted names imported by a module, lazy imports included (relative ones resolved)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts)


def _graph() -> dict[str, dict[str, set[str]]]:
    """unit -> unit it imports -> the modules that do it (the package's lazy face excluded)."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in _modules():
        if path == PACKAGE / "__init__.py":
            continue
        source = _unit(path)
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "workbench" or len(parts) < 2:
                continue
            target = parts[1]  # a unit, or a name of the package face (__version__)
            is_unit = (PACKAGE / target).is_dir() or (PACKAGE / f"{target}.py").exists()
            if is_unit and target != source:
                graph[source][target].add(str(path.relative_to(PACKAGE)))
    return graph


def test_every_unit_has_a_layer() -> None:
    units = {_unit(p) for p in _modules()} - {"__init__"}
    assert units <= set(LAYER_OF), sorted(units - set(LAYER_OF))


def test_imports_run_one_way_down() -> None:
    upward = [
        f"{who} imports workbench.{target} ({source} -> {target})"
        for source, targets in _graph().items()
        for target, modules in targets.items()
        for who in sorted(modules)
        if LAYER_OF[target] > LAYER_OF[source]
    ]
    assert upward == []


def test_no_import_circle_between_units() -> None:
    graph = _graph()

    def reaches(start: str, goal: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            unit = todo.pop()
            if unit == goal:
                return True
            if unit not in seen:
                seen.add(unit)
                todo.extend(graph.get(unit, {}))
        return False

    circles = sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if reaches(b, a))
    assert circles == []


@pytest.mark.parametrize("unit", sorted(LAYER_OF))
def test_nothing_below_the_explorer_touches_the_notebook_ui(unit: str) -> None:
    if LAYER_OF[unit] >= LAYER_OF["explorer"]:
        pytest.skip("the explorer and the entry points are the UI")
    paths = [PACKAGE / f"{unit}.py"] if (PACKAGE / f"{unit}.py").exists() else []
    paths += sorted((PACKAGE / unit).rglob("*.py")) if (PACKAGE / unit).is_dir() else []
    assert paths, unit
    for path in paths:
        roots = {name.split(".")[0] for name in _imports(path)}
        assert not roots & UI, f"{path.relative_to(PACKAGE)} imports {sorted(roots & UI)}"


def test_the_core_never_imports_the_case_or_what_is_above_it() -> None:
    core = LAYERS[1]
    reaching = {
        f"{source} -> {target}"
        for source, targets in _graph().items()
        if source in core
        for target in targets
        if LAYER_OF[target] >= LAYER_OF["case"]
    }
    assert reaching == set()


def test_import_workbench_is_cheap() -> None:
    # the Jupyter server imports the package to find its extension: no geopandas, no folium
    code = (
        "import sys, workbench, workbench.lab; print(sorted(m for m in ('geopandas', 'folium', "
        "'sklearn', 'pandas') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    import workbench

    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_all_lists_exactly_the_lazy_public_names() -> None:
    import workbench

    assert set(workbench.__all__) - {"__version__"} == set(workbench._PUBLIC)


def test_public_names_come_from_their_subpackage() -> None:
    import importlib

    import workbench

    for name, module in workbench._PUBLIC.items():
        unit = module.split(".")[1]
        assert unit in LAYER_OF, module
        assert getattr(importlib.import_module(module), name) is getattr(workbench, name)
