"""The case contract: the same tests on a case file and on a team case (no mock).

Each kind of case is made once for the module (tests/team/contract_cases.py: the demo's
exports ingested, a waybill file ingested again, sellers linked, sites found, S001 reviewed
twice, a tip sheet exported), each step as the person whose part it is: amira ingests, li
reviews, wang reads, zhao exports (tests/team/conftest.py). A case file is opened with the
same names as its actor, so both audit logs name the same people.

The ``built`` fixture is parametrised over both kinds; the tests that take it run the same
assertions on each. The tests that take ``file_case`` and ``team_case`` compare the two,
value for value, where the values must be equal. Where the kinds differ by design (the team
case records the connected role, never a name the caller gives) the difference is asserted
and explained; where they differ in a way that looks like a bug the test is a strict xfail
naming the difference.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import pandas as pd
import psycopg
import pytest
from conftest import TEMPLATE, Store
from contract_cases import (
    ANALYST,
    CASE,
    EXPORTER,
    N_NEW,
    N_REPEATED,
    REVIEWER,
    STEPS,
    VIEWER,
    Built,
    build,
    file_opener,
    file_scratch,
    waybills_again,
)

from workbench.errors import InputError, NotFoundError, TeamAccessError
from workbench.opening import open_case

KINDS = ["file", "team"]
TABLES = ("sellers", "identifiers", "evidence", "locations")  # keyed or kept once: all new
# a case file's sites() is a GeoDataFrame of parsed values; what the team case's gives
_SITE_JSON = ("sellers", "networks", "brands", "score_parts", "stability", "precision")


# -- the two cases ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def setting(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The demo's exports (with defects: 6 faulty waybills quarantined), the waybill file
    ingested again and the organisation's keys: what both kinds are made from."""
    import workbench
    from workbench.export._keys import init_keys

    root = tmp_path_factory.mktemp("contract")
    demo = workbench.generate_demo(
        root / "data", seed=11, n_shipments=3_000, n_background_sellers=50, defects=True
    )
    again = waybills_again(demo, root / "again.csv")
    return SimpleNamespace(root=root, demo=demo, again=again, keys=init_keys(root / "keys"))


@pytest.fixture(scope="module")
def file_case(setting: SimpleNamespace) -> Built:
    path = setting.root / f"{CASE}.case"
    opener = file_opener(path)
    built = build(
        "file", opener, setting.demo, setting.again, setting.root / "out-file", setting.keys
    )
    built.scratch = file_scratch(path)
    return built


@pytest.fixture(scope="module")
def team_case(pg_server, setting: SimpleNamespace) -> Iterator[Built]:
    name = "team_contract"
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    store = Store(pg_server, name)

    def opener(person: str, **options: Any) -> Any:
        return open_case(store.url(person, CASE), **options)

    yield build(
        "team", opener, setting.demo, setting.again, setting.root / "out-team", setting.keys
    )
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="module", params=KINDS)
def built(request: pytest.FixtureRequest) -> Built:
    """Each kind of case after the steps, with what the steps returned."""
    return request.getfixturevalue(f"{request.param}_case")


@pytest.fixture
def case(built: Built) -> Iterator[Any]:
    """The case, open as the viewer (a case file: with the viewer as actor)."""
    with built.open(VIEWER) as opened:
        yield opened


def _reports(built: Built) -> dict[str, dict[str, Any]]:
    return {r["table"]: r for r in built.first}


# -- ingest -----------------------------------------------------------------------------------
def test_every_row_read_is_stored_or_quarantined(built: Built) -> None:
    reports = _reports(built)
    assert list(reports) == ["sellers", "identifiers", "shipments", "evidence", "locations"]
    for table, r in reports.items():
        assert r["rows_read"] == r["new"] + r["replaced_or_already_present"] + r["quarantined"]
        assert r["rows_read"] > 0, table
    # the demo's defects are faulty waybills only; the other files are clean
    assert reports["shipments"]["quarantined"] > 0
    assert {t: r["quarantined"] for t, r in reports.items() if t != "shipments"} == dict.fromkeys(
        TABLES, 0
    )


