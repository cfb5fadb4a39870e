"""Moving a case: push to the team store, review there, pull back; the chain verifies on
both sides, and every run, review and audit entry comes along."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner

from workbench.case._case import open_case
from workbench.cli._main import cli
from workbench.errors import CaseError, InputError, NotFoundError, TamperedError
from workbench.team import open_team_case, parse_url, pull, push
from workbench.team._audit import verify


def _rows(path: Path, table: str) -> list[tuple]:
    with sqlite3.connect(path) as con:
        return con.execute(f'SELECT * FROM "{table}" ORDER BY 1').fetchall()


def test_push_review_pull_and_the_pulled_case_verifies(
    store, case_file, tmp_path, monkeypatch
) -> None:
    runner = CliRunner()
    url = store.url("amira", "putian").replace(":team-test-pw", "")  # password from PGPASSWORD
    monkeypatch.setenv("PGPASSWORD", "team-test-pw")
    pushed = runner.invoke(cli, ["case", "push", str(case_file), url])
    assert pushed.exit_code == 0, pushed.output
    assert "pushed" in pushed.output and "3,000 waybills" in pushed.output

    with open_team_case(store.url("li", "putian")) as case:
        assert case.verify_audit().ok  # the pushed tables hash as they did in the file
        case.review("S002", status="rejected", note="a courier hub, not a workshop")
        case.review("S001", status="needs-work", note="second test buy pending")

    back = tmp_path / "back" / "putian.gpkg"
    url_li = store.url("li", "putian").replace(":team-test-pw", "")
    pulled = runner.invoke(cli, ["case", "pull", url_li, str(back)])
    assert pulled.exit_code == 0, pulled.output
    verified = runner.invoke(cli, ["audit", str(back), "--verify"])
    assert verified.exit_code == 0, verified.output
    assert "audit log intact" in verified.output

    with open_case(back, create=False) as moved, open_case(case_file, create=False) as original:
        log, first = moved.audit(), original.audit()
        # the original chain, then the push, two reviews and the pull
        pd.testing.assert_frame_equal(log.head(len(first)), first)
        assert log["action"].tolist()[len(first) :] == [
            "push to team store",
            "review",
            "review",
            "pull from team store",
        ]
        assert log["actor"].tolist()[len(first) : -1] == ["amira", "li", "li"]
        reviews = moved.reviews()
        assert reviews[["site_id", "status", "by"]].values.tolist() == [
            ["S001", "confirmed", "lead"],
            ["S002", "rejected", "li"],
            ["S001", "needs-work", "li"],
        ]
        assert moved.sites().set_index("site_id").loc["S001", "status"] == "needs-work"
        assert moved.runs()["run_id"].tolist() == original.runs()["run_id"].tolist()
        pd.testing.assert_frame_equal(moved.waybills(), original.waybills())
    for table in ("sites", "site_areas", "sellers", "waybill_parts"):
        assert _rows(back, table) == _rows(case_file, table), table


def test_the_team_store_gets_postgis_points_of_waybills_and_sites(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with psycopg.connect(store.url("wang")) as con:
        n, inside = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE ST_DWithin(w.geom::geography, "
            "s.geom::geography, s.radius_m)) FROM waybills w JOIN sites s ON s.case_id = "
            "w.case_id AND s.site_id = 'S001'"
        ).fetchone()
        kind = con.execute("SELECT DISTINCT GeometryType(geom) FROM site_areas").fetchall()
    assert n == 3_000
    assert inside > 100  # the top site's waybills are near it
    assert kind == [("POLYGON",)]


def test_a_case_that_does_not_verify_is_not_pushed(store, case_file) -> None:
    with sqlite3.connect(case_file) as con:
        con.execute("UPDATE sellers SET name = 'x' WHERE fid = 1")
    with pytest.raises(TamperedError, match="does not verify, so it is not pushed"):
        push(case_file, parse_url(store.url("amira", "putian")))


def test_a_name_already_in_the_store_is_refused(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with pytest.raises(InputError, match="'putian' is already in the team store"):
        push(case_file, parse_url(store.url("amira", "putian")))


def test_pulling_an_unknown_case_names_the_cases_there_are(store, case_file, tmp_path) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with pytest.raises(NotFoundError, match=r"no case 'yiwu' in this team store \(cases: putian\)"):
        pull(parse_url(store.url("wang", "yiwu")), tmp_path / "x.gpkg")
    assert not (tmp_path / "x.gpkg").exists()


def test_pull_never_overwrites_a_file(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with pytest.raises(InputError, match="exists; pull into a new file"):
        pull(parse_url(store.url("wang", "putian")), case_file)


def test_a_team_case_changed_behind_its_log_is_not_pulled(store, case_file, tmp_path) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with psycopg.connect(store.url(), autocommit=True) as con:
        con.execute("UPDATE sellers SET name = 'someone else' WHERE fid = 1")
    with pytest.raises(TamperedError, match="does not verify, not pulled"):
        pull(parse_url(store.url("wang", "putian")), tmp_path / "x.gpkg")
    assert not (tmp_path / "x.gpkg").exists()


def test_a_wrong_password_gives_a_one_line_error(store, case_file) -> None:
    url = store.url("amira", "putian").replace("team-test-pw", "nope")
    with pytest.raises(CaseError, match="cannot connect to the team store postgresql://amira@"):
        push(case_file, parse_url(url))
    result = CliRunner().invoke(cli, ["case", "push", str(case_file), url])
    assert result.exit_code == 1
    assert "nope" not in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["case", "pull", "postgresql://li@localhost/db", "x.gpkg"], "names no case"),
        (["case", "push", "missing.gpkg", "postgresql://li@localhost/db?case=a"], "no case file"),
        (["case", "verify", "sqlite:///x"], "not a PostgreSQL URL"),
    ],
)
def test_cli_mistakes_are_one_line_errors(
    args: list[str], message: str, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_case_verify_on_the_command_line(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    result = CliRunner().invoke(cli, ["case", "verify", store.url("wang", "putian")])
    assert result.exit_code == 0, result.output
    assert "the team store keeps every entry" in result.output
    with psycopg.connect(store.url(), autocommit=True) as con:
        con.execute("UPDATE runs SET parameters = '{}'")
        assert not verify(con, 1).ok
    result = CliRunner().invoke(cli, ["case", "verify", store.url("wang", "putian")])
    assert result.exit_code == 1
    assert "runs: its content differs" in result.output


def test_the_push_entry_names_who_pushed_what(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_team_case(store.url("wang", "putian")) as case:
        entry = case.audit().iloc[-1]
    assert (entry["action"], entry["actor"]) == ("push to team store", "amira")
    assert json.loads(entry["parameters"])["file"] == "case.gpkg"


def test_replaced_waybills_stay_replaced_on_both_sides(store, case_file, tmp_path) -> None:
    from workbench.intake._table import load_table

    # a second export repeats 40 waybill numbers with new values: the case marks the 40
    # stored rows replaced (waybill_deletes) and stores a new part
    with open_case(case_file, create=False) as case:
        again = case.waybills().head(40).drop(columns=["ingest_seq"])
        again["items"] = 99
        again.to_csv(tmp_path / "again.csv", index=False)
        case.ingest([load_table(tmp_path / "again.csv", "shipments")])
        assert case.n_waybills() == 3_000
    push(case_file, parse_url(store.url("amira", "putian")))
    with psycopg.connect(store.url("wang")) as con:
        n, rewritten = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE items = 99) FROM waybills"
        ).fetchone()
    assert (n, rewritten) == (3_000, 40)  # the live rows only
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", "putian")), back)
    with open_case(back, create=False) as moved:
        assert moved.verify_audit().ok
        assert moved.n_waybills() == 3_000
        assert int((moved.waybills()["items"] == 99).sum()) == 40


def test_a_case_moves_back_and_forth_and_verifies_each_time(store, case_file, tmp_path) -> None:
    # push, review, pull; push the pulled file under a new name, review, pull again
    current = case_file
    for round_, name in enumerate(("putian", "putian-2")):
        push(current, parse_url(store.url("amira", name)))
        with open_team_case(store.url("li", name)) as case:
            case.review("S003", status="rejected", note=f"round {round_}")
            assert case.verify_audit().ok
        current = tmp_path / f"round{round_}.gpkg"
        pull(parse_url(store.url("wang", name)), current)
        with open_case(current, create=False) as moved:
            assert moved.verify_audit().ok
            assert moved.reviews()["note"].tolist()[1:] == [f"round {i}" for i in range(round_ + 1)]
