"""A run's points and weekly activity are hashed as they are written, not read back: the
digest must be the one the audit log's verify reads back from SQLite, value for value
(integers stored in a REAL column come back as floats, -0.0 as 0.0, NaN as NULL), or
nothing (then the rows are read back)."""

from __future__ import annotations

import sqlite3

import pytest

from workbench.case._io import insert_frame
from workbench.case._state import run_digests, written_run_digest

SCHEMA = (
    "CREATE TABLE site_activity (fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
    "site_id TEXT NOT NULL, week TEXT NOT NULL, n_shipments INTEGER NOT NULL, value_cny REAL)"
)
COLUMNS = ["run_id", "site_id", "week", "n_shipments", "value_cny"]


def _table(rows: int, *, before: int = 0) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.execute(SCHEMA)
    for i in range(before):  # an earlier run's rows
        con.execute(
            "INSERT INTO site_activity (run_id, site_id, week, n_shipments, value_cny) "
            "VALUES ('old', 'S001', '2026-01-05', ?, 1.5)",
            (i,),
        )
    return con


def _values(n: int) -> list[list[object]]:
    values = [0.0, -0.0, 3, float("nan"), None, 1e300, 2.5]  # REAL: int, -0.0, NaN, NULL
    return [
        ["run-a"] * n,
        [f"S{i % 7:03d}" for i in range(n)],
        ["2026-01-05", "2026-01-12"] * (n // 2) + ["2026-01-19"] * (n % 2),
        [i * 3 for i in range(n)],
        [values[i % len(values)] for i in range(n)],
    ]


@pytest.mark.parametrize(("n", "before"), [(1, 0), (7, 3), (45_001, 2)])
def test_the_written_digest_is_the_one_read_back(n: int, before: int) -> None:
    con = _table(n, before=before)
    values = _values(n)
    insert_frame(con, "site_activity", COLUMNS, values)
    written = written_run_digest(con, "site_activity", "run-a", COLUMNS, values)
    assert written is not None
    assert written == run_digests(con, "site_activity", {"run-a"})["run-a"]


def test_an_edited_row_changes_the_digest_read_back() -> None:
    con = _table(10)
    values = _values(10)
    insert_frame(con, "site_activity", COLUMNS, values)
    written = written_run_digest(con, "site_activity", "run-a", COLUMNS, values)
    con.execute("UPDATE site_activity SET n_shipments = 99 WHERE fid = 4")
    assert written != run_digests(con, "site_activity", {"run-a"})["run-a"]


def test_no_written_digest_when_it_cannot_be_sure() -> None:
    con = _table(0)
    values = _values(4)
    insert_frame(con, "site_activity", COLUMNS, values)
    # a column left out, rows interleaved with another run's, a text column given numbers
    assert written_run_digest(con, "site_activity", "run-a", COLUMNS[:-1], values[:-1]) is None
    con.execute(
        "INSERT INTO site_activity (run_id, site_id, week, n_shipments) "
        "VALUES ('run-b', 'S1', 'w', 1)"
    )
    insert_frame(con, "site_activity", COLUMNS, _values(4))
    assert written_run_digest(con, "site_activity", "run-a", COLUMNS, values) is None
    other = _table(0)
    numbers = _values(2)
    numbers[2] = [20260105, 20260112]
    insert_frame(other, "site_activity", COLUMNS, numbers)
    assert written_run_digest(other, "site_activity", "run-a", COLUMNS, numbers) is None


def test_a_stored_run_records_the_digests_verify_reads_back(tmp_path) -> None:
    import json

    import workbench
    from workbench.case import _state

    demo = workbench.generate_demo(tmp_path / "data", seed=5, n_shipments=6_000)
    with workbench.open_case(tmp_path / "w.case") as case:
        case.ingest_files(workbench.find_exports(demo.folder).files)
        read: list[str] = []
        real = _state.run_digests

        def counted(con, table, runs=None):  # the tables whose rows are read back
            found = real(con, table, runs)
            read.extend(table for _ in found)
            return found

        _state.run_digests = counted
        try:
            run = case.find_sites()
        finally:
            _state.run_digests = real
        state = json.loads(case.audit()["state"].iloc[-1])
        for table in ("site_points", "site_activity"):
            assert table not in read  # hashed as written
            assert state[table][run] == real(case._con, table, {run})[run]
        assert case.verify_audit().ok
