"""Events in the case (schema 8): raids, takedowns, test-buy campaigns, audited like reviews."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pyogrio
import pytest

import workbench
from workbench.case._case import open_case
from workbench.case._events import EVENT_COLUMNS, EVENT_KINDS, events, record_event
from workbench.case._schema import SCHEMA_VERSION
from workbench.errors import InputError, NotFoundError, TamperedError
from workbench.intake._table import load_table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo case with sellers linked and one run of sites (copied per test)."""
    root = tmp_path_factory.mktemp("events")
    demo = workbench.generate_demo(root / "data", n_shipments=2_000, n_background_sellers=40)
    with open_case(root / "case" / "c.gpkg", actor="analyst") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
        case.find_sites(300)
    return root / "case"


@pytest.fixture
def case(analysed: Path, tmp_path: Path):
    shutil.copytree(analysed, tmp_path / "case")
    with open_case(tmp_path / "case" / "c.gpkg", create=False, actor="analyst") as case:
        yield case


def _network_site(case) -> tuple[str, str, list[str]]:
    """(site, a network shipping from it, that network's sellers)."""
    sites = case.sites()
    row = sites[sites["n_networks"] > 0].iloc[0]
    network = row["networks"][0]
    members = case.table("networks")
    return str(row["site_id"]), network, sorted(members[members["network_id"] == network].seller_id)


def test_a_raid_on_a_site_is_stored_with_its_place_and_audited(case) -> None:
    site, _, _ = _network_site(case)
    event = record_event(case, "raid", "2026-05-01", site_id=site, note="police raid, 3 arrests")
    # the first event of the case; the site's place is kept for later runs
    assert event["event_id"] == "EV0001" and event["run_id"] == case.latest_run()
    where = case.sites().set_index("site_id").loc[site]
    assert (event["lat"], event["lon"]) == (where["lat"], where["lon"])
    assert event["by"] == "analyst" and event["seller_ids"] == []
    stored = events(case)
    assert list(stored.columns) == list(EVENT_COLUMNS) and len(stored) == 1
    assert stored.loc[0, "site_id"] == site and stored.loc[0, "kind"] == "raid"
    last = case.audit().iloc[-1]
    assert last["action"] == "record event" and last["actor"] == "analyst"
    assert json.loads(last["parameters"])["event_id"] == "EV0001"
    assert int(stored.loc[0, "audit_seq"]) == int(last["seq"])
    assert set(json.loads(last["state"])) == {"events", "event_sellers"}
    assert case.verify_audit().ok, str(case.verify_audit())


def test_a_takedown_keeps_its_accounts_and_events_come_by_date(case) -> None:
    _, network, sellers = _network_site(case)
    record_event(case, "takedown", "2026-06-10", seller_ids=sellers[:3], note="batch 7", by="li")
    record_event(case, "test_buy_campaign", dt.date(2026, 3, 2), network_id=network, note="Q1")
    stored = events(case)
    # ordered by date: the campaign of March before the takedown of June
    assert stored["kind"].tolist() == ["test_buy_campaign", "takedown"]
    assert stored["event_id"].tolist() == ["EV0002", "EV0001"]
    assert stored.loc[1, "seller_ids"] == sellers[:3] and stored.loc[1, "by"] == "li"
    assert stored.loc[0, "network_id"] == network and stored.loc[0, "seller_ids"] == []
    assert events(case, kind="takedown")["event_id"].tolist() == ["EV0001"]
    assert case.verify_audit().ok


