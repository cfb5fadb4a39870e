"""Move a case between its file and the team store: :func:`push` and :func:`pull`.

Everything moves: every table row as it is (``fid`` and GeoPackage blobs included), the
waybill files byte for byte, the settings and the whole audit chain, so the digests its
entries recorded still hold on the other side. The waybills are also loaded as rows
(COPY) into ``waybills`` with their PostGIS points, for queries in the team store.

* push checks the case file first (:meth:`Case.verify_audit`), writes the case in one
  transaction while it is ``loading`` (nobody else sees it), appends a ``push to team
  store`` entry as the connected role and opens it;
* pull checks the team store's chain and tables first (:func:`workbench.team._audit.verify`),
  writes a new case file in one SQLite transaction, checks that the tables the team store
  did not write match what the log recorded, and appends a ``pull from team store`` entry
  that records the state of those it did write (the reviews), so ``workbench audit
  --verify`` holds on the pulled file.
"""

from __future__ import annotations

import functools
import io
import os
import sqlite3
from pathlib import Path
from typing import Any

from workbench.case import audit as audit_log
from workbench.errors import CaseVersionError, InputError, TamperedError
from workbench.team import _audit
from workbench.team._digest import file_chunks, select_list
from workbench.team._schema import TABLES
from workbench.team._store import TeamURL, connect, find_case

__all__ = ["pull", "push"]

_CHUNK = 32 * 1024 * 1024  # bytes of a waybill file per row of waybill_files
_WAYBILL_COLUMNS = (
    "shipment_id", "seller_id", "lat", "lon", "coord_system", "origin_address", "shipped_at",
    "items", "value_cny", "brand", "precision", "source_lat", "source_lon", "repair",
)  # fmt: skip


# -- push ---------------------------------------------------------------------------------
def push(case_path: str | os.PathLike[str], target: TeamURL) -> dict[str, Any]:
    """Copy the case file ``case_path`` into the team store as case ``target.case``."""
    from workbench.case._case import open_case

    path = Path(case_path)
    with open_case(path, create=False) as case:
        check = case.verify_audit()
        if not check.ok:
            raise TamperedError(f"{path} does not verify, so it is not pushed:\n{check}")
        version = case.schema_version
    source = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source.execute("BEGIN")  # one snapshot of the file
        with connect(target) as con, con.transaction():
            taken = con.execute("SELECT 1 FROM cases WHERE name = %s", (target.case,)).fetchone()
            if taken:
                raise InputError(
                    f"case {target.case!r} is already in the team store; pull it, or push "
                    "under another name (?case=NEW-NAME)"
                )
            case_id = int(
                con.execute(
                    "INSERT INTO cases (name, case_schema, source) VALUES (%s, %s, %s) "
                    "RETURNING case_id",
                    (target.case, version, path.name),
                ).fetchone()[0]
            )
            counts = {t: _copy_table(source, con, case_id, t) for t in TABLES}
            _copy_meta(source, con, case_id)
            counts["waybills"] = _copy_waybills(source, con, case_id, path)
            latest = audit_log.head(source)
            seq, digest = _audit.append(
                con,
                case_id,
                action="push to team store",
                parameters={"case": target.case, "file": path.name, "head": list(latest or [])},
            )
            con.execute("UPDATE cases SET status = 'open' WHERE case_id = %s", (case_id,))
    finally:
        source.close()
    return {"case": target.case, "case_id": case_id, "rows": counts, "head": [seq, digest]}


def _source_columns(source: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in source.execute(f'PRAGMA table_info("{table}")')]


