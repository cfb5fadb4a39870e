"""Networks and site runs on a team case: the case file's code on the team store's rows,
the same networks and sites from the same exports, stored and audited as the analyst."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from conftest import export_files

from workbench.cli._main import cli
from workbench.errors import NotFoundError, TamperedError, TeamAccessError
from workbench.opening import open_case
from workbench.team._digest import select_list

_RUN_TABLES = ("sites", "site_areas", "site_points", "site_activity")


def _local_rows(path: Path, table: str) -> list[tuple]:
    columns = select_list(table).replace('gpkg_geom AS "geom"', '"geom"')
    with sqlite3.connect(path) as con:
        rows = con.execute(f'SELECT {columns} FROM "{table}" ORDER BY fid').fetchall()
    return [row[1:] for row in rows]  # without fid


def _team_rows(url: str, table: str) -> list[tuple]:
    with psycopg.connect(url) as con:
        rows = con.execute(f'SELECT {select_list(table)} FROM "{table}" ORDER BY fid').fetchall()
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row[1:]) for row in rows]


@pytest.fixture
def both(store, demo_exports, tmp_path):
    """The same exports in a case file and a team case, sites found in each."""
    local_path = tmp_path / "local.gpkg"
    with open_case(local_path, actor="amira") as local:
        local.ingest_files(export_files(demo_exports))
        local_run = local.find_sites(300)
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports))
        team_run = team.find_sites(300)
    return local_path, local_run, team_run


def test_a_team_case_finds_the_sites_a_case_file_finds(store, both) -> None:
    local_path, local_run, team_run = both
    assert team_run == local_run  # the run id hashes the parameters and the weighted points
    for table in (*_RUN_TABLES, "networks", "network_links"):
        mine, theirs = _local_rows(local_path, table), _team_rows(store.url(), table)
        assert len(mine) > 0, table
        assert theirs == mine, table  # every value, hulls' GeoPackage blobs included
    with open_case(store.url("wang", "yiwu"), create=False) as team:
        sites = team.sites()
        assert sites["site_id"].tolist()[:3] == ["S001", "S002", "S003"]
        assert set(sites["status"]) == {"unreviewed"}
        log = team.audit()
        assert log["action"].tolist()[-2:] == ["link sellers", "find sites"]
        assert set(log["actor"]) == {"amira"}
        assert team.verify_audit().ok


def test_the_same_run_again_is_reused_and_a_reviewer_reviews_it(store, both) -> None:
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        before = len(team.table("sites"))
        assert team.find_sites(300) == both[2]
        assert len(team.table("sites")) == before  # reused: nothing stored twice
    with open_case(store.url("li", "yiwu"), create=False) as team:
        team.review("S001", status="confirmed", note="test buy matched")
        assert team.sites().loc[0, "status"] == "confirmed"
        assert team.verify_audit().ok


@pytest.mark.parametrize("user", ["li", "wang", "zhao"])
def test_only_the_analyst_links_sellers_and_finds_sites(store, both, user: str) -> None:
    with open_case(store.url(user, "yiwu"), create=False) as team:
        with pytest.raises(TeamAccessError, match="finding sites needs the workbench_ingest"):
            team.find_sites(250)
        with pytest.raises(TeamAccessError, match="linking sellers needs the workbench_ingest"):
            team.link_sellers()


def test_derived_rows_need_an_audited_step(store, both) -> None:
    # amira may write runs, but only inside a step that holds the case's audit lock
    with (
        psycopg.connect(store.url("amira"), autocommit=True) as con,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="inside an audited step"),
    ):
        con.execute(
            "INSERT INTO site_points (case_id, fid, run_id, site_id) VALUES (1, 9999, 'r', 'S1')"
        )


def test_sites_and_networks_on_the_command_line(store, demo_exports) -> None:
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports))
    runner = CliRunner()
    done = runner.invoke(cli, ["sites", store.url("amira", "yiwu"), "--radius-m", "300"])
    assert done.exit_code == 0, done.output
    assert "candidate sites" in done.output and "S001" in done.output
    refused = runner.invoke(cli, ["sites", store.url("wang", "yiwu")])
    assert refused.exit_code == 77, refused.output
    assert "refused role 'wang'" in refused.output
    linked = runner.invoke(cli, ["networks", store.url("amira", "yiwu"), "--json"])
    assert linked.exit_code == 0, linked.output
    assert json.loads(linked.output)["networks"][0]["seen_before"] == ""


def test_a_second_run_is_recorded_per_run_and_the_case_pulls_back(store, both, tmp_path) -> None:
    from workbench.team import parse_url, pull

    with open_case(store.url("amira", "yiwu"), create=False) as team:
        second = team.find_sites(250, since="2026-03-01")
        assert team.runs()["run_id"].tolist() == [both[2], second]
        assert team.runs()["parameters"].iloc[1]["window"]["since"] == "2026-03-01"
        assert team.verify_audit().ok
    with psycopg.connect(store.url(), autocommit=True) as con:  # an earlier run edited
        con.execute("UPDATE site_points SET n_shipments = 0 WHERE run_id = %s", (both[2],))
    with open_case(store.url("wang", "yiwu"), create=False) as team:
        check = team.verify_audit()
    assert not check.ok and "site_points: its content differs" in str(check)
    back = tmp_path / "back.gpkg"
    with pytest.raises(TamperedError, match="does not verify, not pulled"):
        pull(parse_url(store.url("wang", "yiwu")), back)


def test_a_run_pulled_back_verifies_as_a_case_file(store, both, tmp_path) -> None:
    from workbench.team import parse_url, pull

    with open_case(store.url("amira", "yiwu"), create=False) as team:
        team.find_sites(250)
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", "yiwu")), back)
    with open_case(back, create=False) as pulled:
        assert pulled.verify_audit().ok
        assert len(pulled.runs()) == 2
        assert pulled.sites(both[2])["site_id"].iloc[0] == "S001"


def test_two_runs_of_a_team_case_compare_as_a_case_files_do(store, both) -> None:
    local_path = both[0]
    window = {"until": "2026-03-31"}
    with open_case(local_path, create=False, actor="amira") as local:
        early = local.find_sites(300, **window)
        expected = local.compare_runs(early, both[1])
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        assert team.find_sites(300, **window) == early
    with open_case(store.url("wang", "yiwu"), create=False) as team:  # a viewer may compare
        changes = team.compare_runs(early, both[2])
        pd.testing.assert_frame_equal(changes, expected)
        with pytest.raises(NotFoundError, match=r"after='nope' is not a run of this case"):
            team.compare_runs(early, "nope")
    runner = CliRunner()
    done = runner.invoke(cli, ["compare", store.url("wang", "yiwu"), early, both[2], "--json"])
    assert done.exit_code == 0, done.output
    printed = json.loads(done.output, parse_constant=_refused)  # standard JSON: no NaN
    assert printed["changes"] == json.loads(expected.to_json(orient="records"))


def _refused(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")
