"""The audit log vouches for the case's content, not only for itself.

Each audited step records the SHA-256 of every table it wrote; verify recomputes them from the
tables, and the latest entry is anchored in a file beside the case, so direct edits with
sqlite3 and a truncated log are caught.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench
from workbench.case._case import open_case
from workbench.cli._main import cli
from workbench.errors import TamperedError
from workbench.intake._table import load_table

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case after ingest, find sites and a review: 5 audit entries."""
    root = tmp_path_factory.mktemp("audit")
    demo = workbench.generate_demo(root / "data", n_shipments=3_000, n_background_sellers=50)
    with open_case(root / "case.gpkg", actor="analyst") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
        case.find_sites(300)
        case.review("S001", status="confirmed", note="test buy", by="lead")
    return root


@pytest.fixture
def case_path(pristine: Path, tmp_path: Path) -> Path:
    for name in ("case.gpkg", "case.gpkg.audit-head.json"):
        shutil.copy(pristine / name, tmp_path / name)
    shutil.copytree(pristine / "case.waybills", tmp_path / "case.waybills")
    return tmp_path / "case.gpkg"


def _part(case_path: Path) -> Path:
    return next(case_path.with_suffix(".waybills").glob("part-*.parquet"))


def _move_a_waybill(case_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = _part(case_path)
    table = pq.read_table(path)
    lat = table.column("lat")
    table = table.set_column(table.schema.get_field_index("lat"), "lat", pc.add(lat, 0.01))
    pq.write_table(table.replace_schema_metadata(table.schema.metadata), path)
    assert pa.types.is_floating(lat.type)


def _hide_a_waybill(case_path: Path) -> None:
    with sqlite3.connect(case_path) as con:
        con.execute("INSERT INTO waybill_deletes VALUES (1, x'09000000')")


def _drop_the_part(case_path: Path) -> None:
    _part(case_path).unlink()


@pytest.mark.parametrize("edit", [_move_a_waybill, _hide_a_waybill, _drop_the_part])
def test_an_edit_to_the_waybill_files_is_caught(case_path: Path, edit) -> None:
    edit(case_path)
    check = _verify(case_path)
    assert not check.ok
    assert any(p.startswith("shipments: its content differs") for p in check.problems), str(check)


def _verify(path: Path):
    with open_case(path, create=False) as case:
        return case.verify_audit()


def test_a_fresh_case_verifies_and_says_what_was_proven(case_path: Path) -> None:
    check = _verify(case_path)
    assert check.ok, str(check)
    text = str(check)
    assert "5 entries" in text and "tables match" in text and "anchor" in text
    head = json.loads(case_path.with_name("case.gpkg.audit-head.json").read_text("utf-8"))
    assert head["seq"] == 5 and len(head["hash"]) == 64


@pytest.mark.parametrize(
    ("table", "statement"),
    [
        ("sellers", "UPDATE sellers SET name = 'Innocent Shop' WHERE fid = 1"),
        ("evidence", "UPDATE evidence SET verdict = 'genuine'"),
        ("reviews", "UPDATE reviews SET status = 'rejected'"),
        (
            "identifiers",
            "INSERT INTO identifiers (seller_id, kind, value) VALUES ('x', 'phone', '1')",
        ),
    ],
)
def test_a_direct_edit_of_a_table_is_caught(case_path: Path, table: str, statement: str) -> None:
    with sqlite3.connect(case_path) as con:
        con.execute(statement)
    check = _verify(case_path)
    assert not check.ok
    assert any(p.startswith(f"{table}: its content differs") for p in check.problems), str(check)
    result = CliRunner().invoke(cli, ["audit", str(case_path), "--verify"])
    assert result.exit_code == 1 and table in result.output


def test_deleting_the_last_entries_is_caught_by_the_anchor(case_path: Path) -> None:
    # a forger removes the review and its audit entry: the chain itself still links up
    with sqlite3.connect(case_path) as con:
        con.execute("DELETE FROM reviews")
        con.execute("DELETE FROM audit WHERE seq = (SELECT max(seq) FROM audit)")
    check = _verify(case_path)
    assert not check.ok
    assert any("entry 5" in p and "missing" in p for p in check.problems), str(check)


def test_without_the_anchor_verify_says_truncation_is_not_checked(case_path: Path) -> None:
    case_path.with_name("case.gpkg.audit-head.json").unlink()
    check = _verify(case_path)
    assert check.ok
    assert "truncation" in str(check) and "not checked" in str(check)


def test_a_step_refuses_to_build_on_a_table_changed_outside_the_workbench(
    case_path: Path,
) -> None:
    with sqlite3.connect(case_path) as con:
        con.execute("UPDATE reviews SET note = 'planted'")
    with (
        open_case(case_path, create=False) as case,
        pytest.raises(TamperedError, match=r"reviews was changed outside the workbench"),
    ):
        case.review("S001", status="rejected", note="second look", by="lead")
    # nothing was written: the log still ends at entry 5
    with sqlite3.connect(case_path) as con:
        assert con.execute("SELECT max(seq) FROM audit").fetchone()[0] == 5


def test_legitimate_steps_keep_the_case_verifiable(case_path: Path) -> None:
    with open_case(case_path, create=False) as case:
        case.review("S001", status="needs-work", note="second look", by="lead")
        case.set_setting("organisation", "Acme")
        case.find_sites(250)
        check = case.verify_audit()
    assert check.ok, str(check)
    # 5, a review, a setting and a site run (with the networks linked after the ingest)
    assert "8 entries" in str(check)


def test_a_later_ingest_neither_launders_nor_rehashes_an_edited_segment(
    case_path: Path, tmp_path: Path
) -> None:
    import pandas as pd

    with sqlite3.connect(case_path) as con:  # an edit to the rows ingest entry 2 stored
        con.execute("UPDATE sellers SET name = 'Innocent Shop' WHERE fid = 1")
    more = tmp_path / "more_sellers.csv"
    pd.DataFrame({"seller_id": ["NEW1", "NEW2"], "name": ["New 1", "New 2"]}).to_csv(
        more, index=False
    )
    with open_case(case_path, create=False) as case:
        case.ingest([load_table(more, "sellers")])  # new accounts only: entry 2's rows untouched
        check = case.verify_audit()
    assert not check.ok
    assert any(p.startswith("sellers:") and "rows stored by entry 2" in p for p in check.problems)


def test_the_recorded_state_verifies_in_another_process(case_path: Path, in_child) -> None:
    # the digests are a fixed byte form of the values, not of this process's objects
    code = (
        "import sys\n"
        "from workbench.case import open_case\n"
        "with open_case(sys.argv[1], create=False) as case:\n"
        "    print(case.verify_audit().ok)\n"
    )
    out, _ = in_child(code, str(case_path))
    assert out == ["True"]


# -- site runs are recorded per run --------------------------------------------------------
def test_a_new_run_hashes_its_own_rows_and_an_edit_to_an_earlier_run_is_caught(
    case_path: Path, monkeypatch
) -> None:
    from workbench.case import _state

    hashed: list[tuple[str, tuple[str, ...] | None]] = []
    real = _state.run_digests

    def spy(con, table, runs=None):  # type: ignore[no-untyped-def]
        hashed.append((table, None if runs is None else tuple(sorted(runs))))
        return real(con, table, runs)

    with open_case(case_path, create=False) as case:
        first = case.latest_run()
        monkeypatch.setattr(_state, "run_digests", spy)
        second = case.find_sites(250)
        monkeypatch.undo()
        assert second != first
        # the second run hashed only its own rows, never the first run's
        assert hashed and all(runs == (second,) for _, runs in hashed)
        state = json.loads(
            case._con.execute("SELECT state FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
        )
        assert set(state["site_points"]) == {first, second}
        assert case.verify_audit().ok
    with sqlite3.connect(case_path) as con:  # an edit to the first run's weekly counts
        con.execute("UPDATE site_activity SET n_shipments = 99 WHERE run_id = ?", (first,))
    check = _verify(case_path)
    assert not check.ok
    assert any(p.startswith("site_activity:") and f"run {first}" in p for p in check.problems), str(
        check
    )


def test_a_log_that_recorded_runs_whole_still_verifies_and_then_goes_per_run(
    tmp_path: Path, monkeypatch
) -> None:
    from workbench.case import _state

    demo = workbench.generate_demo(tmp_path / "data", n_shipments=2_000, n_background_sellers=40)
    path = tmp_path / "old.gpkg"
    # a case made before runs were recorded per run: its log has whole-table digests
    monkeypatch.setattr(_state, "RUN_TABLES", ())
    monkeypatch.setattr(
        _state, "PLAIN", (*_state.PLAIN, "sites", "site_areas", "site_points", "site_activity")
    )
    with open_case(path, actor="analyst") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
        first = case.find_sites(300)
        state = json.loads(
            case._con.execute("SELECT state FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
        )
        assert isinstance(state["sites"], str)
    monkeypatch.undo()
    with open_case(path, create=False) as case:
        assert case.verify_audit().ok
        second = case.find_sites(250)
        state = json.loads(
            case._con.execute("SELECT state FROM audit ORDER BY seq DESC LIMIT 1").fetchone()[0]
        )
        assert set(state["sites"]) == {first, second}
        assert case.verify_audit().ok