def test_duplicate_sellers_are_kept_once(case) -> None:
    _, _, sellers = _network_site(case)
    event = record_event(case, "takedown", "2026-06-10", seller_ids=[sellers[0]] * 3, note="x")
    assert event["seller_ids"] == [sellers[0]]


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"kind": "arrest"}, InputError, r"kind='arrest'; expected one of raid, takedown"),
        ({"kind": None}, InputError, r"kind=None; expected one of"),
        ({"date": "2026-02-30"}, InputError, r"date='2026-02-30' is not a day of the calendar"),
        ({"date": "01/05/2026"}, InputError, r"date='01/05/2026' is not a day"),
        ({"date": "20260501"}, InputError, r"date='20260501'; expected a day as YYYY-MM-DD"),
        ({"date": 20260501}, InputError, r"date=20260501; expected a day as YYYY-MM-DD"),
        (
            {"date": dt.datetime(2026, 5, 1, 9)},
            InputError,
            r"date=datetime.datetime\(2026, 5, 1, 9, 0\): give the day only",
        ),
        ({"note": ""}, InputError, r"note is empty; say what happened"),
        ({"note": None}, InputError, r"note=None; expected text"),
        ({"note": "x" * 4_001}, InputError, r"note has 4,001 characters; at most 4,000"),
        ({"note": "raid\u202e"}, InputError, r"note holds control or format character U\+202E"),
        ({"site_id": "S999"}, NotFoundError, r"site_id='S999' is not in run"),
        ({"site_id": ""}, InputError, r"site_id=''; expected an id"),
        ({"seller_ids": "S000001"}, InputError, r"seller_ids='S000001': give a list of seller"),
        ({"seller_ids": 5}, InputError, r"seller_ids=5; expected a list of seller ids"),
        ({"seller_ids": ["NOPE1", "NOPE2"]}, NotFoundError, r"seller_ids: 'NOPE1', 'NOPE2' not"),
        ({"seller_ids": [None]}, InputError, r"seller_ids item=None; expected an id"),
        ({"network_id": "N9999"}, NotFoundError, r"network_id='N9999' is not in the case's"),
        ({"by": " "}, InputError, r"by is empty; name who records it"),
        ({"site_id": None}, InputError, r"an event concerns something: give site_id"),
        ({"run_id": "R-nope"}, NotFoundError, r"site_id='S001' is not in run R-nope"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_written(case, kwargs, error, message) -> None:
    args = {"kind": "raid", "date": "2026-05-01", "note": "raid", "site_id": "S001", **kwargs}
    entries = len(case.audit())
    with pytest.raises(error, match=message):
        record_event(case, args.pop("kind"), args.pop("date"), **args)
    assert events(case).empty and len(case.audit()) == entries


def test_a_site_needs_a_run(tmp_path: Path) -> None:
    message = r"site_id='S001': the case has no clustering run"
    with open_case(tmp_path / "empty.gpkg") as case, pytest.raises(NotFoundError, match=message):
        record_event(case, "raid", "2026-05-01", site_id="S001", note="raid")


def test_an_event_edited_outside_the_workbench_is_found(case) -> None:
    site, _, _ = _network_site(case)
    record_event(case, "raid", "2026-05-01", site_id=site, note="raid")
    with sqlite3.connect(case.path) as con:
        con.execute("UPDATE events SET date = '2026-04-01'")
    con.close()
    check = case.verify_audit()
    assert not check.ok and any(p.startswith("events:") for p in check.problems), str(check)
    with pytest.raises(TamperedError, match=r"events was changed outside the workbench"):
        record_event(case, "raid", "2026-05-02", site_id=site, note="second raid")


def test_the_kinds_are_the_documented_ones() -> None:
    assert EVENT_KINDS == ("raid", "takedown", "test_buy_campaign", "other")


def test_an_older_case_migrates_to_empty_event_tables(tmp_path: Path) -> None:
    path = tmp_path / "old.gpkg"
    shutil.copy(FIXTURES / "case_v1.gpkg", path)
    with open_case(path, actor="analyst-2") as case:
        assert case.schema_version == SCHEMA_VERSION == 8
        assert events(case).empty and list(events(case).columns) == list(EVENT_COLUMNS)
        assert case.table("event_sellers").empty
        assert case.verify_audit().ok
        record_event(case, "takedown", "2026-03-09", seller_ids=["S1"], note="store closed")
        assert events(case)["seller_ids"].tolist() == [["S1"]]
        assert case.verify_audit().ok


def test_a_case_at_schema_7_gets_the_event_tables(tmp_path: Path) -> None:
    """A case as schema 7 left it (made here: no event tables, version 7) migrates to 8."""
    path = tmp_path / "seven.gpkg"
    with open_case(path):
        pass
    with sqlite3.connect(path) as con:
        for table in ("events", "event_sellers"):
            con.execute(f"DROP TABLE {table}")
            con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
        con.execute("UPDATE workbench_meta SET value = '7' WHERE key = 'schema_version'")
    con.close()
    with open_case(path, actor="analyst-3") as case:
        assert case.schema_version == 8
        assert case.audit()["action"].tolist() == ["create case", "migrate case"]
        assert json.loads(case.audit().iloc[-1]["parameters"]) == {
            "from_schema": 7,
            "to_schema": 8,
        }
        assert events(case).empty
    layers = dict(pyogrio.list_layers(path))  # GIS tools list them as attribute tables
    assert layers["events"] is None and layers["event_sellers"] is None


def test_the_demo_rings_never_move(case) -> None:
    """The standard demo ships from the same workshops all year: its sparse sites may start
    late or stop early, but no network moves; the case's relocations say so."""
    from workbench.case._events import relocations

    found = relocations(case)
    assert found.relocations.empty and list(found.relocations.columns)[:3] == [
        "network_id",
        "from_site",
        "to_site",
    ]
    assert len(found.spans) == len(case.sites())
    assert found.parameters["max_gap_weeks"] == 6
    wide = relocations(case, max_gap_weeks=52, quiet_weeks=1, min_active_weeks=1)
    assert set(wide.spans["site_id"]) == set(case.sites()["site_id"])


def test_relocations_need_a_run(tmp_path: Path) -> None:
    from workbench.case._events import relocations

    with (
        open_case(tmp_path / "empty.gpkg") as case,
        pytest.raises(NotFoundError, match="no clustering run"),
    ):
        relocations(case)
