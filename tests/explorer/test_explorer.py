"""The explorer widget's logic without a browser: filters, selections, reviews, re-runs, export.

The map page's events are fed in as the front end would send them (through the MapFrame's
message handler, so they pass the same validation); the commands the widget sends to the page
are recorded instead of sent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import shapely
from page_recorder import Recorder, recorded_explorer

import workbench
from workbench.case._case import open_case
from workbench.errors import InputError
from workbench.explorer._screen import Explorer, explore
from workbench.export._keys import init_keys
from workbench.intake._table import load_table
from workbench.maps._index import Filters

TABLES = ("sellers", "identifiers", "shipments", "locations", "evidence")

HOSTILE = "<img src=x onerror=alert(1)>`${alert(2)}`"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("explorer")
    demo = workbench.generate_demo(
        root / "data", n_shipments=20_000, n_background_sellers=300, hostile_names=True
    )
    case = open_case(root / "case.gpkg", actor="analyst-7")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    run = case.find_sites(300)
    yield SimpleNamespace(root=root, demo=demo, case=case, run=run)
    case.close()


def _from_page(explorer: Explorer, event: dict[str, Any]) -> None:
    """Deliver an event as the front end does: a custom comm message to the MapFrame."""
    explorer.map._on_frontend_msg(explorer.map, event, [])


def _valid_shipments(world: Any) -> pd.DataFrame:
    ships = pd.DataFrame(world.case.table("shipments")).drop(columns="geometry")
    return ships[ships["lat"].notna() & ships["lon"].notna()]


# -- the page ---------------------------------------------------------------------------------
def test_page_is_offline_and_locked_down(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    page = explorer.map.html
    assert "Content-Security-Policy" in page and "connect-src 'none'" in page
    assert "L.Control.Draw" in page and "window.workbenchMap" in page
    # nothing the browser would load: every script, style and image is inline
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page)
    assert "url(http" not in page and "url(//" not in page
    # hostile seller names travel only as escaped JSON
    assert "<img src=x" not in page and "\\u003cimg src=x" in page


def test_initial_map_holds_every_site_and_waybill(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    sites = world.case.sites(world.run)
    assert [r["site_id"] for r in explorer.table.rows] == list(
        sites.sort_values("score", ascending=False, kind="stable")["site_id"]
    )
    summary = explorer.data.index.summary(max_points=explorer.max_points)
    assert int(summary.points["shipments"].sum()) == len(_valid_shipments(world))


# -- filters ----------------------------------------------------------------------------------
def test_brand_filter_redraws_points_and_sites(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    explorer.brand_filter.value = ("Nike",)
    points = page.last("points")["payload"]
    expected = (_valid_shipments(world)["brand"] == "Nike").sum()
    assert sum(points["shipments"]) == expected  # every Nike waybill, nothing else
    sites = page.last("sites")["records"]
    shown = world.case.sites(world.run).set_index("site_id")
    assert sites and all("Nike" in shown.loc[s["id"], "brands"] for s in sites)
    assert {r["site_id"] for r in explorer.table.rows} == {s["id"] for s in sites}


def test_network_date_and_score_filters(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    network = explorer.data.index.networks[0]
    explorer.network_filter.value = (network,)
    members = {s for s, n in explorer.data.network_of.items() if n == network}
    ships = _valid_shipments(world)
    assert (
        sum(page.last("points")["payload"]["shipments"]) == ships["seller_id"].isin(members).sum()
    )
    explorer.network_filter.value = ()
    explorer.start_date.value = pd.Timestamp("2026-03-01").date()
    explorer.end_date.value = pd.Timestamp("2026-03-31").date()
    in_march = ships["shipped_at"].between("2026-03-01", "2026-03-31 23:59:59").sum()
    assert sum(page.last("points")["payload"]["shipments"]) == in_march
    explorer.min_score.value = 50.0
    assert explorer.table.rows and all(r["score"] >= 50 for r in explorer.table.rows)
    assert all(s["score"] >= 50 for s in page.last("sites")["records"])


def test_the_date_pickers_span_the_shipping_days(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    days = pd.to_datetime(_valid_shipments(world)["shipped_at"]).dt.date
    assert (explorer.start_date.value, explorer.end_date.value) == (days.min(), days.max())
    assert explorer.filters.start is None and explorer.filters.end is None  # the whole range


def test_sites_the_page_already_shows_are_not_sent_again(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    explorer.brand_filter.value = ("Nike",)
    assert [m["type"] for m in page.sent] == ["points", "sites"]
    scores = explorer.sites["score"].fillna(0.0)
    assert (scores >= 0.5).all()  # so a minimum of 0.5 hides no site
    explorer.min_score.value = 0.5
    assert [m["type"] for m in page.sent] == ["points", "sites", "points"]
    explorer.brand_filter.value = ()
    assert [m["type"] for m in page.sent][-2:] == ["points", "sites"]


def test_sorting_the_table(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    explorer.table.sort_by, explorer.table.descending = "n_shipments", False
    counts = [r["n_shipments"] for r in explorer.table.rows]
    assert counts == sorted(counts)


# -- selections -------------------------------------------------------------------------------
def test_drawn_polygon_selects_sellers_and_waybills_inside(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    seen: list[Any] = []
    explorer.observe(lambda change: seen.append(change["new"]), names="selection")
    site = world.case.sites(world.run).iloc[0]
    box = shapely.box(
        site["lon"] - 0.01, site["lat"] - 0.01, site["lon"] + 0.01, site["lat"] + 0.01
    )
    ring = [list(c) for c in box.exterior.coords]
    _from_page(explorer, {"type": "draw", "shape": "rectangle", "coordinates": ring})
    assert len(seen) == 1 and seen[0] is explorer.selection
    selection = explorer.selection
    ships = _valid_shipments(world)
    inside = shapely.intersects_xy(box, ships["lon"].to_numpy(), ships["lat"].to_numpy())
    assert len(selection.shipments) == inside.sum()
    assert set(selection.sellers["seller_id"]) >= set(ships.loc[inside, "seller_id"])
    assert set(site["sellers"]) <= set(selection.sellers["seller_id"])
    assert site["site_id"] in set(selection.sites["site_id"])
    assert selection.sellers.crs == "EPSG:4326" and selection.shipments.crs == "EPSG:4326"
    _from_page(explorer, {"type": "draw-clear"})
    assert explorer.selection is None and seen[-1] is None


def test_a_self_crossing_drawing_is_bounded_work(world: Any) -> None:
    import time

    import numpy as np

    explorer, _ = recorded_explorer(world)
    site = world.case.sites(world.run).iloc[0]
    rng = np.random.default_rng(3)
    # 10,000 random corners cross each other millions of times: repairing that took minutes
    ring = np.c_[site["lon"] + rng.random(10_000) / 50, site["lat"] + rng.random(10_000) / 50]
    started = time.monotonic()
    _from_page(explorer, {"type": "draw", "shape": "polygon", "coordinates": ring.tolist()})
    assert time.monotonic() - started < 5
    assert explorer.selection is None
    assert "crosses itself" in explorer.message.value
    # a small bow-tie (one crossing) is still repaired and selects what it covers
    lon, lat = float(site["lon"]), float(site["lat"])
    d = 0.01
    bow = [[lon - d, lat - d], [lon + d, lat + d], [lon + d, lat - d], [lon - d, lat + d]]
    _from_page(explorer, {"type": "draw", "shape": "polygon", "coordinates": bow})
    assert explorer.selection is not None and len(explorer.selection.shipments) > 0


def test_a_reloaded_page_gets_the_current_state_again(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    _from_page(explorer, {"type": "ready"})
    assert page.sent == []  # the first load is the HTML itself: nothing to replay
    explorer.brand_filter.value = ("Nike",)
    explorer.selected_site = "S001"
    sent = len(page.sent)
    _from_page(explorer, {"type": "ready"})
    replayed = page.sent[sent:]
    assert [m["type"] for m in replayed] == ["points", "sites", "zoom-site"]
    assert replayed[0] == page.last("points") and replayed[2]["site_id"] == "S001"


def test_invalid_events_are_ignored(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    for event in (
        {"type": "draw", "shape": "polygon", "coordinates": [[1, 2], [3, 4]]},  # 2 corners
        {"type": "draw", "shape": "circle", "coordinates": [[0, 0], [1, 0], [1, 1]]},
        {"type": "eval", "code": "alert(1)"},
        "site-click",
    ):
        _from_page(explorer, event)  # type: ignore[arg-type]
    assert explorer.selection is None


def test_point_click_selects_that_point(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    ships = _valid_shipments(world)
    where = ships.groupby(["lat", "lon"]).size().idxmax()
    _from_page(explorer, {"type": "point-click", "lat": where[0], "lon": where[1]})
    selection = explorer.selection
    assert selection.source == "point"
    assert (
        len(selection.shipments) == ((ships["lat"] == where[0]) & (ships["lon"] == where[1])).sum()
    )


def test_zoomed_view_shows_single_points(world: Any) -> None:
    explorer, page = recorded_explorer(world, max_points=200)  # the whole map is binned
    assert explorer._whole_cell is not None
    site = world.case.sites(world.run).iloc[0]
    bounds = [
        [site["lat"] - 0.005, site["lon"] - 0.005],
        [site["lat"] + 0.005, site["lon"] + 0.005],
    ]
    _from_page(explorer, {"type": "view", "bounds": bounds, "zoom": 16})
    payload = page.last("points")["payload"]
    assert payload["grid"] is None and 0 < len(payload["lat"]) <= 200
    _from_page(explorer, {"type": "view", "bounds": [[-80, -170], [80, 170]], "zoom": 2})
    assert page.last("points")["payload"]["grid"] == explorer._whole_cell


def test_many_addresses_are_binned_until_a_view_holds_few(world: Any) -> None:
    explorer, page = recorded_explorer(world, max_addresses=100)  # the demo's 1,400 addresses
    located = world.case.table("locations").dropna(subset=["lat", "lon"])
    whole = explorer._address_state.whole_cell
    assert whole is not None
    # the page carries grid cells, every located address counted once, none by address
    binned = _page_payload(explorer.map.html, "locations")
    assert binned["grid"] == whole and sum(binned["count"]) == len(located)
    assert "address" not in binned and len(binned["lat"]) <= 100
    # zoomed in on a site: the addresses in view one by one
    site = world.case.sites(world.run).iloc[0]
    bounds = [[site["lat"] - 0.05, site["lon"] - 0.05], [site["lat"] + 0.05, site["lon"] + 0.05]]
    _from_page(explorer, {"type": "view", "bounds": bounds, "zoom": 13})
    payload = page.last("locations")["payload"]
    inside = located[
        located["lat"].between(bounds[0][0], bounds[1][0])
        & located["lon"].between(bounds[0][1], bounds[1][1])
    ]
    assert 0 < len(inside) <= 100 and payload["grid"] is None
    assert sorted(payload["address"]) == sorted(inside["address"])
    # zoomed out again: the whole map's cells, sent once
    sent = len(page.sent)
    _from_page(explorer, {"type": "view", "bounds": [[-80, -170], [80, 170]], "zoom": 2})
    assert page.last("locations")["payload"] == binned
    _from_page(explorer, {"type": "view", "bounds": [[-80, -170], [80, 170]], "zoom": 2})
    assert [m["type"] for m in page.sent[sent:]].count("locations") == 1


@pytest.mark.parametrize("option", ["max_points", "max_addresses"])
@pytest.mark.parametrize("value", [0, -5, 2.5, True, "100"])
def test_bad_marker_limits_raise(world: Any, option: str, value: Any) -> None:
    with pytest.raises(InputError, match=f"{option}: expected a positive integer"):
        explore(world.case, world.run, **{option: value})


def test_few_addresses_are_drawn_one_by_one_and_never_resent(world: Any) -> None:
    explorer, page = recorded_explorer(world)  # 1,400 addresses: under the default limit
    assert explorer._address_state.whole_cell is None
    assert len(_page_payload(explorer.map.html, "locations")["address"]) > 1000
    bounds = [[20.0, 110.0], [30.0, 125.0]]
    _from_page(explorer, {"type": "view", "bounds": bounds, "zoom": 6})
    assert [m for m in page.sent if m["type"] == "locations"] == []


def _page_payload(page: str, layer: str) -> Any:
    match = re.search(rf'data-layer="{layer}"\s+id="[^"]+">(.*?)</script>', page, re.S)
    assert match is not None
    return json.loads(match.group(1))


# -- site panel, reviews, re-runs, export -----------------------------------------------------
def test_selecting_a_site_zooms_and_shows_details(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    _from_page(explorer, {"type": "site-click", "site_id": "S001"})
    assert explorer.table.selected == "S001"
    assert page.last("zoom-site")["site_id"] == "S001"
    details = explorer.details.value
    for part in ("Score parts", "Weekly shipments", "Evidence", "Review history", "<svg"):
        assert part in details
    assert "<img src=x" not in details  # hostile names are escaped
    selection = explorer.selection
    assert selection.source == "site" and list(selection.sites["site_id"]) == ["S001"]
    site = world.case.sites(world.run).set_index("site_id").loc["S001"]
    assert len(selection.shipments) == site["n_shipments"]


def test_review_buttons_record_the_decision(world: Any) -> None:
    explorer, _ = recorded_explorer(world, reviewer="lead-3")
    explorer.selected_site = "S002"
    explorer.note.value = f"checked street view {HOSTILE}"
    explorer.review_buttons["needs-work"].click()
    history = world.case.reviews("S002", run_id=world.run)
    last = history.iloc[-1]
    assert (last["status"], last["by"]) == ("needs-work", "lead-3")
    assert last["note"] == f"checked street view {HOSTILE}"
    assert explorer.note.value == ""
    assert next(r for r in explorer.table.rows if r["site_id"] == "S002")["status"] == "needs-work"
    assert "needs-work" in explorer.details.value and "<img src=x" not in explorer.details.value


def test_review_without_a_site_says_so(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    assert explorer.review("confirmed") is None
    assert "Select a site" in explorer.message.value
    explorer.selected_site = HOSTILE  # a site id from a hostile page: no such site
    assert explorer.review("confirmed") is None
    assert "not in run" in explorer.message.value and "<img" not in explorer.message.value


def test_rerun_with_another_radius_stores_and_shows_a_new_run(world: Any, tmp_path: Path) -> None:
    case = open_case(tmp_path / "copy.gpkg", actor="analyst-7")
    case.ingest([load_table(getattr(world.demo, t), t) for t in TABLES])
    first = case.find_sites(300)
    explorer = explore(case)
    page = Recorder()
    explorer.map.post = page  # type: ignore[method-assign]
    explorer.radius.value = 150.0
    explorer.rerun_button.click()
    assert explorer.run_id != first and case.latest_run() == explorer.run_id
    assert case.runs().set_index("run_id").loc[explorer.run_id, "parameters"]["radius_m"] == 150
    assert len(page.last("sites")["records"]) == len(case.sites(explorer.run_id))
    case.close()


def test_export_button_writes_the_tip_sheet(world: Any, tmp_path: Path) -> None:
    keys = init_keys(tmp_path / "keys")
    world.case.set_setting("organisation", "Acme Brand Protection")
    world.case.set_setting("contact", "ip-team@acme.example")
    explorer, _ = recorded_explorer(world, out_dir=tmp_path / "out")
    explorer.selected_site = "S003"
    assert explorer.export(keys_dir=keys, pdf=False) is None  # not confirmed, no reason given
    assert "S003" in explorer.message.value and "confirm" in explorer.message.value.lower()
    explorer.review("confirmed", "test buys matched")
    path = explorer.export(keys_dir=keys, pdf=False)
    assert path is not None and (path / "data" / "report.html").exists()
    assert workbench.verify_bundle(path).ok


def test_filter_counts_agree_with_pandas(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    index = explorer.data.index
    ships = _valid_shipments(world)
    filters = Filters(brands=("Nike", "Adidas"), start=pd.Timestamp("2026-05-01"))
    expected = ships["brand"].isin(["Nike", "Adidas"]) & (ships["shipped_at"] >= "2026-05-01")
    assert index.count(filters) == expected.sum() > 0
    assert index.count() == len(ships)
