"""What the audit log records of the tables: SHA-256 digests of their rows.

The input tables (sellers, identifiers, shipments, evidence, locations) and the quarantine
are recorded per *segment*: the rows one ingest stored (their ``ingest_seq``). A step hashes
only the segments it writes or replaces, so adding 100,000 waybills to a case of millions
costs the 100,000, not the millions; an edit to a segment no step touched since is still
found, because nobody recomputed that segment's digest. The tables of site runs (sites,
their areas, points and weekly activity) are recorded per run the same way, so a new run
costs its own rows, not every earlier run's (cases whose log recorded them whole are
checked whole until their next run). The other tables are small and are hashed whole.
The waybills live in GeoParquet parts: their segments are hashed from the files
(:func:`workbench.case._parts.segment_digests`). Rows are hashed in storage order,
with their column names, in marshal format 2 (:func:`_encode`): a fixed byte form of the
values SQLite returns (text as UTF-8, integers, floats as 8 bytes, blobs, NULL) that costs
next to nothing beside reading the rows.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from workbench.errors import TamperedError
from workbench.schema import TABLE_NAMES

__all__ = [
    "PLAIN",
    "SEGMENTED",
    "STATE_TABLES",
    "check_unchanged",
    "compute",
    "differences",
    "recorded_state",
]

SEGMENTED = (*TABLE_NAMES, "quarantine")  # rows carry the ingest_seq that stored them
RUN_TABLES = ("sites", "site_areas", "site_points", "site_activity")  # rows carry their run_id
PLAIN = (
    "networks", "network_links", "runs", "reviews", "settings", "cross_references", "xref_index",
    "events", "event_sellers",
)  # fmt: skip
STATE_TABLES = (*SEGMENTED, *RUN_TABLES, *PLAIN)
_BATCH = 20_000
_NULL = "none"  # the segment of rows without an ingest_seq (written by another tool)

Recorded = dict[str, tuple[int, Any]]  # table -> (entry, digest or {segment: digest})


def _encode(values: Any) -> bytes:
    """A fixed byte form of rows of SQLite values.

    Marshal format 2 writes every text as UTF-8 and every float as its 8 bytes, and never
    refers back to an earlier object (references came with format 3), so equal values give
    equal bytes in any process and any Python version: half the cost of ``repr``.
    """
    return marshal.dumps(values, 2)


def _hash(cursor: sqlite3.Cursor, first: list[Any] | None = None) -> str:
    digest = hashlib.sha256(_encode([d[0] for d in cursor.description]))
    if first:
        digest.update(_encode(first))
    while rows := cursor.fetchmany(_BATCH):
        digest.update(_encode(rows))
    return digest.hexdigest()


def plain_digest(con: sqlite3.Connection, table: str) -> str:
    """SHA-256 of a whole table (a plain one, or the case's settings)."""
    if table == "settings":
        query = "SELECT key, value FROM workbench_meta WHERE key LIKE 'setting:%' ORDER BY key"
    elif table in STATE_TABLES:
        query = f'SELECT * FROM "{table}" ORDER BY fid'  # noqa: S608 - a name from the list
    else:
        raise ValueError(f"{table!r} is not a table the audit log records")
    return _hash(con.execute(query))


def _key(seq: int | None) -> str:
    return _NULL if seq is None else str(int(seq))


def segment_digests(
    con: sqlite3.Connection, table: str, seqs: Iterable[int | None] | None = None
) -> dict[str, str]:
    """Segment -> SHA-256 of its rows, for ``seqs`` (default: every segment there is).

    A segment that has no rows left is absent from the result."""
    if table not in SEGMENTED:
        raise ValueError(f"{table!r} is not kept per ingest")
    if table == "shipments":  # GeoParquet parts: their files and replaced rows
        from workbench.case import _parts

        return _parts.segment_digests(con, seqs)
    return _grouped_digests(con, table, "ingest_seq", seqs, _key)


def run_digests(
    con: sqlite3.Connection, table: str, runs: Iterable[str] | None = None
) -> dict[str, str]:
    """Run -> SHA-256 of its rows in a table of site runs, for ``runs`` (default: every run
    there is). A run with no rows in the table is absent."""
    if table not in RUN_TABLES:
        raise ValueError(f"{table!r} is not kept per run")
    return _grouped_digests(con, table, "run_id", runs, str)


def written_run_digest(
    con: sqlite3.Connection, table: str, first_fid: int, columns: Mapping[str, Sequence[Any]]
) -> str | None:
    """What :func:`run_digests` will read back for one run's rows just inserted into
    ``table`` with fids ``first_fid`` onwards (in that order), computed from the values
    written (by column name), without reading them back: the same rows in the same batches.

    SQLite stores some values in another form (an int in a REAL column, NaN as NULL, -0.0
    as 0.0): values are turned into what SQLite will return where that is certain, and
    None is returned (read them back) when any value is of a type not covered here."""
    info = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    names = [str(row[1]) for row in info]
    if not names or names[0] != "fid" or set(names[1:]) != set(columns):
        return None
    n = len(next(iter(columns.values()), []))
    stored: list[Sequence[Any]] = [range(first_fid, first_fid + n)]
    for _, name, declared, *_ in info[1:]:
        values = _as_stored(columns[name], str(declared).upper())
        if values is None or len(values) != n:
            return None
        stored.append(values)
    rows = list(zip(*stored, strict=True))
    digest = hashlib.sha256(_encode(names))
    if rows:  # as _hash reads: the first row, then batches of _BATCH
        digest.update(_encode(rows[:1]))
        for lo in range(1, n, _BATCH):
            digest.update(_encode(rows[lo : lo + _BATCH]))
    return digest.hexdigest()


def _as_stored(values: Sequence[Any], declared: str) -> Sequence[Any] | None:
    """``values`` as SQLite returns them from a column declared ``declared``; None when
    that is not certain for some value."""
    if declared == "TEXT":
        return values if all(v is None or type(v) is str for v in values) else None
    if declared == "INTEGER":
        return values if all(v is None or type(v) is int for v in values) else None
    if declared == "REAL":
        if not all(v is None or type(v) is float for v in values):
            return None
        # NaN is stored as NULL and -0.0 comes back as 0.0
        return [None if v is None or v != v else (0.0 if v == 0.0 else v) for v in values]
    return None


def _grouped_digests(
    con: sqlite3.Connection,
    table: str,
    column: str,
    values: Iterable[Any] | None,
    name: Callable[[Any], str],
) -> dict[str, str]:
    """name(value) -> SHA-256 of the rows whose ``column`` is that value (in storage
    order), for ``values`` (default: every value there is); values without rows absent."""
    if values is None:
        found = con.execute(f'SELECT DISTINCT "{column}" FROM "{table}"')  # noqa: S608
        values = [row[0] for row in found]
    out = {}
    for value in sorted(set(values), key=name):
        cursor = _rows_of(con, table, column, value)
        first = cursor.fetchmany(1)
        if first:
            out[name(value)] = _hash(cursor, first)
    return out


def _rows_of(con: sqlite3.Connection, table: str, column: str, value: Any) -> sqlite3.Cursor:
    """The rows whose ``column`` is ``value``, in fid order.

    A step stores its rows of a table in one go, so their fids mostly form one unbroken
    range: then that range is read in rowid order, with no sort (the same rows in the
    same order: as many fids as rows, all of them the value's). Otherwise the rows are
    found through the index and sorted."""
    lo, hi, n = con.execute(
        f'SELECT min(fid), max(fid), count(*) FROM "{table}" WHERE "{column}" IS ?',  # noqa: S608
        (value,),
    ).fetchone()
    if n and hi - lo + 1 == n:
        return con.execute(
            f'SELECT * FROM "{table}" WHERE fid BETWEEN ? AND ? ORDER BY fid',  # noqa: S608
            (lo, hi),
        )
    return con.execute(
        f'SELECT * FROM "{table}" WHERE "{column}" IS ? ORDER BY fid',  # noqa: S608
        (value,),
    )


def _per_run(table: str, digest: Any) -> bool:
    """Whether the log recorded ``table`` per run (not whole, as before runs were)."""
    return table in RUN_TABLES and isinstance(digest, dict)


def recorded_state(con: sqlite3.Connection) -> Recorded:
    """What the latest entry that recorded each table says about it."""
    latest: Recorded = {}
    rows = con.execute("SELECT seq, state FROM audit WHERE state IS NOT NULL ORDER BY seq")
    for seq, state in rows:
        for table, digest in json.loads(state).items():
            latest[table] = (int(seq), digest)
    return latest


def compute(
    con: sqlite3.Connection,
    tables: Iterable[str],
    segments: Mapping[str, Iterable[Any]] | None = None,
    known: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """The state to record for ``tables`` after a step wrote them.

    For a segmented table (or a table of runs) named in ``segments`` only those segments
    (runs) are hashed again; the others keep what the log recorded. Without ``segments`` a
    table is hashed whole (every segment, every run). ``known``: digests of runs of a
    table of runs the step computed as it wrote them (:func:`written_run_digest`), not
    read again.
    """
    recorded = recorded_state(con)
    state: dict[str, Any] = {}
    for table in sorted(set(tables)):
        if table in RUN_TABLES:
            old = recorded.get(table, (0, None))[1]
            if segments is None or table not in segments or not _per_run(table, old):
                state[table] = run_digests(con, table)  # a log that recorded it whole too
                continue
            runs = {str(r) for r in segments[table]}
            merged = {k: v for k, v in old.items() if k not in runs}
            given = {k: v for k, v in (known or {}).get(table, {}).items() if k in runs}
            merged.update(given)
            if runs - set(given):
                merged.update(run_digests(con, table, runs - set(given)))
            state[table] = dict(sorted(merged.items()))
            continue
        if table not in SEGMENTED:
            state[table] = plain_digest(con, table)
            continue
        if segments is None or table not in segments or table not in recorded:
            state[table] = segment_digests(con, table)
            continue
        touched = list(segments[table])
        keys = {_key(s) for s in touched}
        merged = {k: v for k, v in recorded[table][1].items() if k not in keys}
        merged.update(segment_digests(con, table, touched))
        state[table] = dict(sorted(merged.items()))
    return state


def check_unchanged(
    con: sqlite3.Connection,
    tables: Iterable[str],
    segments: Mapping[str, Iterable[Any]] | None = None,
) -> None:
    """Raise :class:`TamperedError` if what a step is about to change differs from the log.

    For a segmented table (or a table of runs) only the segments (runs) in ``segments`` are
    checked (those the step replaces rows of); the rest is found by verify if it was edited.
    """
    recorded = recorded_state(con)
    for table in sorted(set(tables)):
        if table not in recorded:
            continue
        entry, digest = recorded[table]
        if _per_run(table, digest):
            runs = None if segments is None else {str(r) for r in segments.get(table, [])}
            expected = digest if runs is None else {k: v for k, v in digest.items() if k in runs}
            same = run_digests(con, table, runs) == expected
        elif table in SEGMENTED:
            wanted = list((segments or {}).get(table, [])) if segments is not None else None
            now = segment_digests(con, table, wanted)
            expected = digest if wanted is None else {
                k: v for k, v in digest.items() if k in {_key(s) for s in wanted}
            }  # fmt: skip
            same = now == expected
        else:
            same = plain_digest(con, table) == digest
        if not same:
            raise TamperedError(
                f"{table} was changed outside the workbench after audit entry {entry}; nothing "
                "was written. Run `workbench audit CASE --verify` to see what differs, and "
                "restore the case from a copy you trust."
            )


def differences(con: sqlite3.Connection) -> tuple[int, list[str]]:
    """(tables checked, one line per table whose rows differ from what the log recorded)."""
    problems = []
    recorded = recorded_state(con)
    for table, (entry, digest) in sorted(recorded.items()):
        if _per_run(table, digest):
            now = run_digests(con, table)
            changed = sorted(set(now) ^ set(digest) | {k for k in now if digest.get(k) != now[k]})
            if changed:
                problems.append(
                    f"{table}: its content differs from what entry {entry} recorded (rows of "
                    f"run {', '.join(changed)}; changed outside the workbench)"
                )
            continue
        if table not in SEGMENTED:
            if plain_digest(con, table) != digest:
                problems.append(
                    f"{table}: its content differs from what entry {entry} recorded (changed "
                    "outside the workbench)"
                )
            continue
        now = segment_digests(con, table)
        changed = sorted(set(now) ^ set(digest) | {k for k in now if digest.get(k) != now[k]})
        if changed:
            which = ", ".join(
                "rows no step stored" if k == _NULL else f"rows stored by entry {k}"
                for k in changed
            )
            problems.append(
                f"{table}: its content differs from what entry {entry} recorded ({which}; "
                "changed outside the workbench)"
            )
    return len(recorded), problems
