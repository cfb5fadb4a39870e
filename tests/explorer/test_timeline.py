"""The explorer's timeline without a browser: windows, active sites, events and arrows.

The commands the widget sends to the map page are recorded instead of sent (as in
test_explorer.py); expected values are worked out here from the case's own tables.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from page_recorder import recorded_explorer

import workbench
from workbench.case._case import open_case
from workbench.errors import InputError
from workbench.explorer._data import visible_sites
from workbench.explorer._marks import (
    MAX_MARKERS,
    arrows_payload,
    check_events,
    check_relocations,
    events_payload,
)
from workbench.explorer._screen import explore
from workbench.explorer._timeline import SiteWeeks, check_window
from workbench.explorer._widgets import clean_event
from workbench.intake._table import load_table
from workbench.maps._index import Filters

TABLES = ("sellers", "identifiers", "shipments", "locations", "evidence")
HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("timeline")
    demo = workbench.generate_demo(root / "data", n_shipments=8_000, n_background_sellers=150)
    case = open_case(root / "case.gpkg", actor="analyst-7")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    run = case.find_sites(300)
    yield SimpleNamespace(case=case, run=run)
    case.close()


def _shipped_in(world: Any, start: dt.date, end: dt.date) -> int:
    ships = pd.DataFrame(world.case.table("shipments")).drop(columns="geometry")
    ships = ships[ships["lat"].notna() & ships["lon"].notna()]
    day = pd.to_datetime(ships["shipped_at"]).dt.date
    return int(((day >= start) & (day <= end)).sum())


def _active_by_hand(world: Any, start: dt.date, end: dt.date) -> set[str]:
    """Sites with waybills in a week (Monday to Sunday) overlapping [start, end]."""
    act = world.case.site_activity(world.run)
    monday = act["week"].dt.date
    overlaps = (monday <= end) & (monday + dt.timedelta(days=6) >= start)
    return set(act.loc[overlaps & (act["n_shipments"] > 0), "site_id"])


def _events(sites: pd.DataFrame) -> pd.DataFrame:
    # a raid on the first site in March, a takedown on the second in June with a hostile note
    first, second = sites.iloc[0], sites.iloc[1]
    return pd.DataFrame(
        {
            "event_id": ["EV1", "EV2"],
            "kind": ["raid", "takedown"],
            "date": ["2026-03-04", "2026-06-10"],
            "site_id": [first["site_id"], second["site_id"]],
            "lat": [first["lat"], second["lat"]],
            "lon": [first["lon"], second["lon"]],
            "note": ["police raid, 3 arrests", HOSTILE],
        }
    )


def _moves(sites: pd.DataFrame) -> pd.DataFrame:
    first, second = sites.iloc[0], sites.iloc[1]
    return pd.DataFrame(
        {
            "from_site": [first["site_id"]],
            "to_site": [second["site_id"]],
            "from_lat": [first["lat"]],
            "from_lon": [first["lon"]],
            "to_lat": [second["lat"]],
            "to_lon": [second["lon"]],
            "around": [pd.Timestamp("2026-03-20")],
            "label": [f"moved after the raid {HOSTILE}"],
        }
    )


# -- active sites -------------------------------------------------------------------------------
def test_site_weeks_answer_which_sites_shipped_in_a_window() -> None:
    # S1 ships in the weeks of 2 and 16 March, S2 only in the week of 9 March (S3: 0 waybills)
    act = pd.DataFrame(
        {
            "site_id": ["S1", "S1", "S2", "S3"],
            "week": pd.to_datetime(["2026-03-02", "2026-03-16", "2026-03-09", "2026-03-09"]),
            "n_shipments": [5, 2, 7, 0],
        }
    )
    weeks = SiteWeeks(act)
    day = dt.date
    assert set(weeks.active(day(2026, 3, 9), day(2026, 3, 15))) == {"S2"}
    # a window from a Sunday: the week of 2 March (Monday) overlaps it
    assert set(weeks.active(day(2026, 3, 8), day(2026, 3, 8))) == {"S1"}
    assert set(weeks.active(day(2026, 3, 17), None)) == {"S1"}
    assert set(weeks.active(None, None)) == {"S1", "S2"}
    assert set(weeks.active(day(2026, 4, 1), day(2026, 4, 30))) == set()


def test_a_site_idle_in_the_window_is_hidden_inside_its_span() -> None:
    sites = pd.DataFrame(
        {
            "site_id": ["S1", "S2"],
            "score": [50.0, 50.0],
            "first_shipped": pd.to_datetime(["2026-03-02", "2026-03-09"]),
            "last_shipped": pd.to_datetime(["2026-03-20", "2026-03-10"]),
        }
    )
    act = pd.DataFrame(
        {"site_id": ["S1", "S1", "S2"], "n_shipments": [5, 2, 7],
         "week": pd.to_datetime(["2026-03-02", "2026-03-16", "2026-03-09"])}
    )  # fmt: skip
    window = Filters(start=pd.Timestamp("2026-03-09"), end=pd.Timestamp("2026-03-15"))
    # S1's span covers the week of 9 March, but it shipped nothing then
    assert list(visible_sites(sites, window)["site_id"]) == ["S1", "S2"]
    assert list(visible_sites(sites, window, SiteWeeks(act))["site_id"]) == ["S2"]


# -- the window -----------------------------------------------------------------------------------
def test_the_timeline_spans_the_shipping_weeks(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    first, last = explorer.data.days
    timeline = explorer.timeline
    assert timeline.first_week.weekday() == 0 and timeline.first_week <= first
    last_week = timeline.first_week + dt.timedelta(weeks=timeline.n_weeks - 1)
    assert last_week <= last < last_week + dt.timedelta(days=7)
    assert timeline.slider.max == timeline.play.max == timeline.n_weeks - 1
    assert explorer.window is None


@pytest.mark.parametrize("weeks", [1, 4, 13])
def test_a_step_shows_the_waybills_and_sites_of_its_window(world: Any, weeks: int) -> None:
    explorer, page = recorded_explorer(world)
    explorer.timeline.weeks.value = weeks
    start, end = explorer.timeline.step(6)
    assert start == explorer.timeline.first_week + dt.timedelta(weeks=6)
    assert (end - start).days == 7 * weeks - 1 and explorer.window == (start, end)
    # the date pickers follow, and the filters are theirs
    assert (explorer.start_date.value, explorer.end_date.value) == (start, end)
    assert explorer.filters.start == pd.Timestamp(start)
    points = page.last("points")["payload"]
    assert sum(points["shipments"]) == _shipped_in(world, start, end) > 0
    # the table and the map: the sites with waybills in those weeks (every score passes)
    active = _active_by_hand(world, start, end)
    assert {r["site_id"] for r in explorer.table.rows} == active
    # the page holds every site's record from its HTML: in a window, ids are enough
    sites = page.last("sites")
    assert set(sites["ids"]) == active and sites["records"] == [] and sites["canvas"] is True
    assert page.last("points")["canvas"] is True  # week after week: drawn on canvas
    # over the whole period, some weeks do hide some sites
    explorer.timeline.weeks.value = 1
    shown = {len(explorer.table.rows) for week in range(explorer.timeline.n_weeks)
             if explorer.timeline.step(week)}  # fmt: skip
    assert min(shown) < len(explorer.sites)


def test_the_window_round_trips_from_python(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    explorer.window = ("2026-04-01", pd.Timestamp("2026-04-30"))
    window = (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert explorer.window == explorer.timeline.window == window
    assert (explorer.start_date.value, explorer.end_date.value) == window
    # the slider shows the week of 1 April (a Wednesday: its Monday is 30 March)
    week = (dt.date(2026, 3, 30) - explorer.timeline.first_week).days // 7
    assert explorer.timeline.slider.value == week
    assert page.kinds().count("points") == 1  # one redraw, not one per date picker
    assert sum(page.last("points")["payload"]["shipments"]) == _shipped_in(world, *window)
    explorer.window = None
    assert (explorer.start_date.value, explorer.end_date.value) == explorer.data.days
    assert explorer.filters.start is None and explorer.filters.end is None
    assert len(explorer.table.rows) == len(explorer.sites)


def test_the_pickers_set_the_window_and_the_whole_period_clears_it(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    first, last = explorer.data.days
    explorer.start_date.value = dt.date(2026, 5, 1)
    assert explorer.window == (dt.date(2026, 5, 1), last)
    explorer.start_date.value = first
    assert explorer.window is None
    explorer.timeline.step(3)
    explorer.timeline.whole.click()
    assert explorer.window is None and explorer.start_date.value == first


def test_slider_values_from_the_browser_are_bounded(world: Any) -> None:
    explorer, _ = recorded_explorer(world)
    timeline = explorer.timeline
    timeline.slider.value = 10_000  # as a front end could send it: clamped to the last week
    assert timeline.slider.value == timeline.n_weeks - 1
    assert explorer.window is not None and explorer.window[0] == timeline.first_week + (
        dt.timedelta(weeks=timeline.n_weeks - 1)
    )
    # the window is not a page event: the map page cannot set it
    assert clean_event({"type": "window", "start": "2026-01-01", "end": "2026-02-01"}) is None


@pytest.mark.parametrize(
    ("value", "match"),
    [
        ("2026-03-01", "expected \\(first day, last day\\)"),
        (("2026-03-09", "2026-03-02"), "is after the end"),
        (("2026-13-01", "2026-03-02"), "expected a day"),
        ((1, 2), "expected a day"),
        (("2026-03-01", "2026-03-02", "2026-03-03"), "expected \\(first day, last day\\)"),
        ((pd.NaT, "2026-03-02"), "expected a day"),
    ],
)
def test_a_bad_window_is_refused(world: Any, value: Any, match: str) -> None:
    explorer, page = recorded_explorer(world)
    with pytest.raises(InputError, match=match):
        explorer.window = value
    assert explorer.window is None and page.sent == []
    with pytest.raises(InputError, match=match):
        check_window(value)


# -- events and relocations ---------------------------------------------------------------------
def test_events_and_arrows_follow_the_window(world: Any) -> None:
    sites = world.case.sites(world.run)
    explorer, page = recorded_explorer(world, events=_events(sites), relocations=_moves(sites))
    # the whole period: both events and the arrow are on the page from the start
    assert "EV1" in explorer.map.html and "EV2" in explorer.map.html
    assert HOSTILE not in explorer.map.html and "\\u003cimg src=x" in explorer.map.html
    explorer.window = ("2026-03-02", "2026-03-08")  # the raid, before the move
    events = page.last("events")["payload"]
    assert events["id"] == ["EV1"] and events["kinds"] == ["raid"]
    assert events["date"] == ["2026-03-04"] and events["note"] == ["police raid, 3 arrests"]
    assert page.last("arrows")["payload"]["from"] == []
    explorer.window = ("2026-06-08", "2026-06-14")  # the takedown; the move was before
    events = page.last("events")["payload"]
    assert events["id"] == ["EV2"] and events["note"] == [HOSTILE]  # data, escaped by the page
    arrows = page.last("arrows")["payload"]
    assert arrows["from"] == [sites.iloc[0]["site_id"]]
    assert arrows["to"] == [sites.iloc[1]["site_id"]]
    assert arrows["around"] == ["2026-03-20"]
    sent = len(page.sent)
    explorer.window = ("2026-06-09", "2026-06-14")  # the same marks: not sent again
    assert "events" not in page.kinds()[sent:] and "arrows" not in page.kinds()[sent:]


def test_show_events_and_relocations_later(world: Any) -> None:
    sites = world.case.sites(world.run)
    explorer, page = recorded_explorer(world)
    assert '"id":[]' in explorer.map.html  # empty layers, ready for commands
    explorer.show_events(_events(sites))
    assert page.last("events")["payload"]["id"] == ["EV1", "EV2"]
    explorer.show_relocations(_moves(sites))
    assert len(page.last("arrows")["payload"]["from"]) == 1
    explorer.show_events(None)
    assert page.last("events")["payload"]["id"] == []


def test_what_the_finder_found_is_drawn_at_the_run_sites(world: Any) -> None:
    from workbench.sites._relocation import Relocations

    sites = world.case.sites(world.run)
    moves = _moves(sites)[["from_site", "to_site", "around"]].assign(network_id="N7")
    found = Relocations(moves, pd.DataFrame(), pd.DataFrame(), {})
    explorer, page = recorded_explorer(world, relocations=found)
    assert "N7: " in explorer.map.html  # the whole period: drawn from the start
    explorer.window = ("2026-03-02", "2026-03-08")  # before the move
    assert page.last("arrows")["payload"]["from"] == []
    explorer.window = ("2026-06-08", "2026-06-14")
    arrows = page.last("arrows")["payload"]
    assert arrows["from"] == [sites.iloc[0]["site_id"]] and arrows["to"] == [
        sites.iloc[1]["site_id"]
    ]
    explorer.show_relocations(Relocations(moves.iloc[:0], pd.DataFrame(), pd.DataFrame(), {}))
    assert page.last("arrows")["payload"]["from"] == []


def test_a_page_is_sent_only_the_site_records_it_lacks(world: Any) -> None:
    explorer, page = recorded_explorer(world)
    explorer.min_score.value = 100.0  # no site passes
    assert page.last("sites") == {"type": "sites", "records": []}
    explorer.min_score.value = 0.0
    explorer.timeline.weeks.value = 1
    for week in range(explorer.timeline.n_weeks):  # to a week that hides some sites
        explorer.timeline.step(week)
        if len(explorer.table.rows) < len(explorer.sites):
            break
    # the page has every record already: only ids now
    assert page.last("sites")["records"] == [] and page.last("sites")["ids"]
    # a reloaded page is sent every record again
    ids, sent = page.last("sites")["ids"], len(page.sent)
    explorer.map._on_frontend_msg(explorer.map, {"type": "ready"}, [])
    replayed = [m for m in page.sent[sent:] if m["type"] == "sites"]
    assert [r["id"] for r in replayed[0]["records"]] == ids


def test_a_reloaded_page_gets_the_events_again(world: Any) -> None:
    sites = world.case.sites(world.run)
    explorer, page = recorded_explorer(world)
    explorer.show_events(_events(sites))
    explorer.window = ("2026-03-02", "2026-03-08")
    sent = len(page.sent)
    explorer.map._on_frontend_msg(explorer.map, {"type": "ready"}, [])
    replayed = {m["type"]: m for m in page.sent[sent:]}
    assert replayed["events"]["payload"]["id"] == ["EV1"]


@pytest.mark.parametrize("column", ["kind", "date", "lat", "note"])
def test_events_missing_a_column_are_refused_by_name(world: Any, column: str) -> None:
    sites = world.case.sites(world.run)
    frame = _events(sites).drop(columns=column)
    with pytest.raises(InputError, match=f"events: required field\\(s\\) {column} not found"):
        explore(world.case, world.run, events=frame)
    explorer, _ = recorded_explorer(world)
    with pytest.raises(InputError, match=f"required field\\(s\\) {column} not found"):
        explorer.show_events(frame)


@pytest.mark.parametrize("column", ["to_site", "around", "from_lon", "label"])
def test_relocations_missing_a_column_are_refused_by_name(world: Any, column: str) -> None:
    frame = _moves(world.case.sites(world.run)).drop(columns=column)
    with pytest.raises(InputError, match=f"relocations: required field\\(s\\) {column} not"):
        explore(world.case, world.run, relocations=frame)


@pytest.mark.parametrize(
    ("column", "value", "match"),
    [
        ("date", "soon", "events: date 'soon' in row 0 is not a date"),
        ("lat", "north", "events: lat 'north' in row 0 is not a number"),
    ],
)
def test_bad_event_values_are_refused(column: str, value: Any, match: str) -> None:
    frame = pd.DataFrame(
        {"event_id": ["E"], "kind": ["raid"], "date": ["2026-03-01"], "site_id": ["S1"],
         "lat": [25.0], "lon": [119.0], "note": [""]}
    )  # fmt: skip
    frame[column] = [value]
    with pytest.raises(InputError, match=match):
        check_events(frame)
    with pytest.raises(InputError, match="expected a table"):
        check_relocations([1, 2])


def test_what_is_sent_to_the_page_is_bounded(world: Any) -> None:
    n = MAX_MARKERS + 500
    days = pd.date_range("2026-01-01", periods=n, freq="h")
    frame = pd.DataFrame(
        {"event_id": [f"E{i}" for i in range(n)], "kind": "raid", "date": days,
         "site_id": "S1", "lat": 25.0, "lon": 119.0, "note": "x" * 5_000}
    )  # fmt: skip
    payload, total = events_payload(check_events(frame), None)
    # the latest 2,000 are kept, and each note is cut to 1,000 characters
    assert total == n and len(payload["id"]) == MAX_MARKERS and payload["id"][-1] == f"E{n - 1}"
    assert payload["id"][0] == f"E{n - MAX_MARKERS}" and len(payload["note"][0]) == 1_000
    explorer, _ = recorded_explorer(world, events=frame)
    assert f"{n:,} events here: the latest {MAX_MARKERS:,} are drawn" in explorer.message.value
    # without a place an event is not drawn (nor counted)
    frame.loc[0, "lat"] = None
    assert events_payload(check_events(frame), None)[1] == n - 1


def test_arrows_show_from_around_their_date() -> None:
    moves = check_relocations(
        pd.DataFrame(
            {"from_site": ["A", "B"], "to_site": ["C", "D"], "from_lat": [25.0, 26.0],
             "from_lon": [119.0, 119.5], "to_lat": [25.2, 26.3], "to_lon": [119.3, 119.9],
             "around": ["2026-04-01", "2026-05-01"], "label": ["", None]}
        )
    )  # fmt: skip
    window = (dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    assert arrows_payload(moves, window)[0]["from"] == ["A"]  # on the window's last day
    assert arrows_payload(moves, None)[0]["label"] == ["", ""]
    assert arrows_payload(moves, (dt.date(2026, 1, 1), dt.date(2026, 2, 1)))[1] == 0


def test_explore_draws_the_events_recorded_in_the_case(world: Any, tmp_path: Path) -> None:
    # a copy of the case, so that the other tests keep a case without events
    source = Path(world.case.path)
    for item in source.parent.iterdir():
        if item.name.startswith(source.stem):
            copy = shutil.copytree if item.is_dir() else shutil.copy2
            copy(item, tmp_path / item.name)
    with open_case(tmp_path / source.name, actor="analyst-7") as case:
        site = str(case.sites(world.run)["site_id"].iloc[0])
        case.record_event("raid", "2026-03-04", site_id=site, note=HOSTILE, run_id=world.run)
        explorer = explore(case, world.run)
        assert "EV0001" in explorer.map.html and HOSTILE not in explorer.map.html
        assert '"id":[]' in explore(case, world.run, events=None).map.html
