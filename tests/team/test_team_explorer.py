"""The explorer on a team case: the reads it makes answer as a case file's from the same
exports (frame for frame), the same screen opens on both, and a review recorded from it is
stored as the connected role, or refused on screen for a viewer.

One team store and one case file for the module (ingested once, sites found once, then a
second ingest replaces some waybills, so parts with replaced rows are counted from their
rows); the tests that write use their own store.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import psycopg
import pytest
import shapely
from conftest import TEMPLATE, Store, export_files
from pandas.testing import assert_frame_equal

from workbench.errors import NotFoundError, TeamAccessError
from workbench.explorer._screen import Explorer, explore
from workbench.explorer._seen import SeenBefore
from workbench.explorer._source import plain_table, run_sites
from workbench.opening import open_case
from workbench.team import parse_url, push

TABLES = ("sellers", "networks", "locations", "evidence", "identifiers", "network_links")


def _replacing_shipments(demo: Any, folder: Path) -> Path:
    """The first 300 waybills of the demo again, with another brand: a later ingest
    replaces them (their rows in the first parts are marked replaced)."""
    ships = pd.read_csv(demo.shipments, dtype=str, keep_default_na=False).head(300)
    ships["brand"] = "Adidas"
    path = folder / "shipments-again.csv"
    ships.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def world(pg_server, demo_exports, tmp_path_factory) -> Any:
    """The same exports in a case file and a team case: ingested, sites found, then 300
    waybills ingested again (replacing theirs)."""
    root = tmp_path_factory.mktemp("team-explorer")
    name = "team_explorer"
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
    store = Store(pg_server, name)
    again = {"shipments": _replacing_shipments(demo_exports, root)}
    with open_case(root / "local.gpkg", actor="amira") as local:
        local.ingest_files(export_files(demo_exports))
        run = local.find_sites(300)
        local.ingest_files(again)
    with open_case(store.url("amira", "yiwu")) as team:
        team.ingest_files(export_files(demo_exports))
        assert team.find_sites(300) == run
        team.ingest_files(again)
    local = open_case(root / "local.gpkg", create=False)
    team = open_case(store.url("wang", "yiwu"), create=False)  # a viewer reads
    yield SimpleNamespace(root=root, store=store, local=local, team=team, run=run)
    local.close()
    team.close()
    with psycopg.connect(pg_server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"DROP DATABASE {name} WITH (FORCE)")


def _objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Every value as a Python object, every missing one as None."""
    return frame.astype(object).where(frame.notna(), None)


def _row(explorer: Explorer, site_id: str) -> dict[str, Any]:
    return next(r for r in explorer.table.rows if r["site_id"] == site_id)


def _unnamed(page: str) -> str:
    return re.sub(r"[0-9a-f]{32}", "ID", page)


def _page(explorer: Explorer) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    explorer.map.post = sent.append  # type: ignore[method-assign]
    return sent


# -- the reads, frame for frame ----------------------------------------------------------------
def test_the_count_companions_are_the_case_files(world) -> None:
    mine, theirs = world.team.waybill_cells(), world.local.waybill_cells()
    assert theirs.num_rows > 100
    assert mine.equals(theirs)  # schema, dictionaries and every count, in the same order
    # the replaced waybills count once, with their new brand (their parts counted from rows)
    assert int(pd.Series(mine.column("n").to_numpy()).sum()) == world.local.n_waybills()
    brands = mine.column("brand").to_pylist()
    assert "Adidas" in brands


@pytest.mark.parametrize(
    "bbox", [None, (25.0, 118.5, 26.0, 119.5), (22.0, 113.0, 23.5, 115.0), (0.0, 0.0, 1.0, 1.0)]
)
def test_a_viewports_waybills_are_the_case_files(world, bbox) -> None:
    mine, theirs = world.team.waybills(bbox=bbox), world.local.waybills(bbox=bbox)
    assert_frame_equal(mine, theirs)
    if bbox is None:
        assert len(mine) == world.local.n_waybills()


