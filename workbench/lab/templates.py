"""Investigation template notebooks: find them, describe them, read them.

A template is a ``*.ipynb`` file in the templates folder; its ``name`` is the file stem.
Optional notebook metadata tunes how it is offered in JupyterLab::

    "metadata": {"workbench": {"title": "New counterfeit investigation",
                               "description": "Load exports, link sellers, find sites",
                               "filename": "investigation.ipynb",
                               "order": 1}}

Pure Python on purpose: the Jupyter server extension (``workbench.lab._server``) and the
command line both use it, and neither should need the other. Example::

    >>> from workbench.lab.templates import list_templates
    >>> [t.name for t in list_templates()]  # doctest: +SKIP
    ['investigation']
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import InvalidFileError, NotFoundError

__all__ = [
    "TEMPLATE_NAME",
    "TemplateInfo",
    "list_templates",
    "read_template",
    "templates_dir",
]

#: What a template name looks like; URLs and file stems must both match it.
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

# no folder part, not hidden, a notebook
_PLAIN_NOTEBOOK_NAME = re.compile(r"^[^./\\][^/\\]*\.ipynb$")
_HEADING = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_PACKAGE_DIR = Path(__file__).resolve().parents[1]  # workbench/


@dataclass(frozen=True)
class TemplateInfo:
    """How a template is offered: ``name`` (file stem), ``title``, ``description``, ``filename``.

    ``filename`` is the suggested name of a notebook made from the template.
    """

    name: str
    title: str
    description: str
    filename: str


def templates_dir() -> Path:
    """The folder of template notebooks.

    An installed wheel carries them as ``workbench/_templates``; a source checkout (and an
    editable install) uses the repository's ``notebooks/templates``.
    """
    installed = _PACKAGE_DIR / "_templates"
    if installed.is_dir():
        return installed
    return _PACKAGE_DIR.parent / "notebooks" / "templates"


def list_templates(directory: Path | None = None) -> list[TemplateInfo]:
    """Describe every ``*.ipynb`` in ``directory`` (default :func:`templates_dir`).

    Sorted by ``metadata.workbench.order`` (templates without one come last), then title.
    Hidden files (``.name.ipynb``) are not templates and are skipped. A missing folder
    lists nothing.

    Raises
    ------
    InvalidFileError
        A template is not notebook JSON, its stem is not a valid template name, or its
        ``filename`` suggestion is not a plain ``*.ipynb`` file name.
    """
    folder = templates_dir() if directory is None else Path(directory)
    if not folder.is_dir():
        return []
    ranked: list[tuple[float, str, TemplateInfo]] = []
    for path in sorted(folder.glob("*.ipynb")):
        if path.name.startswith(".") or not path.is_file():
            continue
        notebook = _load(path)
        info, order = _describe(path, notebook)
        ranked.append((order, info.title.casefold(), info))
    ranked.sort(key=lambda item: (item[0], item[1], item[2].name))
    return [info for _, _, info in ranked]


def read_template(name: str, directory: Path | None = None) -> dict[str, Any]:
    """Return the notebook JSON of template ``name``.

    The name is looked up in :func:`list_templates`; it is never joined into a path, so
    nothing outside the templates folder can be read.

    Raises
    ------
    NotFoundError
        No template has that name; the message lists the ones that exist.
    """
    folder = templates_dir() if directory is None else Path(directory)
    available = list_templates(folder)
    for info in available:
        if info.name == name:
            return _load(folder / f"{info.name}.ipynb")
    names = ", ".join(info.name for info in available) or "(none)"
    raise NotFoundError(
        f"template {name!r} not found in {folder}; available templates: {names}. "
        "Pass one of these names."
    )


def _load(path: Path) -> dict[str, Any]:
    """Read one notebook file as JSON, or say which file is broken."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidFileError(
            f"template {path.name}: cannot be read as notebook JSON ({error}). "
            "Fix or remove the file."
        ) from error
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise InvalidFileError(
            f"template {path.name}: expected a notebook (a JSON object with 'cells'). "
            "Fix or remove the file."
        )
    return notebook


def _describe(path: Path, notebook: dict[str, Any]) -> tuple[TemplateInfo, float]:
    """The listing entry of one template and its sort order."""
    name = path.stem
    if not TEMPLATE_NAME.match(name):
        raise InvalidFileError(
            f"template {path.name}: the name {name!r} must match {TEMPLATE_NAME.pattern} "
            "(letters, digits, '_' and '-'). Rename the file."
        )
    metadata = notebook.get("metadata")
    meta = metadata.get("workbench") if isinstance(metadata, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    title = _text(meta.get("title")) or _first_heading(notebook) or name
    filename = _text(meta.get("filename")) or f"{name}.ipynb"
    if not _PLAIN_NOTEBOOK_NAME.match(filename):
        raise InvalidFileError(
            f"template {path.name}: metadata.workbench.filename must be a plain "
            f"'*.ipynb' file name, got {filename!r}."
        )
    info = TemplateInfo(name, title, _text(meta.get("description")), filename)
    return info, _order(meta.get("order"))


def _order(value: object) -> float:
    """``metadata.workbench.order`` as a sort key; a missing or odd value sorts last."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return math.inf


def _text(value: object) -> str:
    """A metadata value as stripped text; anything but a string counts as absent."""
    return value.strip() if isinstance(value, str) else ""


def _first_heading(notebook: dict[str, Any]) -> str:
    """The text of the first level-1 markdown heading, or ``''``."""
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "markdown":
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        for line in text.splitlines():
            match = _HEADING.match(line.strip())
            if match:
                return match.group(1)
    return ""
