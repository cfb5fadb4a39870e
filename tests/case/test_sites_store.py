"""Storing a run quickly: multi-row inserts and the per-run digests read without a sort."""

from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from workbench.case import _io, _state

_TABLE = (
    "CREATE TABLE site_points (fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
    "site_id TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, n_shipments INTEGER)"
)


def _points(n: int, run: str = "r1") -> pd.DataFrame:
    rng = np.random.default_rng(n)
    return pd.DataFrame(
        {
            "run_id": run,
            "site_id": [f"S{i % 7:03d}" for i in range(n)],
            "lat": rng.uniform(20, 30, n),
            "lon": rng.uniform(110, 120, n),
            "n_shipments": rng.integers(1, 1_000, n),
        }
    )


def _insert(con: sqlite3.Connection, frame: pd.DataFrame) -> None:
    cols = list(frame.columns)
    _io.insert_frame(con, "site_points", cols, [_io.python_values(frame[c]) for c in cols])


@pytest.mark.parametrize(
    "n",
    [
        0,
        1,
        _io.ROWS_PER_STATEMENT - 1,
        _io.ROWS_PER_STATEMENT,
        _io.ROWS_PER_STATEMENT + 1,
        3 * _io.ROWS_PER_STATEMENT + 5,
    ],
)
def test_insert_frame_stores_every_row_in_order(n: int) -> None:
    # whole statements of ROWS_PER_STATEMENT rows, then the rest: the rows come back as
    # given, in order, with fids 1..n
    con = sqlite3.connect(":memory:")
    con.execute(_TABLE)
    frame = _points(n)
    _insert(con, frame)
    rows = con.execute("SELECT * FROM site_points ORDER BY fid").fetchall()
    columns = [frame[c].tolist() for c in frame.columns]
    expected = [(i + 1, *row) for i, row in enumerate(zip(*columns, strict=True))]
    assert rows == expected


def test_insert_frame_keeps_missing_values_as_null() -> None:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE t (fid INTEGER PRIMARY KEY, x REAL, k INTEGER, s TEXT)")
    frame = pd.DataFrame(
        {
            "x": [1.5, np.nan, 2.5],
            "k": pd.array([1, None, 3], dtype="Int64"),
            "s": ["a", None, "c"],
        }
    )
    cols = list(frame.columns)
    _io.insert_frame(con, "t", cols, [_io.python_values(frame[c]) for c in cols])
    rows = con.execute("SELECT x, k, s FROM t ORDER BY fid").fetchall()
    assert rows == [(1.5, 1, "a"), (None, None, None), (2.5, 3, "c")]
    assert [type(v) for v in rows[0]] == [float, int, str]


def test_insert_frame_fits_the_statement_parameter_limit() -> None:
    # a limit below one full statement's parameters: fewer rows per statement, same rows
    con = sqlite3.connect(":memory:")
    con.execute(_TABLE)
    con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 12)  # two rows of five columns
    frame = _points(9)
    _insert(con, frame)
    assert con.execute("SELECT count(*), min(fid), max(fid) FROM site_points").fetchone() == (
        9,
        1,
        9,
    )


def _sorted_digest(con: sqlite3.Connection, run: str) -> str:
    """The digest as the index-and-sort query gives it (what verify always computed)."""
    cursor = con.execute("SELECT * FROM site_points WHERE run_id IS ? ORDER BY fid", (run,))
    first = cursor.fetchmany(1)
    return _state._hash(cursor, first)


def test_run_digest_reads_an_unbroken_range_and_an_interleaved_run_alike() -> None:
    # r1 stored in one go (fids 1..300: read as a range), r2 and r3 interleaved (their
    # fids are not a range: found through the index and sorted); both give the digest of
    # the sorted query, and a row of r2 changed changes r2's digest only
    con = sqlite3.connect(":memory:")
    con.execute(_TABLE)
    con.execute("CREATE INDEX site_points_site ON site_points (run_id, site_id)")
    _insert(con, _points(300, "r1"))
    for k in range(4):
        _insert(con, _points(50 + k, "r2"))
        _insert(con, _points(40 + k, "r3"))
    before = _state.run_digests(con, "site_points")
    assert set(before) == {"r1", "r2", "r3"}
    for run in ("r1", "r2", "r3"):
        assert before[run] == _sorted_digest(con, run)
    con.execute("UPDATE site_points SET lat = lat + 1e-9 WHERE fid = 320")
    after = _state.run_digests(con, "site_points")
    changed = {run for run in before if before[run] != after[run]}
    assert changed == {con.execute("SELECT run_id FROM site_points WHERE fid = 320").fetchone()[0]}


def test_run_digest_is_absent_for_a_run_without_rows() -> None:
    con = sqlite3.connect(":memory:")
    con.execute(_TABLE)
    _insert(con, _points(5, "r1"))
    assert list(_state.run_digests(con, "site_points", ["r1", "nope"])) == ["r1"]
