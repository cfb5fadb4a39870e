"""Where a case lives on disk, and what SQLite's storage errors mean for its user."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from workbench.errors import CaseError, InputError

__all__ = ["CASE_FOLDER_FILE", "is_locked", "resolve_case_path", "storage_error"]

CASE_FOLDER_FILE = "case.gpkg"  # the GeoPackage inside a NAME.case folder


def resolve_case_path(
    name: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> Path:
    """The GeoPackage of the case ``name``, kept inside ``root`` if given.

    ``putian.case`` is a case made as one folder (``putian.case/case.gpkg``, its waybills
    in ``putian.case/case.waybills``): what to move, copy or zip. ``putian.gpkg`` (or
    ``putian``) is the GeoPackage itself, its waybills in ``putian.waybills`` beside it.
    """
    path = Path(name)
    if path.suffix == "":
        path = path.with_suffix(".gpkg")
    if path.suffix.lower() == ".case":
        path = path / CASE_FOLDER_FILE
    if path.suffix.lower() != ".gpkg":
        raise InputError(
            f"case {str(name)!r}: a case is a NAME.case folder or a .gpkg file, not {path.suffix!r}"
        )
    if root is None:
        return path
    base = Path(root).resolve()
    target = (base / path).resolve()
    if not target.is_relative_to(base):
        raise InputError(f"case {str(name)!r} would lie outside the cases folder {base}")
    return target


def is_locked(error: sqlite3.OperationalError) -> bool:
    return "locked" in str(error) or "busy" in str(error)


def storage_error(path: Path, error: sqlite3.OperationalError) -> Exception:
    """What SQLite's storage errors mean for the user, as one line; others unchanged."""
    text = str(error)
    if "disk is full" in text or "disk I/O error" in text:
        return CaseError(
            f"case {path}: no space left on the disk that holds it ({text}); nothing was "
            "written. Free some space and run the step again."
        )
    if "readonly" in text or "read-only" in text:
        return CaseError(
            f"case {path} is read-only here ({text}): the file or its folder cannot be "
            "written. Copy the case to a folder you can write to, or ask for write access."
        )
    if "unable to open" in text:
        return CaseError(
            f"cannot open case {path} ({text}): check that its folder exists and can be "
            "written (a case keeps its journal beside the file)"
        )
    return error
