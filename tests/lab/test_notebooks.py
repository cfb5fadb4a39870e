"""The template notebooks are stored clean and run top to bottom with nbclient."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

TEMPLATES = Path(__file__).resolve().parents[2] / "notebooks" / "templates"
NOTEBOOKS = sorted(TEMPLATES.glob("*.ipynb"))


def test_there_is_a_template() -> None:
    assert NOTEBOOKS, f"no template notebook in {TEMPLATES}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template_is_stored_clean_with_tagged_parameters(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert sum("parameters" in c.metadata.get("tags", []) for c in code) == 1
    assert nb.metadata["workbench"]["title"]


def _inject(nb: nbformat.NotebookNode, **params: object) -> None:
    """What papermill does: a cell after the tagged one that overrides the parameters."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in params.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected"]}))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_template_executes(path: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    _inject(nb, out_dir="case-out", demo_shipments=20_000, radius_m=250.0)
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    views = [
        o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
        for c in nb.cells
        for o in c.get("outputs", [])
        if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert views, "the explorer cell shows no widget"
    # nbclient saves the widget state, so the reopened notebook shows the last map
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    frames = [m for m in state.values() if m["model_name"] == "MapFrameModel"]
    assert len(frames) == 1 and "window.workbenchMap" in frames[0]["state"]["html"]
    assert "S001" in frames[0]["state"]["html"]
    images = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, "the network view shows no picture"
    reports = list((tmp_path / "case-out" / "tipsheets").glob("*/report.html"))
    assert len(reports) == 1
    assert "250.0" in reports[0].read_text(encoding="utf-8")  # the injected radius was used
