"""Events (raids, takedowns) recorded on a team case: as the connected role, audited, read
as a case file reads them, moved by a pull; only the review and ingest roles may."""

from __future__ import annotations

import json
import re

import psycopg
import pytest
from click.testing import CliRunner

from workbench.cli._main import cli
from workbench.errors import InputError, NotFoundError, TeamAccessError
from workbench.opening import open_case
from workbench.team import parse_url, pull, push


@pytest.fixture
def putian(store, case_file) -> str:
    push(case_file, parse_url(store.url("amira", "putian")))
    return "putian"


def test_a_reviewer_records_a_raid_as_themselves(store, putian, case_file, tmp_path) -> None:
    with open_case(store.url("li", putian), create=False) as team:
        sellers = team.site_shipments("S001")["seller_id"].astype(str).unique()[:2].tolist()
        done = team.record_event(
            "raid", "2026-05-01", note="police raid <b>3 arrests</b>", site_id="S001",
            seller_ids=sellers,
        )  # fmt: skip
        assert (done["event_id"], done["by"], done["site_id"]) == ("EV0001", "li", "S001")
        found = team.events()
        assert found["event_id"].tolist() == ["EV0001"]
        assert found["seller_ids"].iloc[0] == sorted(sellers)
        assert found["by"].iloc[0] == "li"
        entry = team.audit().iloc[-1]
        assert (entry["action"], entry["actor"]) == ("record event", "li")
        assert json.loads(entry["parameters"])["event_id"] == "EV0001"
        assert team.verify_audit().ok
    # the case file records the same event the same way (but for who and when)
    with open_case(case_file, create=False, actor="li") as local:
        mine = local.record_event(
            "raid", "2026-05-01", note="police raid <b>3 arrests</b>", site_id="S001",
            seller_ids=sellers,
        )  # fmt: skip
    keep = ["event_id", "kind", "date", "run_id", "site_id", "lat", "lon", "network_id", "note"]
    assert {k: done[k] for k in keep} == {k: mine[k] for k in keep}
    # pulled, the case file holds the event and its chain verifies
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", putian)), back)
    with open_case(back, create=False) as pulled:
        assert pulled.verify_audit().ok
        assert pulled.events()["event_id"].tolist() == ["EV0001"]


def test_the_recorder_is_the_connected_role(store, putian) -> None:
    with open_case(store.url("amira", putian), create=False) as team:
        with pytest.raises(InputError, match="records the connected role"):
            team.record_event("raid", "2026-05-01", note="n", site_id="S001", by="someone")
        done = team.record_event("takedown", "2026-05-02", note="batch", network_id=_net(team))
        assert done["by"] == "amira"
    # a client that writes another name directly gets the connected role all the same
    with open_case(store.url("li", putian), create=False) as team:
        case_id = team.case_id
        team.record_event("other", "2026-05-03", note="n", site_id="S001")
    with psycopg.connect(store.url()) as con:
        rows = con.execute(
            'SELECT "by" FROM events WHERE case_id = %s ORDER BY fid', (case_id,)
        ).fetchall()
    assert rows == [("amira",), ("li",)]


def _net(team) -> str:
    return str(team.networks().summary["network_id"].iloc[0])


@pytest.mark.parametrize("user", ["wang", "zhao"])
def test_a_viewer_or_exporter_may_not_record_events(store, putian, user: str) -> None:
    with (
        open_case(store.url(user, putian), create=False) as team,
        pytest.raises(TeamAccessError, match="recording an event needs the workbench_review"),
    ):
        team.record_event("raid", "2026-05-01", note="n", site_id="S001")


def test_what_an_event_concerns_must_be_in_the_case(store, putian) -> None:
    with open_case(store.url("li", putian), create=False) as team:
        with pytest.raises(NotFoundError, match="site_id='S999' is not in run"):
            team.record_event("raid", "2026-05-01", note="n", site_id="S999")
        with pytest.raises(NotFoundError, match="'NOPE' not in the case's sellers"):
            team.record_event("takedown", "2026-05-01", note="n", seller_ids=["NOPE"])
        with pytest.raises(NotFoundError, match="network_id='N9999' is not in the case"):
            team.record_event("takedown", "2026-05-01", note="n", network_id="N9999")
        with pytest.raises(InputError, match="kind='party'"):
            team.record_event("party", "2026-05-01", note="n", site_id="S001")
        assert team.events().empty  # nothing half-recorded
        assert team.verify_audit().ok


def test_events_are_never_rewritten(store, putian) -> None:
    with open_case(store.url("li", putian), create=False) as team:
        team.record_event("raid", "2026-05-01", note="n", site_id="S001")
    with (
        psycopg.connect(store.url("amira")) as con,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        con.execute("UPDATE events SET note = 'changed'")


def test_event_add_and_list_on_the_command_line(store, putian) -> None:
    runner = CliRunner()
    url = store.url("li", putian)
    added = runner.invoke(
        cli,
        ["event", "add", url, "--kind", "raid", "--date", "2026-05-01", "--note", "raid",
         "--site", "S001"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    said = r"EV0001: raid on 2026-05-01 \(site S001 of run \w+\), recorded by li "
    assert re.match(said, added.output)
    listed = runner.invoke(cli, ["event", "list", store.url("wang", putian), "--json"])
    assert listed.exit_code == 0, listed.output
    assert [e["event_id"] for e in json.loads(listed.output)] == ["EV0001"]
    refused = runner.invoke(
        cli,
        ["event", "add", store.url("wang", putian), "--kind", "raid", "--date", "2026-05-01",
         "--note", "n", "--site", "S001"],
    )  # fmt: skip
    assert refused.exit_code == 77, refused.output
