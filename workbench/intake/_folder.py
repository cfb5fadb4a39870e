"""A folder of platform exports: which file holds which table.

A file belongs to a table when the table's name is one word of the file name: ``sellers.csv``,
``partner_shipments.csv`` and ``2026-03 evidence.xlsx`` all qualify (words are separated by
anything but letters and digits). Only the folder itself is searched, not its subfolders,
and hidden files and office lock files (``~$sellers.xlsx``) are passed over.
A file that names two tables, or a table other than the waybills named by two files, is an
error rather than a guess; several waybill files (``shipments-2026-01.csv``,
``shipments-2026-02.csv``, ...) are all taken, in name order, so a waybill in a later file
replaces the earlier one (name them by date). Files that name no table are listed in
:attr:`Exports.other`, never silently skipped.

>>> exports = find_exports("exports")                              # doctest: +SKIP
>>> case.ingest_files(exports.files, mapping="mapping.yaml")        # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from workbench.errors import InputError
from workbench.intake._read import SUFFIXES
from workbench.schema import TABLE_NAMES

__all__ = ["REQUIRED_TABLES", "Exports", "find_exports"]

REQUIRED_TABLES = ("sellers", "shipments")
_WORD = re.compile(r"[^0-9a-z]+")


@dataclass(frozen=True)
class Exports:
    """The export files of one folder: ``files`` maps each table found to its file, or to
    the list of waybill files when there are several (ready for
    :meth:`workbench.Case.ingest_files`); ``other`` lists the readable files that name no
    table."""

    folder: Path
    files: dict[str, Path | list[Path]]
    other: list[Path] = field(default_factory=list)

    def __repr__(self) -> str:
        found = ", ".join(
            f"{table}: {', '.join(p.name for p in ([paths] if isinstance(paths, Path) else paths))}"
            for table, paths in self.files.items()
        )
        extra = f"; not a table: {', '.join(p.name for p in self.other)}" if self.other else ""
        return f"<Exports {self.folder} ({found}{extra})>"


def _tables_named(path: Path) -> list[str]:
    words = set(_WORD.split(path.stem.lower()))
    return [table for table in TABLE_NAMES if table in words]


def find_exports(
    folder: str | os.PathLike[str], *, required: tuple[str, ...] = REQUIRED_TABLES
) -> Exports:
    """Find the export file of each table in ``folder`` (see the module docstring).

    Parameters
    ----------
    folder : the folder holding the platform's export files.
    required : tables that must be there (default: sellers and shipments).

    >>> import pathlib, tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     for name in ("sellers.csv", "partner_shipments.csv", "notes.txt"):
    ...         _ = (pathlib.Path(tmp) / name).write_text("x", encoding="utf-8")
    ...     exports = find_exports(tmp)
    ...     print(sorted(exports.files), [p.name for p in exports.other])
    ['sellers', 'shipments'] ['notes.txt']
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; expected a folder of export files")
    candidates = sorted(
        p
        for p in root.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith((".", "~$"))
    )
    files: dict[str, list[Path]] = {}
    other = []
    for path in candidates:
        tables = _tables_named(path)
        if len(tables) > 1:
            raise InputError(
                f"{path}: the name mentions the tables {' and '.join(tables)}; rename the file "
                "so that it names one table (sellers, identifiers, shipments, evidence or "
                "locations)"
            )
        if tables:
            files.setdefault(tables[0], []).append(path)
        else:
            other.append(path)
    for table, paths in files.items():
        if len(paths) > 1 and table != "shipments":
            raise InputError(
                f"{root}: {len(paths)} files for the {table} table "
                f"({', '.join(p.name for p in paths)}); keep one in the folder and ingest the "
                "others with `workbench ingest CASE --" + table + " FILE`"
            )
    missing = [table for table in required if table not in files]
    if missing:
        listed = ", ".join(p.name for p in other) or "no readable file"
        raise InputError(
            f"{root}: no {' and no '.join(missing)} file; expected a file named like "
            f"{missing[0]}.csv or partner_{missing[0]}.csv (found: {listed})"
        )
    ordered: dict[str, Path | list[Path]] = {
        table: files[table][0] if len(files[table]) == 1 else files[table]
        for table in TABLE_NAMES
        if table in files
    }
    return Exports(root, ordered, other)