def test_a_waybill_ingested_again_is_replaced_and_counted_once(
    built: Built, setting: SimpleNamespace, case
) -> None:
    first = _reports(built)["shipments"]
    assert built.n_after_first == first["new"]
    again = built.again  # 40 waybills again (changed), 10 new: tests/team/contract_cases.py
    assert (again["rows_read"], again["new"], again["replaced_or_already_present"]) == (
        N_REPEATED + N_NEW, N_NEW, N_REPEATED,
    )  # fmt: skip
    assert again["quarantined"] == 0
    assert case.n_waybills() == first["new"] + N_NEW
    ships = case.waybills()
    assert len(ships) == case.n_waybills()
    assert ships["shipment_id"].is_unique  # replaced, not stored twice
    repeated = pd.read_csv(setting.again, dtype=str).head(N_REPEATED)["shipment_id"]
    items = ships.set_index("shipment_id").loc[repeated, "items"]
    assert (items == 99).all()  # the later file's values won


def test_quarantine_is_read_by_table_and_reason(built: Built, case) -> None:
    ships = _reports(built)["shipments"]
    reasons = ships["quarantine_reasons"]  # {reason: rows}
    quarantine = case.quarantine(table="shipments")
    assert len(quarantine) == ships["quarantined"]
    assert quarantine["reason"].value_counts().to_dict() == reasons
    for reason, n in reasons.items():
        one = case.quarantine(table="shipments", reason=reason)
        assert (len(one), set(one["reason"])) == (n, {reason})
        assert one.index.tolist() == list(range(n))  # renumbered
    assert case.quarantine(table="sellers").empty
    assert case.quarantine(reason="no such reason").empty
    assert len(case.quarantine()) == ships["quarantined"]


@pytest.mark.parametrize("table", TABLES)
def test_the_curated_tables_hold_the_rows_ingested(built: Built, case, table: str) -> None:
    frame = case.table(table)
    assert len(frame) == _reports(built)[table]["new"] > 0
    assert set(frame["ingest_seq"]) == {2}  # the first ingest, audit entry 2
    assert "fid" not in frame.columns


def test_a_table_that_is_not_there_is_refused(case) -> None:
    with pytest.raises(NotFoundError, match="no table 'nope' in a"):
        case.table("nope")


def test_locations_are_points_in_a_case_file_and_a_plain_frame_in_a_team_case(
    built: Built, case
) -> None:
    # by design: TeamCase.table is documented as "a plain frame" (its geometry stays in
    # PostGIS), Case.table gives point layers as GeoDataFrames; both carry lat and lon
    locations = case.table("locations")
    assert {"lat", "lon"} <= set(locations.columns)
    assert isinstance(locations, gpd.GeoDataFrame) is (built.kind == "file")


def test_a_table_read_without_geometry_is_a_plain_frame(built: Built, case) -> None:
    locations = case.table("locations", geometry=False)
    assert not isinstance(locations, gpd.GeoDataFrame)
    assert len(locations) == _reports(built)["locations"]["new"]


# -- networks and sites -----------------------------------------------------------------------
def test_linking_stores_the_networks_it_returns(built: Built, case) -> None:
    returned = built.networks.membership[["seller_id", "network_id"]]
    stored = case.table("networks")[["seller_id", "network_id"]]
    pd.testing.assert_frame_equal(stored, returned.reset_index(drop=True), check_dtype=False)
    assert len(stored) == len(case.table("sellers"))  # every account, in a network or alone
    assert (
        case.networks().summary["network_id"].tolist()
        == built.networks.summary["network_id"].tolist()
    )


def test_the_run_is_listed_and_latest(built: Built, case) -> None:
    runs = case.runs()
    assert runs["run_id"].tolist() == [built.run] == [case.latest_run()]
    row = runs.iloc[0]
    assert (row["parameters"]["radius_m"], row["actor"], row["audit_seq"]) == (300, ANALYST, 6)
    assert row["n_sites"] == len(case.sites(built.run)) > 0


def test_sites_come_by_rank_with_their_latest_review(built: Built, case) -> None:
    sites = case.sites(built.run)
    n = len(sites)
    assert sites["site_id"].tolist() == [f"S{i:03d}" for i in range(1, n + 1)]
    assert sites["rank"].tolist() == list(range(1, n + 1))
    # S001: needs-work, then confirmed (the latest shows); none of the others reviewed
    assert sites["status"].tolist() == ["confirmed"] + ["unreviewed"] * (n - 1)
    assert case.sites()["site_id"].tolist() == sites["site_id"].tolist()  # default: latest


def test_sites_of_an_unknown_run_are_refused(case) -> None:
    with pytest.raises(NotFoundError, match="run_id='nope'"):
        case.sites("nope")


