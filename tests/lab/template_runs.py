"""Running a template notebook as a test does, and reading what it showed (shared by the
notebook tests of tests/lab; imported by name: pytest puts this folder on ``sys.path``).

>>> nb, seconds = run_template(TEMPLATES / "investigation.ipynb", tmp)  # doctest: +SKIP
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TEMPLATES = Path(__file__).resolve().parents[2] / "notebooks" / "templates"


def parameters_cell(path: Path) -> nbformat.NotebookNode:
    """The template's one cell tagged ``parameters``."""
    nb = nbformat.read(path, as_version=4)
    return next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))


def parameters(path: Path) -> tuple[list[str], dict[str, object]]:
    """The names the parameters cell assigns, in order, and their values. Papermill overrides
    them by name, so each line must be one assignment of a literal: anything else (a call, an
    import, a second statement) fails here."""
    cell = parameters_cell(path)
    lines = [line for line in cell.source.splitlines() if line and not line.startswith("#")]
    names = [line.split("=")[0].strip() for line in lines]
    namespace: dict[str, object] = {}
    exec(cell.source, {"__builtins__": {}}, namespace)  # literals need no builtins
    return names, namespace


def run_template(
    path: Path, folder: Path, **overrides: object
) -> tuple[nbformat.NotebookNode, float]:
    """Execute the template top to bottom in ``folder`` with nbclient, ``overrides``
    injected after its parameters as papermill does; fails on any error output. Returns
    the executed notebook and the seconds it took, kernel start included."""
    nb = nbformat.read(path, as_version=4)
    if overrides:
        index = next(
            i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])
        )
        source = "\n".join(f"{k} = {v!r}" for k, v in overrides.items())
        injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected"]})
        nb.cells.insert(index + 1, injected)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute()
    seconds = time.perf_counter() - start
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, errors
    return nb, seconds


def text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook printed or showed as plain text."""
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)
