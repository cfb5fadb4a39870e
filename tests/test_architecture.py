"""Imports run one way: core -> views -> widgets -> notebooks and CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
CORE = [
    "errors", "intake", "_intake_rules", "networks", "sites", "_site_geometry", "gazetteer",
    "demo", "templates", "case", "audit", "_case_io", "_case_schema", "_case_sites", "_gpkg",
    "_case_staging", "_case_reader", "geocode", "coords", "_intake_read", "_intake_mapping",
    "_intake_coords", "_site_describe", "_density",
]  # fmt: skip
VIEW_ONLY = {"folium", "branca", "ipywidgets", "IPython", "jupyter_server", "tornado"}


def _imported_roots(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("name", CORE)
def test_core_does_not_import_views_or_widgets(name: str) -> None:
    path = PACKAGE / f"{name}.py"
    assert path.exists(), f"core module {name} is missing"
    assert not _imported_roots(path) & VIEW_ONLY


VIEWS = ["maps", "_mapdata", "_mapjs", "_mapindex", "_explorer_data", "_explorer_details"]


@pytest.mark.parametrize("name", VIEWS)
def test_views_do_not_import_widgets(name: str) -> None:
    # the explorer's logic (filters, selections, details) is testable without ipywidgets
    assert not _imported_roots(PACKAGE / f"{name}.py") & {"ipywidgets", "IPython", "traitlets"}


def test_core_modules_do_not_import_views() -> None:
    for name in CORE:
        source = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        assert "workbench.maps" not in source and "workbench.tipsheet" not in source, name


def test_import_workbench_is_cheap() -> None:
    # the Jupyter server imports the package to find its extension: no geopandas, no folium
    code = (
        "import sys, workbench; print(sorted(m for m in ('geopandas', 'folium', 'sklearn') "
        "if m in sys.modules))"
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