def _copy_table(source: sqlite3.Connection, con: Any, case_id: int, table: str) -> int:
    columns = _source_columns(source, table)
    if not columns:
        return 0  # a table this case's schema does not have
    if columns != TABLES[table]:
        extra = sorted(set(columns) - set(TABLES[table])) or columns
        raise CaseVersionError(
            f"table {table} of this case has columns the team store does not know "
            f"({', '.join(extra)}); upgrade the team store (workbench.team.migrate)"
        )
    target = ", ".join('"gpkg_geom"' if c == "geom" else f'"{c}"' for c in columns)
    listed = ", ".join(f'"{c}"' for c in columns)
    rows = source.execute(f'SELECT {listed} FROM "{table}"')  # noqa: S608
    n = 0
    with con.cursor().copy(f'COPY "{table}" (case_id, {target}) FROM STDIN') as copy:
        while batch := rows.fetchmany(5_000):
            for row in batch:
                copy.write_row((case_id, *row))
            n += len(batch)
    return n


def _copy_meta(source: sqlite3.Connection, con: Any, case_id: int) -> None:
    with con.cursor().copy("COPY case_meta (case_id, key, value) FROM STDIN") as copy:
        for key, value in source.execute("SELECT key, value FROM workbench_meta"):
            copy.write_row((case_id, key, value))


def _copy_waybills(source: sqlite3.Connection, con: Any, case_id: int, path: Path) -> int:
    """The waybill files (parts and their companions) byte for byte, and the live rows;
    a file and a part's rows are streamed (a chunk, a batch at a time)."""
    from workbench.case import _parts

    folder = _parts.folder_for(path)
    files = [r[0] for r in source.execute("SELECT file FROM waybill_parts")]
    files += [r[0] for r in source.execute("SELECT file FROM waybill_cells")]
    with con.cursor().copy("COPY waybill_files (case_id, file, chunk, data) FROM STDIN") as copy:
        for file in files:
            with (folder / file).open("rb") as handle:
                for i, data in enumerate(iter(functools.partial(handle.read, _CHUNK), b"")):
                    copy.write_row((case_id, file, i, data))
    parts = source.execute("SELECT part_id, file, ingest_seq FROM waybill_parts").fetchall()
    return sum(
        _copy_rows(con, case_id, int(part_id), folder / file, seq,
                   _parts.deleted_rows(source, int(part_id)))
        for part_id, file, seq in parts
    )  # fmt: skip


