"""Ingest into a team case: the case file's intake (checks, quarantine, replacements), the
team store's tables, one audited step as the connected role; only the ingest role may."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest
from click.testing import CliRunner
from conftest import export_files

from workbench.cli._main import cli
from workbench.errors import InputError, NotFoundError, TamperedError, TeamAccessError
from workbench.opening import open_case
from workbench.team import TeamCase, parse_url, pull


def _ingest(store, demo, user: str = "amira", case: str = "yiwu") -> list[dict]:
    with open_case(store.url(user, case)) as team:
        return team.ingest_files(export_files(demo))


def test_open_case_on_a_url_gives_a_team_case_created_by_the_ingest_role(store) -> None:
    import workbench

    with workbench.open_case(store.url("amira", "yiwu")) as team:
        assert isinstance(team, TeamCase)
        log = team.audit()
        assert (log["action"].tolist(), log["actor"].tolist()) == (["create case"], ["amira"])
        assert team.verify_audit().ok
    # a viewer, or a URL opened with create=False, names the cases there are instead
    with pytest.raises(NotFoundError, match=r"no case 'other' in this team store \(cases: yiwu\)"):
        open_case(store.url("wang", "other"))
    with pytest.raises(NotFoundError, match="no case 'other'"):
        open_case(store.url("amira", "other"), create=False)


def test_ingest_stores_every_row_read_or_its_quarantine_and_verifies(store, demo_exports) -> None:
    reports = {r["table"]: r for r in _ingest(store, demo_exports)}
    ships = reports["shipments"]
    # the demo's defects: faulty waybills quarantined, three repaired (tests/demo)
    assert ships["quarantined"] > 0 and ships["rows_repaired"] == 3
    for r in reports.values():  # row accounting: read = stored + quarantined
        assert r["rows_read"] == r["new"] + r["replaced_or_already_present"] + r["quarantined"]
    with open_case(store.url("wang", "yiwu"), create=False) as team:
        assert team.n_waybills() == ships["new"]
        quarantine = team.quarantine(table="shipments")
        assert len(quarantine) == ships["quarantined"]
        assert set(quarantine["reason"]) == set(ships["quarantine_reasons"])
        assert len(team.table("sellers")) == reports["sellers"]["new"]
        entry = team.audit().iloc[1]
        assert (entry["action"], entry["actor"]) == ("ingest", "amira")
        assert json.loads(entry["parameters"])["tables"]["shipments"]["new"] == ships["new"]
        assert team.verify_audit().ok


def test_the_team_case_holds_what_a_case_file_holds(store, demo_exports, tmp_path) -> None:
    _ingest(store, demo_exports)
    with open_case(tmp_path / "local.gpkg", actor="amira") as local:
        local.ingest_files(export_files(demo_exports))
        ships = local.waybills()
        tables = {
            t: local.table(t, geometry=False)
            for t in ("sellers", "identifiers", "evidence", "locations", "quarantine")
        }
    with open_case(store.url("wang", "yiwu"), create=False) as team:
        for name, frame in tables.items():
            theirs = team.table(name)
            pd.testing.assert_frame_equal(
                theirs.drop(columns=["ingest_seq"]), frame.drop(columns=["ingest_seq"]), obj=name
            )
    # pulled back, the waybills are the same rows in the same parts' order
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", "yiwu")), back)
    with open_case(back, create=False) as pulled:
        assert pulled.verify_audit().ok
        pd.testing.assert_frame_equal(
            pulled.waybills().drop(columns=["ingest_seq"]), ships.drop(columns=["ingest_seq"])
        )


def test_waybills_ingested_again_replace_the_stored_ones(store, demo_exports, tmp_path) -> None:
    _ingest(store, demo_exports)
    with open_case(store.url("amira", "yiwu"), create=False) as team:
        n = team.n_waybills()
        again = pd.read_csv(demo_exports.shipments).head(40)
        again["items"] = 99
        again.to_csv(tmp_path / "again.csv", index=False)
        report = team.ingest_files({"shipments": tmp_path / "again.csv"})[0]
        assert (report["new"], report["replaced_or_already_present"]) == (0, 40)
        assert team.n_waybills() == n  # replaced, not added
        assert team.verify_audit().ok
    with psycopg.connect(store.url("wang")) as con:
        rewritten = con.execute("SELECT count(*) FROM waybills WHERE items = 99").fetchone()[0]
        marked = con.execute("SELECT length(rows) / 4 FROM waybill_deletes").fetchall()
    assert rewritten == 40 and marked == [(40,)]
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", "yiwu")), back)
    with open_case(back, create=False) as pulled:
        assert pulled.verify_audit().ok
        assert pulled.n_waybills() == n
        assert int((pulled.waybills()["items"] == 99).sum()) == 40


def test_only_the_ingest_role_ingests(store, demo_exports) -> None:
    _ingest(store, demo_exports)
    for user in ("li", "wang", "zhao"):
        with open_case(store.url(user, "yiwu"), create=False) as team:
            with pytest.raises(TeamAccessError, match=rf"refused role '{user}': ingesting needs"):
                team.ingest_files({"shipments": demo_exports.shipments})
            assert team.audit()["action"].tolist()[-1] != "ingest" or len(team.audit()) == 2


def test_an_ingest_refuses_to_build_on_rows_changed_behind_the_log(store, demo_exports) -> None:
    _ingest(store, demo_exports)
    with psycopg.connect(store.url(), autocommit=True) as con:
        con.execute("UPDATE sellers SET name = 'someone else' WHERE fid = 1")
    with (
        open_case(store.url("amira", "yiwu"), create=False) as team,
        pytest.raises(TamperedError, match="sellers was changed outside the workbench"),
    ):
        team.ingest_files({"sellers": demo_exports.sellers})


def test_ingest_on_the_command_line(store, demo_exports) -> None:
    runner = CliRunner()
    url = store.url("amira", "yiwu")
    done = runner.invoke(cli, ["ingest", url, "--shipments", str(demo_exports.shipments)])
    assert done.exit_code == 0, done.output
    assert "shipments" in done.output and "quarantined" in done.output
    assert "linked again" not in done.output  # waybills bring no accounts
    accounts = runner.invoke(
        cli,
        ["ingest", url, "--sellers", str(demo_exports.sellers),
         "--identifiers", str(demo_exports.identifiers)],
    )  # fmt: skip
    assert accounts.exit_code == 0, accounts.output
    assert "accounts linked again:" in accounts.output
    refused = runner.invoke(
        cli, ["ingest", store.url("li", "yiwu"), "--sellers", str(demo_exports.sellers)]
    )
    assert refused.exit_code == 77  # EX_NOPERM: refused, not failed
    assert "refused role 'li'" in refused.output and "Traceback" not in refused.output


@pytest.mark.parametrize("link", [True, False])
def test_an_ingest_of_accounts_links_them_again_unless_told_not_to(store, demo_exports, link):
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports), link=link)
        actions = team.audit()["action"].tolist()
        n_networks = len(team.table("networks"))
    # as a case file's ingest: its own audited step after the ingest, as the connected role
    assert actions == ["create case", "ingest", *(["link sellers"] if link else [])]
    assert (n_networks > 0) is link


def test_an_ingest_and_reviewers_at_once_keep_one_chain(store, case_file, demo_exports) -> None:
    import threading

    from workbench.team import push

    push(case_file, parse_url(store.url("amira", "putian")))
    errors: list[BaseException] = []

    def review(user: str) -> None:
        try:
            with open_case(store.url(user, "putian"), create=False) as team:
                for i in range(5):
                    team.review("S002", status="needs-work", note=f"{user} {i}")
        except BaseException as error:
            errors.append(error)

    reviewers = [threading.Thread(target=review, args=(u,)) for u in ("li", "chen")]
    with open_case(store.url("amira", "putian"), create=False) as team:
        for thread in reviewers:
            thread.start()
        team.ingest_files({"shipments": demo_exports.shipments}, link=False)
    for thread in reviewers:
        thread.join()
    assert not errors
    with open_case(store.url("wang", "putian"), create=False) as team:
        log = team.audit()
        assert log["action"].tolist().count("review") == 1 + 10  # the pushed one and ten
        assert log["action"].tolist().count("ingest") == 2
        assert team.verify_audit().ok


def test_a_file_ingested_again_replaces_every_row_and_its_parts_go(store, demo_exports, tmp_path):
    with open_case(store.url("amira", "yiwu")) as team:
        first = team.ingest_files({"shipments": demo_exports.shipments})[0]
        again = team.ingest_files({"shipments": demo_exports.shipments})[0]
        assert (again["new"], again["replaced_or_already_present"]) == (0, first["new"])
        assert team.n_waybills() == first["new"]
        assert team.verify_audit().ok
    with psycopg.connect(store.url("wang")) as con:
        seqs = con.execute("SELECT DISTINCT ingest_seq FROM waybill_parts").fetchall()
        rows = con.execute("SELECT count(*), count(DISTINCT shipment_id) FROM waybills").fetchone()
        files = con.execute("SELECT count(DISTINCT file) FROM waybill_files").fetchone()[0]
    assert seqs == [(3,)]  # the first ingest's parts are gone, files and all
    assert rows == (first["new"], first["new"])
    assert files == 2  # the part and its companion of counts
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", "yiwu")), back)
    with open_case(back, create=False) as pulled:
        assert pulled.verify_audit().ok and pulled.n_waybills() == first["new"]


def test_several_waybill_files_in_one_team_ingest_are_refused_before_any_is_read(
    store, demo_exports
) -> None:
    files = export_files(demo_exports)
    with open_case(store.url("amira", "monthly")) as team:
        with pytest.raises(InputError, match=r"2 waybill files .* one after another"):
            team.ingest_files({"shipments": [files["shipments"], files["shipments"]]})
        assert team.n_waybills() == 0
        assert team.audit()["action"].tolist() == ["create case"]