def test_sites_are_a_layer_of_parsed_values(built: Built, case) -> None:
    # the README: case.sites(run_id) -> "GeoDataFrame with hull and latest review status"
    sites = case.sites()
    assert isinstance(sites, gpd.GeoDataFrame)
    assert sites["hull"].notna().all()
    first = sites.iloc[0]
    assert isinstance(first["sellers"], list) and isinstance(first["score_parts"], dict)
    assert all(isinstance(v, bool) for v in sites["stable"].tolist())
    assert pd.api.types.is_datetime64_any_dtype(sites["first_shipped"])


# -- reviews ----------------------------------------------------------------------------------
def test_every_review_is_kept_and_the_latest_shows(built: Built, case) -> None:
    history = case.reviews("S001")
    assert history["status"].tolist() == ["needs-work", "confirmed"]
    assert history["by"].tolist() == [REVIEWER, REVIEWER]
    assert history["audit_seq"].tolist() == [8, 9]  # after the note (entry 7)
    assert [r["status"] for r in built.reviews] == ["needs-work", "confirmed"]
    assert {r["by"] for r in built.reviews} == {REVIEWER}
    assert case.reviews("S002").empty
    assert case.reviews(run_id="nope").empty
    assert case.sites().set_index("site_id").loc["S001", "status"] == "confirmed"


@pytest.mark.parametrize(
    ("site", "status", "error", "message"),
    [
        ("S999", "confirmed", NotFoundError, "site_id='S999' is not in run"),
        ("S002", "maybe", InputError, "status='maybe'; expected one of"),
    ],
)
def test_a_review_that_cannot_be_recorded_is_refused(
    built: Built, site: str, status: str, error: type, message: str
) -> None:
    with built.open(REVIEWER) as reviewer:
        before = len(reviewer.audit())
        with pytest.raises(error, match=message):
            reviewer.review(site, status=status)
        assert len(reviewer.audit()) == before  # nothing written
        assert reviewer.reviews(site).empty


def test_who_acts_is_the_actor_given_or_the_connected_role(built: Built) -> None:
    # by design: a case file records whoever the caller names as actor; a team case
    # records the database role it is connected as (open_case ignores actor= for a URL)
    with built.open(VIEWER, actor="lead") as opened:
        assert opened.actor == ("lead" if built.kind == "file" else VIEWER)


def test_a_reviewer_named_by_the_caller(built: Built, tmp_path: Path) -> None:
    # by design: a case file records the reviewer given in by=; a team case refuses a
    # name other than the connected role's (its database would record the role anyway)
    with built.scratch(tmp_path)(REVIEWER) as reviewer:
        before = reviewer.audit()
        if built.kind == "file":
            decision = reviewer.review("S002", status="rejected", by="lead")
            assert decision["by"] == reviewer.reviews("S002")["by"].item() == "lead"
            assert reviewer.audit()["actor"].iloc[-1] == "lead"
        else:
            with pytest.raises(InputError, match="by='lead': a team case records the connected"):
                reviewer.review("S002", status="rejected", by="lead")
            assert len(reviewer.audit()) == len(before)
        assert reviewer.verify_audit().ok


# -- audit ------------------------------------------------------------------------------------
def test_the_audit_log_holds_every_step_in_order_and_verifies(case) -> None:
    log = case.audit()
    assert list(zip(log["action"], log["actor"], strict=True)) == STEPS
    assert log["seq"].tolist() == list(range(1, len(STEPS) + 1))
    assert log["prev_hash"].iloc[1:].tolist() == log["hash"].iloc[:-1].tolist()  # a chain
    check = case.verify_audit()
    assert check.ok, str(check)


def test_an_action_done_outside_is_logged_as_who_did_it(built: Built, case) -> None:
    entry = case.audit().set_index("seq").loc[built.logged]
    assert built.logged == STEPS.index(("note", ANALYST)) + 1
    assert (entry["action"], entry["actor"]) == ("note", ANALYST)
    assert json.loads(entry["parameters"]) == {"text": "test buy 14 ordered"}


# -- a site's waybills, points and weeks; its tip sheet --------------------------------------
def test_a_sites_points_weeks_and_waybills_add_up(case) -> None:
    site = case.sites().iloc[0]  # S001
    points = case.site_points("S001")
    weeks = case.site_activity(site="S001")
    ships = case.site_shipments("S001")
    assert len(points) == site["n_points"]
    assert points["n_shipments"].sum() == weeks["n_shipments"].sum() == site["n_shipments"]
    assert len(ships) == site["n_shipments"]
    assert ships["value_cny"].sum() == pytest.approx(weeks["value_cny"].sum())
    assert set(weeks["site_id"]) == {"S001"}
    assert weeks["week"].dt.day_of_week.eq(0).all()  # Mondays
    everything = case.site_activity()
    assert set(everything["site_id"]) == set(case.sites()["site_id"])


