"""The explorer's "seen before": matches with earlier cases and partner lists in the site
table, the site panel and the panel of a map selection, escaped, read cheaply."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.explorer._details import details_html, seen_before_html
from workbench.explorer._screen import Explorer, explore

_SPEC = importlib.util.spec_from_file_location(
    "seen_cases", Path(__file__).resolve().parents[1] / "export" / "seen_cases.py"
)
assert _SPEC is not None and _SPEC.loader is not None
seen_cases = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(seen_cases)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    state = seen_cases.build(tmp_path_factory.mktemp("explorer-seen"))
    yield state
    state.case.close()


def _explorer(world: Any) -> Explorer:
    explorer = explore(world.case, world.run)
    explorer.map.post = lambda message: None  # type: ignore[method-assign]
    return explorer


def _row(explorer: Explorer, site_id: str) -> dict[str, Any]:
    return next(r for r in explorer.table.rows if r["site_id"] == site_id)


def test_the_site_table_counts_what_each_site_has_been_seen_with(world) -> None:
    explorer = _explorer(world)
    assert {"key": "seen_before", "label": "Seen before", "numeric": True} in (
        explorer.table.columns
    )
    # the workshop: its own site match, its network's match, X1's card and X2's phone
    # (earlier case), and both on the partner's list twice; the Shenzhen site: none
    assert _row(explorer, world.workshop)["seen_before"] == 8
    assert _row(explorer, world.clean)["seen_before"] is None


def test_a_selected_site_shows_its_matches_escaped(world) -> None:
    explorer = _explorer(world)
    explorer.selected_site = world.workshop
    html = explorer.details.value
    assert "<h4>Seen before (8)</h4>" in html
    assert "near a site of an earlier case" in html and "case putian-2025" in html
    assert "site review: confirmed" in html  # the review outcome in the earlier case
    assert "listed by the partner: Nike, counterfeit test buy, 2025-05-01" in html
    assert "this bank card was on 3 accounts of network N0001 in case putian-2025" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_a_site_without_matches_says_so(world) -> None:
    explorer = _explorer(world)
    explorer.selected_site = world.clean
    html = explorer.details.value
    assert "<h4>Seen before</h4>" in html and "No match in the earlier cases" in html
    assert "near a site of an earlier case" not in html


def test_a_clicked_point_shows_its_sellers_seen_before(world) -> None:
    explorer = _explorer(world)
    lat, lon = seen_cases.PUTIAN
    explorer.map._on_frontend_msg(explorer.map, {"type": "point-click", "lat": lat, "lon": lon}, [])
    html = explorer.details.value
    assert "Clicked point" in html and "seen before</b>" in html
    assert "same bank card as an account of an earlier case" in html
    assert "near a site of an earlier case" not in html  # the site's own match is the site's
    assert "<img src=x" not in html
    seen = explorer.selection.seen_before
    # the network match of their network N0001, X1's card and X2's phone (earlier case),
    # both twice on the partner's list: 7 (the site's own match belongs to the site)
    assert seen["match"].tolist()[0] == "network" and len(seen) == 7
    assert set(seen["seller_id"].dropna()) == {"X1", "X2"}


def test_with_a_site_chosen_the_panel_stays_on_it(world) -> None:
    # the review buttons decide on the site the panel shows: drawing around it keeps it
    explorer = _explorer(world)
    explorer.selected_site = world.workshop
    lat, lon = seen_cases.PUTIAN
    explorer.map._on_frontend_msg(explorer.map, {"type": "point-click", "lat": lat, "lon": lon}, [])
    assert explorer.selected_site == world.workshop
    assert "Clicked point" not in explorer.details.value
    assert explorer.selection.seen_before is not None and len(explorer.selection.seen_before)


def test_a_case_never_cross_referenced_shows_no_section() -> None:
    site = {"site_id": "S1", "lat": 25.0, "lon": 119.0, "sellers": []}
    empty = pd.DataFrame(columns=["seller_id", "date"])
    common = {"names": {}, "network_of": {}, "evidence": empty, "activity": pd.DataFrame()}
    reviews = pd.DataFrame(columns=["at", "by", "status", "note"])
    assert "Seen before" not in details_html(site, **common, reviews=reviews, seen=None)
    assert "No match" in details_html(site, **common, reviews=reviews, seen=empty)


def test_hostile_records_are_escaped() -> None:
    rows = pd.DataFrame(
        {"match": ["<b>x</b>"], "source": ["case"], "source_name": ["<script>1</script>"],
         "seller_id": ['"><img src=x>'], "explanation": ["<img src=y onerror=alert(1)>"]}
    )  # fmt: skip
    html = seen_before_html(rows)
    assert "<script>" not in html and "<img" not in html and "<b>x" not in html
    assert "&lt;script&gt;1&lt;/script&gt;" in html and "other match" in html


def test_a_new_run_drops_the_site_matches_of_the_old_one(tmp_path: Path) -> None:
    world = seen_cases.build(tmp_path)
    with world.case:
        explorer = _explorer(world)
        explorer.radius.value = 250.0
        explorer.rerun()
        workshop = next(r for r in explorer.table.rows if r["seen_before"])
        assert workshop["seen_before"] == 7  # no site match: site ids are the old run's