def test_waybill_columns_are_checked_and_categoricals_kept(world) -> None:
    with pytest.raises(KeyError, match="no waybill column"):
        world.team.waybills(["lat", "nonsense"])
    columns = ["seller_id", "brand", "lat", "lon"]
    mine = world.team.waybills(columns, categorical=["seller_id", "brand"])
    theirs = world.local.waybills(columns, categorical=["seller_id", "brand"])
    assert isinstance(mine["seller_id"].dtype, pd.CategoricalDtype)
    assert_frame_equal(mine, theirs)


@pytest.mark.parametrize("name", TABLES)
def test_the_tables_the_explorer_reads_are_the_case_files(world, name: str) -> None:
    mine, theirs = plain_table(world.team, name), plain_table(world.local, name)
    assert len(theirs) > 0
    assert_frame_equal(mine, theirs)


def test_the_audit_log_and_the_waybills_are_no_table_to_read(world) -> None:
    for name in ("audit", "waybill_parts", "nonsense"):
        with pytest.raises(NotFoundError, match=f"no table '{name}'"):
            world.team.table_frame(name)
    with pytest.raises(NotFoundError, match="run_id='nope' is not in this team case"):
        world.team.site_layer("nope")


def test_a_runs_sites_points_and_weeks_are_the_case_files(world) -> None:
    sites = run_sites(world.team, world.run)
    assert_frame_equal(sites, run_sites(world.local, world.run))  # hulls, lists, status
    assert isinstance(sites["hull"].iloc[0], shapely.Polygon)
    assert_frame_equal(world.team.site_activity(world.run), world.local.site_activity(world.run))
    for site in sites["site_id"].iloc[[0, len(sites) // 2, -1]]:
        assert_frame_equal(
            world.team.site_activity(world.run, site=site),
            world.local.site_activity(world.run, site=site),
        )
        points = world.team.site_points(site)  # the latest run, by default
        assert len(points) > 0
        assert_frame_equal(points, world.local.site_points(site, world.run))


def test_a_reruns_input_is_the_case_files_and_only_the_analyst_reads_it(world) -> None:
    with pytest.raises(TeamAccessError, match="finding sites needs the workbench_ingest role"):
        world.team.site_input()  # wang views: refused before a waybill is read
    with open_case(world.store.url("amira", "yiwu"), create=False) as team:
        assert_frame_equal(team.site_input(), world.local.site_input())


# -- the screen ----------------------------------------------------------------------------
def test_the_same_screen_opens_on_a_team_case(world) -> None:
    team, local = explore(world.team), explore(world.local)
    assert team.run_id == local.run_id == world.run
    # every point, site and address, escaped alike (folium names its elements at random)
    assert _unnamed(team.map.html) == _unnamed(local.map.html)
    assert "<img src=x" not in team.map.html  # the hostile shop names stay escaped
    assert team.table.rows == local.table.rows
    assert team.data.days == local.data.days
    assert team.data.index.brands == local.data.index.brands
    assert not team.seen.checked and not local.seen.checked  # never cross-referenced


def test_filters_draw_what_they_draw_on_the_case_file(world) -> None:
    team, local = explore(world.team), explore(world.local)
    sent = {"team": _page(team), "local": _page(local)}
    for explorer in (team, local):
        explorer.brand_filter.value = ("Nike",)
        explorer.min_score.value = 20.0
        explorer.window = ("2026-03-02", "2026-03-29")
    for kind in ("points", "sites"):
        mine = [m for m in sent["team"] if m["type"] == kind][-1]
        theirs = [m for m in sent["local"] if m["type"] == kind][-1]
        assert mine == theirs
    assert team.table.rows == local.table.rows
    assert team.message.value == local.message.value


def test_selecting_a_site_shows_its_details_and_waybills(world) -> None:
    team, local = explore(world.team), explore(world.local)
    _page(team)
    _page(local)
    site = team.table.rows[0]["site_id"]
    team.selected_site = local.selected_site = site
    assert team.details.value == local.details.value
    assert "Weekly shipments" in team.details.value and "<svg" in team.details.value
    assert team.selection is not None and local.selection is not None
    assert team.selection.n_shipments == local.selection.n_shipments > 0
    assert_frame_equal(
        pd.DataFrame(team.selection.shipments), pd.DataFrame(local.selection.shipments)
    )


def test_a_drawn_area_selects_what_it_selects_on_the_case_file(world) -> None:
    team, local = explore(world.team), explore(world.local)
    _page(team)
    _page(local)
    ring = [[118.9, 25.3], [119.2, 25.3], [119.2, 25.6], [118.9, 25.6]]
    mine, theirs = team.select_polygon(ring), local.select_polygon(ring)
    assert mine.n_shipments == theirs.n_shipments
    assert_frame_equal(pd.DataFrame(mine.sellers), pd.DataFrame(theirs.sellers))
    assert_frame_equal(pd.DataFrame(mine.shipments), pd.DataFrame(theirs.shipments))


def test_a_viewer_is_refused_a_review_and_a_rerun_on_screen(world) -> None:
    explorer = explore(world.team)
    _page(explorer)
    assert explorer.review("confirmed") is None  # nothing selected yet
    explorer.selected_site = explorer.table.rows[0]["site_id"]
    explorer.note.value = "looks like a workshop"
    explorer.review_buttons["confirmed"].click()  # as the panel's button does
    said = explorer.message.value
    assert "refused role &#x27;wang&#x27;: recording a review needs the workbench_review" in said
    assert "#b00020" in said  # shown as an error
    assert explorer.note.value == "looks like a workshop"  # kept, to try again
    assert world.team.reviews(run_id=world.run).empty
    explorer.radius.value = 250.0
    assert explorer.rerun() == world.run  # refused before reading the waybills
    assert "finding sites needs the workbench_ingest role" in explorer.message.value


# -- writing from the screen (each its own store) -----------------------------------------------
def test_a_review_from_the_explorer_is_stored_as_the_connected_role(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_case(store.url("li", "putian"), create=False) as team:
        explorer = explore(team)
        _page(explorer)
        explorer.selected_site = "S002"
        assert explorer.review("needs-work", note="second test buy pending") is not None
        explorer.note.value = "a courier hub <b>not</b> a workshop"
        record = explorer.review("rejected")  # the latest decision is the site's status
        assert record is not None and record["by"] == "li"
        assert "Recorded: S002 rejected by li" in explorer.message.value
        assert _row(explorer, "S002")["status"] == "rejected"
        assert run_sites(team, None).set_index("site_id").loc["S002", "status"] == "rejected"
        assert "a courier hub &lt;b&gt;not&lt;/b&gt; a workshop" in explorer.details.value
        stored = team.reviews("S002")
        assert stored["by"].tolist()[-1] == "li" and stored["status"].tolist()[-1] == "rejected"
        assert team.audit()["actor"].tolist()[-1] == "li"
        assert team.verify_audit().ok
        # a reviewer named otherwise is refused on screen: the store records who is connected
        other = explore(team, reviewer="lead")
        _page(other)
        other.selected_site = "S001"
        assert other.review("confirmed") is None
        assert "records the connected role" in other.message.value


def test_a_rerun_from_the_explorer_stores_a_run_as_the_analyst(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_case(store.url("amira", "putian"), create=False) as team:
        explorer = explore(team)
        sent = _page(explorer)
        first = explorer.run_id
        explorer.radius.value = 150.0
        new = explorer.rerun()
        assert new != first and team.latest_run() == new
        assert team.runs().set_index("run_id").loc[new, "parameters"]["radius_m"] == 150
        assert len([m for m in sent if m["type"] == "sites"][-1]["records"]) == len(
            run_sites(team, new)
        )
        assert team.audit()["action"].tolist()[-1] == "find sites"
        assert team.verify_audit().ok


def test_recorded_events_of_a_pushed_case_are_drawn(store, case_file) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    with open_case(case_file, create=False) as local:
        local.record_event("raid", "2026-03-04", site_id="S001", note=hostile)
        local.record_event("takedown", "2026-02-01", seller_ids=["S000001"], note="batch 7")
        expected = local.events()
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_case(store.url("wang", "putian"), create=False) as team:
        assert_frame_equal(team.events(), expected)
        explorer = explore(team)
        sent = _page(explorer)
        assert "EV0001" in explorer.map.html  # the raid, on its site (the takedown: no place)
        assert hostile not in explorer.map.html
        explorer.window = ("2026-03-09", "2026-03-15")  # a week after it: not drawn
        assert [m for m in sent if m["type"] == "events"][-1]["payload"]["id"] == []


# -- seen before ----------------------------------------------------------------------------------
_SPEC = importlib.util.spec_from_file_location(
    "seen_cases", Path(__file__).resolve().parents[1] / "export" / "seen_cases.py"
)
assert _SPEC is not None and _SPEC.loader is not None
seen_cases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(seen_cases)


def test_what_a_pushed_case_was_seen_with_is_counted_and_listed_alike(store, tmp_path) -> None:
    world = seen_cases.build(tmp_path)
    world.case.close()
    push(world.case.path, parse_url(store.url("amira", "putian-2026")))
    with (
        open_case(world.case.path, create=False) as local,
        open_case(store.url("wang", "putian-2026"), create=False) as team,
    ):
        mine, theirs = SeenBefore(team, world.run), SeenBefore(local, world.run)
        assert mine.checked and theirs.checked
        assert (mine.by_seller, mine.by_network, mine.by_site) == (
            theirs.by_seller,
            theirs.by_network,
            theirs.by_site,
        )
        assert mine.by_seller and mine.by_network and mine.by_site
        sites = run_sites(local, world.run)
        networks = plain_table(local, "networks")
        network_of = dict(zip(networks["seller_id"], networks["network_id"], strict=True))
        assert mine.site_counts(sites, network_of) == theirs.site_counts(sites, network_of)
        site = sites.set_index("site_id").loc[world.workshop]
        rows = mine.rows(site["sellers"], network_of, world.workshop)
        assert rows is not None and len(rows) == 8  # as the case file's explorer lists them
        # the same values; a case file's columns that some of its queries left empty come
        # back as objects (its frames are concatenated), the team case's as text
        expected = theirs.rows(site["sellers"], network_of, world.workshop)
        assert_frame_equal(_objects(rows), _objects(expected))
        assert team.cross_reference_rows(world.run).empty  # no account, network or site given
        # every match that still applies, as a case file's bundle reads them
        from workbench.export._seen import read_cross_references

        listed = team.cross_references(world.run)
        assert len(listed) > 0
        assert_frame_equal(
            _objects(listed.reset_index(drop=True)),
            _objects(read_cross_references(local, run_id=world.run)[list(listed.columns)]),
            check_dtype=False,
        )
        panels = []
        for case in (team, local):
            explorer = explore(case)
            _page(explorer)
            explorer.selected_site = world.workshop
            panels.append(explorer.details.value)
            assert _row(explorer, world.workshop)["seen_before"] == 8
        assert "<h4>Seen before (8)</h4>" in panels[0]
        assert panels[0] == panels[1]  # the partner's hostile name escaped alike


# -- a stored file read by byte ranges ------------------------------------------------------------
def test_a_stored_file_is_read_by_ranges_across_its_chunks(store) -> None:
    from workbench.team._stored_file import StoredFile

    data = bytes(range(256)) * 40  # 10,240 bytes in chunks of 4,000, 4,000 and 2,240
    chunks = [data[0:4000], data[4000:8000], data[8000:]]
    with open_case(store.url("amira", "ranges")) as team:
        case_id = team.case_id
    with psycopg.connect(store.url()) as con:
        for i, chunk in enumerate(chunks):
            con.execute(
                "INSERT INTO waybill_files (case_id, file, chunk, data) VALUES (%s, %s, %s, %s)",
                (case_id, "part-x.parquet", i, chunk),
            )
        con.commit()
        stored = StoredFile(con, case_id, "part-x.parquet", [len(c) for c in chunks])
        assert stored.seek(0, 2) == len(data)  # its size, from the listed chunk sizes
        stored.seek(3990)
        assert stored.read(4020) == data[3990:8010]  # the end of one chunk to the next's next
        assert stored.tell() == 8010
        assert stored.read() == data[8010:]
        assert stored.read(5) == b""  # at the end
        stored.seek(-6, 2)
        buffer = bytearray(10)
        assert stored.readinto(buffer) == 6 and bytes(buffer[:6]) == data[-6:]
        gone = StoredFile(con, case_id, "part-gone.parquet", [100])
        with pytest.raises(FileNotFoundError, match=r"part-gone\.parquet is no longer"):
            gone.read(10)