def test_a_sites_waybills_have_points_only_in_a_case_file(built: Built, case) -> None:
    # by design: TeamCase.site_shipments is documented "without its geometry column"
    ships = case.site_shipments("S001")
    assert isinstance(ships, gpd.GeoDataFrame) is (built.kind == "file")
    assert {"lat", "lon", "shipment_id"} <= set(ships.columns)


def test_the_waybills_of_a_site_not_in_the_run_are_refused(case) -> None:
    with pytest.raises(NotFoundError, match="site_id='S999' is not in run"):
        case.site_shipments("S999")


def test_relocations_and_events_of_a_case_without_events(case) -> None:
    assert case.events().empty  # none recorded (record_event is a case file's only)
    assert case.events(kind="raid").empty
    moves = case.relocations()
    spans = moves.spans
    assert sorted(spans["site_id"]) == sorted(case.sites()["site_id"])  # one span a site
    assert len(moves.operations) > 0  # the demo's networks run sites side by side


def test_the_finders_input_is_every_waybill(built: Built) -> None:
    with built.open(ANALYST) as analyst:
        frame = analyst.site_input()
        assert len(frame) == analyst.n_waybills()
        assert isinstance(frame["seller_id"].dtype, pd.CategoricalDtype)


def test_a_viewer_reads_the_finders_input_only_from_a_case_file(built: Built, case) -> None:
    # by design: a team case refuses the finder's input to a role that may not store a
    # run (workbench_ingest), before reading it; a case file has no roles
    if built.kind == "file":
        assert len(case.site_input()) == case.n_waybills()
    else:
        with pytest.raises(TeamAccessError, match="workbench_ingest"):
            case.site_input()


def test_a_tip_sheet_bundle_verifies_and_is_audited(built: Built, setting, case) -> None:
    from workbench.export._bundle import verify_bundle

    check = verify_bundle(built.bundle, key=setting.keys / "signing-key.pub.pem")
    assert check.ok, str(check)
    entry = case.audit().iloc[-1]
    parameters = json.loads(entry["parameters"])
    assert (entry["action"], entry["actor"]) == ("export tip sheet", EXPORTER)
    assert (parameters["bundle"], parameters["site_ids"]) == (built.bundle.name, ["S001"])
    assert parameters["run_id"] == built.run


# -- the two kinds, value for value ----------------------------------------------------------
@pytest.fixture
def pair(file_case: Built, team_case: Built) -> Iterator[tuple[Any, Any]]:
    """Both cases, open as the viewer: (the case file, the team case)."""
    with file_case.open(VIEWER) as mine, team_case.open(VIEWER) as theirs:
        yield mine, theirs


def test_both_kinds_report_the_same_ingests(file_case: Built, team_case: Built) -> None:
    assert team_case.first == file_case.first
    assert team_case.again == file_case.again
    assert team_case.n_after_first == file_case.n_after_first


@pytest.mark.parametrize("table", [*TABLES, "quarantine", "networks", "network_links"])
def test_both_kinds_hold_the_same_rows(pair, table: str) -> None:
    mine, theirs = pair
    # a case file's locations are a GeoDataFrame (see above); the rows are compared
    expected = pd.DataFrame(mine.table(table)).drop(columns=["geometry"], errors="ignore")
    assert len(expected) > 0
    pd.testing.assert_frame_equal(theirs.table(table), expected, obj=table)


@pytest.mark.parametrize(("table", "made_at"), [("runs", "created_at"), ("reviews", "at")])
def test_both_kinds_hold_the_same_runs_and_reviews(pair, table: str, made_at: str) -> None:
    mine, theirs = pair
    # each row was made when its step ran: the times differ, nothing else
    expected = mine.table(table).drop(columns=[made_at])
    assert len(expected) > 0
    pd.testing.assert_frame_equal(theirs.table(table).drop(columns=[made_at]), expected)


