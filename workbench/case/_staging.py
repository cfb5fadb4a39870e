"""Staging an ingest: intake results as Arrow tables in a scratch file outside the case."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.ahead import ahead
from workbench.arrays import release_unused
from workbench.case._io import arrow_table, point_blob_array, stage
from workbench.case._part_write import PartInfo, PartsWriter
from workbench.errors import InputError
from workbench.schema import KEY_COLUMNS, TABLES

if TYPE_CHECKING:
    from workbench.intake._table import IntakeResult

SCRATCH_PREFIX = "workbench-ingest-"
# the file that marks a scratch folder as ours: only folders holding it are ever swept
SCRATCH_MARK = ".counterfeit-workbench-scratch"
_MARK_TEXT = "made by Counterfeit Workbench for one ingest; removed when the ingest ends\n"
POINT_TABLES = ("shipments", "locations")
QUARANTINE_STAGED = ("table", "source", "source_sha256", "row_number", "raw", "reason", "message")


def stored_columns(result: IntakeResult) -> list[str]:
    """Columns of an intake result that the case stores (canonical ones, then extras)."""
    columns = [c for c in TABLES[result.table].fields if c in result.frame.columns]
    if result.table in POINT_TABLES:
        extras = ("precision", "source_lat", "source_lon", "repair", "coord_system")
        columns += [c for c in extras if c in result.frame.columns and c not in columns]
        columns += ["geom"]
    return columns


def staged_tables(i: int, result: IntakeResult, *, data: bool = True) -> dict[str, Any]:
    """Arrow tables of one intake result, named for the scratch file (without its rows
    when ``data`` is false: waybills go to GeoParquet parts, only their quarantine here)."""
    frame = result.frame
    tables = {}
    if data:
        columns = stored_columns(result)
        rows = arrow_table(frame, [c for c in columns if c != "geom"])
        if "geom" in columns:
            blobs = point_blob_array(frame["lon"].to_numpy(float), frame["lat"].to_numpy(float))
            rows = rows.append_column("geom", blobs)
        tables[f"data_{i}"] = rows
    if len(result.quarantine):
        quarantine = result.quarantine.assign(
            table=result.table, source_sha256=result.report["sha256"]
        )
        tables[f"quarantine_{i}"] = arrow_table(quarantine, list(QUARANTINE_STAGED))
    return tables


def listed_files(
    files: Mapping[str, str | os.PathLike[str] | Sequence[str | os.PathLike[str]]],
) -> list[tuple[str, Path]]:
    """``{table: file or [files]}`` as (table, file) pairs in the order given (a later file
    of a table wins over an earlier one); a table given an empty list is refused."""
    pairs: list[tuple[str, Path]] = []
    for table, given in files.items():
        paths = [given] if isinstance(given, (str, os.PathLike)) else list(given)
        if not paths:
            raise InputError(f"{table}: no file given (an empty list)")
        pairs += [(table, Path(path)) for path in paths]
    return pairs


# what one file of an ingest leaves for the commit: (i, table, columns, report, rows kept,
# rows quarantined, its waybills' parts)
Plan = tuple[int, str, list[str], dict[str, Any], int, int, list[PartInfo]]


def stage_item(
    i: int,
    table: str,
    chunks: Iterable[IntakeResult],
    final_report: Callable[[], dict[str, Any]],
    staged: str,
    incoming: Path | None,
) -> Plan:
    """Read one file's intake chunks: waybills into GeoParquet parts in ``incoming``, the
    other tables' rows and every quarantine into the scratch SQLite file ``staged`` (as
    ``data_{i}`` and ``quarantine_{i}``). Memory stays one chunk's."""
    columns: list[str] = []
    n_clean = n_quarantined = 0
    writer = PartsWriter(incoming) if incoming is not None and table == "shipments" else None
    for chunk in ahead(chunks):  # the next chunk is read while this one is stored
        columns = columns or stored_columns(chunk)
        tables = staged_tables(i, chunk, data=writer is None)
        if writer is not None:
            writer.add(chunk.frame)
        if tables:
            stage(staged, tables, mode="create_append")
        n_clean += len(chunk.frame)
        n_quarantined += len(chunk.quarantine)
        del chunk, tables
        release_unused()  # freed pages back: the peak stays one chunk's
    infos = writer.finish() if writer is not None else []
    return (i, table, columns, final_report(), n_clean, n_quarantined, infos)


def new_scratch() -> Path:
    """A new folder in the temp directory, marked as ours (the caller removes it)."""
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX))
    (folder / SCRATCH_MARK).write_text(_MARK_TEXT, encoding="utf-8")
    return folder


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A new scratch folder, marked as ours, removed when the block ends (not when killed)."""
    folder = new_scratch()
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _ours(folder: Path) -> bool:
    """A real folder (not a link) of this user that holds our mark."""
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    mark = (folder / SCRATCH_MARK).lstat()
    if not stat.S_ISREG(mark.st_mode) or mark.st_size != len(_MARK_TEXT.encode()):
        return False
    return (folder / SCRATCH_MARK).read_text(encoding="utf-8") == _MARK_TEXT


def sweep_stale_scratch(max_age_s: float = 86_400) -> None:
    """Delete scratch folders of ingests killed more than a day ago (SIGKILL skips cleanup).

    Only folders this package made and marked (:func:`scratch_folder`) are removed; a user's
    ``workbench-notes`` folder, or a link, is never touched.
    """
    cutoff = time.time() - max_age_s
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        with contextlib.suppress(OSError):
            if _ours(folder) and folder.lstat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def replaced_segments(
    con: sqlite3.Connection, plans: Sequence[tuple[Any, ...]]
) -> dict[str, set[int | None]]:
    """table -> the ingests (ingest_seq) whose rows this ingest replaces or removes.

    Keyed rows that come again replace the stored ones; a file ingested again replaces its
    quarantine rows. Only these segments, and the new one, are hashed again.
    """
    replaced: dict[str, set[int | None]] = {}
    for i, table, _columns, report, *_ in plans:
        key = KEY_COLUMNS.get(table)
        if key and table != "shipments":  # waybills: see _parts.replacements
            rows = con.execute(
                f'SELECT DISTINCT ingest_seq FROM main."{table}" WHERE "{key}" IN '  # noqa: S608
                f'(SELECT "{key}" FROM stage.data_{i})'
            )
            replaced.setdefault(table, set()).update(r[0] for r in rows)
        rows = con.execute(
            'SELECT DISTINCT ingest_seq FROM quarantine WHERE "table" = ? AND source_sha256 = ?',
            (table, report.get("sha256")),
        )
        replaced.setdefault("quarantine", set()).update(r[0] for r in rows)
    return replaced