def _copy_rows(
    con: Any, case_id: int, part_id: int, file: Path, seq: int | None, deleted: Any
) -> int:
    """COPY one part's live rows into ``waybills`` as CSV (Arrow writes it, in batches)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    names = [*_WAYBILL_COLUMNS, "row_number", "part_id", "ingest_seq", "case_id"]
    listed = ", ".join(f'"{c}"' for c in names)
    options = pcsv.WriteOptions(include_header=False, quoting_style="all_valid")
    offset = total = 0
    with con.cursor().copy(f"COPY waybills ({listed}) FROM STDIN (FORMAT csv)") as copy:
        for batch in pq.ParquetFile(file).iter_batches(columns=list(_WAYBILL_COLUMNS)):
            positions = np.arange(offset, offset + batch.num_rows)
            offset += batch.num_rows
            keep = ~np.isin(positions, deleted)
            n = int(keep.sum())
            columns = [*batch.filter(pa.array(keep)).columns, pa.array(positions[keep])]
            columns += [pa.array(np.full(n, part_id, np.int64)), pa.array([seq] * n, pa.int64())]
            columns.append(pa.array(np.full(n, case_id, np.int64)))
            buffer = io.BytesIO()
            pcsv.write_csv(pa.Table.from_arrays(columns, names=names), buffer, options)
            copy.write(buffer.getvalue())
            total += n
    return total


# -- pull ---------------------------------------------------------------------------------
def pull(source: TeamURL, case_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write team case ``source.case`` into the new case file ``case_path``."""
    from workbench.case import _parts
    from workbench.case._gpkg import register_functions
    from workbench.case._schema import SCHEMA_VERSION, migrate

    path = Path(case_path)
    if path.suffix == "":
        path = path.with_suffix(".gpkg")
    folder = _parts.folder_for(path)
    if path.exists() or audit_log.anchor_path(path).exists() or folder.exists():
        raise InputError(f"{path} (or its waybills folder) exists; pull into a new file")
    with connect(source) as con, con.transaction():
        con.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        case_id = find_case(con, source.case)
        found = con.execute("SELECT case_schema FROM cases WHERE case_id = %s", (case_id,))
        version = int(found.fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CaseVersionError(
                f"team case {source.case!r} has case schema {version}; this workbench writes up "
                f"to {SCHEMA_VERSION}. Upgrade counterfeit-workbench to pull it."
            )
        check = _audit.verify(con, case_id)
        if not check.ok:
            raise TamperedError(f"team case {source.case!r} does not verify, not pulled:\n{check}")
        entries = con.execute(
            "SELECT seq, at, actor, action, parameters, inputs, prev_hash, hash, state "
            "FROM audit WHERE case_id = %s ORDER BY seq",
            (case_id,),
        ).fetchall()
        team_written = ["reviews"] if _audit.team_reviews(entries) else []
        path.parent.mkdir(parents=True, exist_ok=True)
        out = sqlite3.connect(path, isolation_level=None)
        try:
            register_functions(out)
            out.execute("PRAGMA journal_mode = WAL")
            out.execute("BEGIN IMMEDIATE")
            migrate(out, 0, version)
            counts = {t: _write_table(con, out, case_id, t) for t in TABLES}
            _write_meta(con, out, case_id)
            _write_files(con, out, case_id, folder)
            others = [t for t in audit_log.STATE_TABLES if t not in team_written]
            audit_log.check_unchanged(out, others)  # the rows came over exactly
            seq = audit_log.append(
                out,
                actor=audit_log.current_actor(),
                action="pull from team store",
                parameters={"case": source.case, "head": list(check.head or [])},
                wrote=team_written,
            )
            out.execute("COMMIT")
        except BaseException:
            if out.in_transaction:
                out.execute("ROLLBACK")
            out.close()
            _remove(path, folder)
            raise
        audit_log.write_anchor(out, path)
        out.close()
    return {"case": source.case, "path": str(path), "rows": counts, "entry": seq}


def _write_table(con: Any, out: sqlite3.Connection, case_id: int, table: str) -> int:
    columns = [r[1] for r in out.execute(f'PRAGMA table_info("{table}")')]
    if not columns:
        return 0
    key = "seq" if table == "audit" else "part_id" if table.startswith("waybill_") else "fid"
    out.execute(f'DELETE FROM "{table}"')  # noqa: S608 - only what migrate wrote (none)
    cursor = con.cursor()
    cursor.execute(
        f'SELECT {select_list(table)} FROM "{table}" WHERE case_id = %s ORDER BY "{key}"',  # noqa: S608
        (case_id,),
    )
    marks = ", ".join("?" for _ in columns)
    listed = ", ".join(f'"{c}"' for c in columns)
    n = 0
    while batch := cursor.fetchmany(5_000):
        out.executemany(f'INSERT INTO "{table}" ({listed}) VALUES ({marks})', batch)  # noqa: S608
        n += len(batch)
    return n


def _write_meta(con: Any, out: sqlite3.Connection, case_id: int) -> None:
    rows = con.execute("SELECT key, value FROM case_meta WHERE case_id = %s", (case_id,))
    out.executemany("INSERT OR REPLACE INTO workbench_meta VALUES (?, ?)", rows.fetchall())


def _write_files(con: Any, out: sqlite3.Connection, case_id: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    files = [r[0] for r in out.execute("SELECT file FROM waybill_parts")]
    files += [r[0] for r in out.execute("SELECT file FROM waybill_cells")]
    for file in files:
        with (folder / Path(file).name).open("wb") as handle:
            written = sum(handle.write(data) for data in file_chunks(con, case_id, file))
        if not written:
            raise TamperedError(f"waybill file {file} is listed but not in the team store")


def _remove(path: Path, folder: Path) -> None:
    import shutil

    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(folder, ignore_errors=True)