def test_both_kinds_read_the_same_waybills(pair) -> None:
    mine, theirs = pair
    pd.testing.assert_frame_equal(theirs.waybills(), mine.waybills())
    # a box around S001: the row groups that overlap it (here every row: a row group holds
    # 100,000 waybills); the columns asked for, brand as a categorical
    site = mine.sites().iloc[0]
    box = (site["lat"] - 0.01, site["lon"] - 0.01, site["lat"] + 0.01, site["lon"] + 0.01)
    options = {"columns": ["shipment_id", "seller_id", "brand"], "bbox": box}
    expected = mine.waybills(**options, categorical=["brand"])
    assert list(expected.columns) == [*options["columns"], "ingest_seq"] and len(expected) > 0
    pd.testing.assert_frame_equal(theirs.waybills(**options, categorical=["brand"]), expected)
    cells = [
        c.to_pandas().astype({"seller_id": str, "brand": str})
        for c in (mine.waybill_cells(), theirs.waybill_cells())
    ]
    pd.testing.assert_frame_equal(cells[1], cells[0])


def test_both_kinds_find_the_same_sites(file_case: Built, team_case: Built, pair) -> None:
    mine, theirs = pair
    assert team_case.run == file_case.run  # the run id hashes the parameters and the points
    expected = mine.sites(file_case.run)
    got = theirs.sites(team_case.run)
    assert isinstance(got, gpd.GeoDataFrame)
    pd.testing.assert_frame_equal(
        pd.DataFrame(got).drop(columns=["hull", "geometry"]),
        pd.DataFrame(expected).drop(columns=["hull", "geometry"]),
        check_dtype=False,
    )
    hulls = [gpd.GeoSeries(list(frame["hull"])) for frame in (got, expected)]
    assert hulls[0].geom_equals_exact(hulls[1], tolerance=0).all()
    assert got.geometry.geom_equals_exact(expected.geometry, tolerance=0).all()


def test_both_kinds_give_the_same_points_weeks_and_waybills_of_every_site(pair) -> None:
    mine, theirs = pair
    pd.testing.assert_frame_equal(theirs.site_activity(), mine.site_activity())
    for site in mine.sites()["site_id"]:
        pd.testing.assert_frame_equal(theirs.site_points(site), mine.site_points(site), obj=site)
        # the same rows in the same order (part by part, as stored), every value
        expected = pd.DataFrame(mine.site_shipments(site)).drop(columns=["geometry"])
        assert len(expected) > 0
        pd.testing.assert_frame_equal(theirs.site_shipments(site), expected, obj=site)


def _by_id(ships: pd.DataFrame) -> pd.DataFrame:
    return ships.sort_values("shipment_id", ignore_index=True)


def test_both_kinds_give_a_sites_waybills_in_the_same_order(pair) -> None:
    mine, theirs = pair
    expected = mine.site_shipments("S001")["shipment_id"].tolist()
    assert theirs.site_shipments("S001")["shipment_id"].tolist() == expected


def test_both_kinds_give_the_same_networks_and_relocations(pair) -> None:
    mine, theirs = pair
    for part in ("membership", "summary", "links"):
        expected = getattr(mine.networks(), part)
        assert len(expected) > 0
        pd.testing.assert_frame_equal(getattr(theirs.networks(), part), expected, obj=part)
    for part in ("relocations", "operations", "spans"):
        pd.testing.assert_frame_equal(
            getattr(theirs.relocations(), part), getattr(mine.relocations(), part), obj=part
        )
    pd.testing.assert_frame_equal(theirs.events(), mine.events())


def test_both_kinds_give_the_finder_the_same_input(file_case: Built, team_case: Built) -> None:
    with file_case.open(ANALYST) as mine, team_case.open(ANALYST) as theirs:
        pd.testing.assert_frame_equal(theirs.site_input(), mine.site_input())


def test_both_kinds_log_the_same_parameters(pair) -> None:
    mine, theirs = pair
    logs = [[json.loads(p) for p in case.audit()["parameters"]] for case in (mine, theirs)]
    for log in logs:  # the export's reference is made from the case's path or URL: it
        for key in ("reference", "bundle", "manifest_sha256"):  # differs, by design
            assert log[-1].pop(key)
    # by design (team/_audit.py): a team case's review entry records no table state but
    # names its row in reviews (fid), which verify checks one for one
    reviews = [i for i, (action, _) in enumerate(STEPS) if action == "review"]
    assert [logs[1][i].pop("fid") for i in reviews] == [1, 2]
    assert logs[1] == logs[0]


def test_both_kinds_export_the_same_files(file_case: Built, team_case: Built) -> None:
    def files(bundle: Path) -> list[str]:
        return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())

    assert files(file_case.bundle) == files(team_case.bundle)
    assert "data/case.gpkg" in files(team_case.bundle)
