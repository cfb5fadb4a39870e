"""The explorer's timeline in Chromium: week steps redraw the map, events and arrows show.

The first test opens the explorer's own page (its HTML, served from 127.0.0.1) and hands it
the commands the kernel sends for each week step, as the widget's front end would. The
second runs the explorer in a real JupyterLab and presses the timeline's play button: the
slider moves in the browser, the kernel's ``window`` follows and the map redraws.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pytest
from conftest import notebook_json
from playwright.sync_api import expect

import workbench
from workbench.case._case import open_case
from workbench.explorer._screen import Explorer, explore
from workbench.intake._table import load_table

if TYPE_CHECKING:
    from conftest import BrowserLog, Lab

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"
TABLES = ("sellers", "identifiers", "shipments", "locations", "evidence")
# what the page draws now, per layer
COUNTS_JS = "() => ['points', 'sites', 'events', 'arrows'].map(L.workbench.count)"
# hand the page the kernel's commands (the top window is its own parent here), then wait
# for two frames: the canvas layers paint on the next one
DELIVER_JS = """(messages) => {
    for (const m of messages) window.postMessage(m, "*");
    const painted = r => requestAnimationFrame(() => requestAnimationFrame(r));
    return new Promise(r => setTimeout(() => painted(r)));
}"""
IMAGES_JS = "() => [...document.images].filter(i => i.src.endsWith('/x')).length"


def _frames(sites: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A raid on the first site in March (a hostile note) and its move to the second site."""
    first, second = sites.iloc[0], sites.iloc[1]
    events = pd.DataFrame(
        {"event_id": ["EV1"], "kind": ["raid"], "date": ["2026-03-04"],
         "site_id": [first["site_id"]], "lat": [first["lat"]], "lon": [first["lon"]],
         "note": [HOSTILE]}
    )  # fmt: skip
    moves = pd.DataFrame(
        {"from_site": [first["site_id"]], "to_site": [second["site_id"]],
         "from_lat": [first["lat"]], "from_lon": [first["lon"]],
         "to_lat": [second["lat"]], "to_lon": [second["lon"]],
         "around": ["2026-03-20"], "label": [f"after the raid {HOSTILE}"]}
    )  # fmt: skip
    return events, moves


@pytest.fixture(scope="module")
def explorer(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("timeline-page")
    demo = workbench.generate_demo(root / "data", n_shipments=6_000, n_background_sellers=120)
    case = open_case(root / "case.gpkg", actor="browser-test")
    case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    run = case.find_sites(300)
    events, moves = _frames(case.sites(run))
    explorer = explore(case, run, events=events, relocations=moves)
    explorer.map.post = SENT.append  # type: ignore[method-assign]
    yield explorer
    case.close()


SENT: list[dict[str, Any]] = []  # what the explorer sent to its page


def _sent(change: Any) -> list[dict[str, Any]]:
    """The commands ``change()`` makes the explorer send (as JSON, as the comm carries them)."""
    before = len(SENT)
    change()
    return json.loads(json.dumps(SENT[before:]))


def _step(explorer: Explorer, week: int) -> list[dict[str, Any]]:
    """The commands one step of the timeline sends."""
    return _sent(lambda: explorer.timeline.step(week))


def test_stepping_the_timeline_redraws_the_page(
    explorer: Explorer, page: Any, serve_folder: Any, browser_log: BrowserLog, tmp_path: Path
) -> None:
    (tmp_path / "map.html").write_text(explorer.map.html, encoding="utf-8")
    page.goto(f"{serve_folder(tmp_path)}/map.html")
    page.wait_for_function("() => window.workbenchExplorerReady === true", timeout=30_000)
    whole = page.evaluate(COUNTS_JS)
    assert whole[2:] == [1, 1]  # the whole period: the raid and the move

    page.evaluate(DELIVER_JS, _sent(lambda: setattr(explorer.timeline.weeks, "value", 1)))
    week_of_raid = (dt.date(2026, 3, 2) - explorer.timeline.first_week).days // 7
    seen = []
    for week in (2, 3, week_of_raid, week_of_raid + 2):
        messages = _step(explorer, week)
        page.evaluate(DELIVER_JS, messages)
        points = [m for m in messages if m["type"] == "points"][-1]["payload"]
        counts = page.evaluate(COUNTS_JS)
        assert counts[0] == len(points["lat"]) == int(page.evaluate(
            "() => document.body.dataset.workbenchPoints"))  # fmt: skip
        assert counts[1] == len(explorer.table.rows)
        seen.append(counts)
    assert len({tuple(c[:2]) for c in seen}) > 1  # the weeks differ
    # the week of the raid: its marker, no arrow yet; two weeks on (the move, 20 March): the arrow
    assert seen[2][2:] == [1, 0] and seen[3][2:] == [0, 1]
    assert page.locator(".workbench-arrow-head").count() == 1
    assert page.locator("path.workbench-arrow").count() == 1

    page.evaluate(DELIVER_JS, _step(explorer, week_of_raid))
    marker = page.locator(".workbench-event")
    expect(marker).to_have_count(1)
    marker.click()
    popup = page.locator(".workbench-popup .leaflet-popup-content")
    expect(popup).to_contain_text("raid on 2026-03-04")
    expect(popup).to_contain_text(HOSTILE)  # the note as text, not as an element
    assert popup.locator("img").count() == 0 and page.evaluate(IMAGES_JS) == 0

    page.evaluate(DELIVER_JS, _step(explorer, week_of_raid + 2))
    path = page.locator("path.workbench-arrow")
    box = path.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    card = page.locator(".workbench-tooltip", has_text="Moved: site")
    expect(card).to_contain_text(f"after the raid {HOSTILE}")
    assert card.locator("img").count() == 0
    browser_log.assert_no_dialogs()
    browser_log.assert_stayed_local()


PANEL = ".jp-NotebookPanel:visible"
MAP_FRAME = f"{PANEL} .workbench-mapframe iframe"
DONE = "timeline-done"
EXPLORER_CELL = """\
import pandas as pd
import workbench
from workbench.intake._table import load_table
demo = workbench.generate_demo("tl-data", n_shipments=6000, n_background_sellers=120)
case = workbench.open_case("tl.gpkg", actor="timeline-test")
case.ingest([load_table(getattr(demo, t), t)
             for t in ("sellers", "identifiers", "shipments", "locations", "evidence")])
run = case.find_sites(300)
sites = case.sites(run)
first, second = sites.iloc[0], sites.iloc[1]
events = pd.DataFrame({"event_id": ["EV1"], "kind": ["raid"], "date": ["2026-03-04"],
    "site_id": [first.site_id], "lat": [first.lat], "lon": [first.lon], "note": [HOSTILE]})
moves = pd.DataFrame({"from_site": [first.site_id], "to_site": [second.site_id],
    "from_lat": [first.lat], "from_lon": [first.lon], "to_lat": [second.lat],
    "to_lon": [second.lon], "around": ["2026-03-20"], "label": ["moved after the raid"]})
explorer = workbench.explore(case, events=events, relocations=moves)
explorer.timeline.play.interval = 400
explorer
""".replace("HOSTILE", repr(HOSTILE))
OPEN_NOTEBOOK_JS = """async ([path, content]) => {
    const app = window.jupyterapp;
    await app.serviceManager.contents.save(path, {type: 'notebook', format: 'json', content});
    await app.commands.execute('docmanager:open', {path});
}"""


def _kernel_until(lab: Lab, code: str, done: Any, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    out = lab.kernel(code).strip()
    while not done(out) and time.monotonic() < deadline:
        time.sleep(0.3)
        out = lab.kernel(code).strip()
    assert "KERNEL ERROR" not in out, out
    return out


@pytest.mark.slow
def test_playing_the_timeline_in_jupyterlab(
    lab: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    path = "timeline.ipynb"
    lab.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the map
    lab.page.evaluate(OPEN_NOTEBOOK_JS, [path, notebook_json(EXPLORER_CELL, f"print({DONE!r})")])
    lab.page.wait_for_function(
        "(path) => window.jupyterapp.shell.currentWidget?.context?.path === path",
        arg=path,
        timeout=60_000,
    )
    lab.run_all(DONE, timeout_s=240)
    iframe = lab.page.locator(MAP_FRAME)
    expect(iframe).to_have_count(1)
    iframe.evaluate("el => el.scrollIntoView({block: 'start'})")
    content = iframe.element_handle().content_frame()
    content.wait_for_function("() => window.workbenchExplorerReady === true", timeout=60_000)
    assert content.evaluate("() => L.workbench.count('events')") == 1

    timeline = lab.page.locator(f"{PANEL} .workbench-timeline")
    expect(timeline).to_be_visible()
    before = content.evaluate("() => document.body.dataset.workbenchPoints || ''")
    timeline.locator("button").first.click()  # the play button
    # the slider moves in the browser; each week reaches the kernel, which redraws the map
    out = _kernel_until(
        lab, "print(explorer.timeline.slider.value)", lambda out: out.isdigit() and int(out) >= 3
    )
    assert int(out) >= 3
    content.wait_for_function(
        "(before) => (document.body.dataset.workbenchPoints || '') !== before", arg=before
    )
    window = lab.kernel("print(explorer.window)").strip()
    assert window.startswith("(datetime.date(2026")
    timeline.locator("button").first.click()  # pause (the stop button would go to week 0)
    steady = [lab.kernel("print(explorer.timeline.slider.value)").strip()]
    while len(steady) < 3 or len(set(steady[-3:])) > 1:  # the last steps have arrived
        lab.page.wait_for_timeout(400)
        steady.append(lab.kernel("print(explorer.timeline.slider.value)").strip())
        assert len(steady) < 50, steady
    # the window set from Python: the raid and, by its end, the move; the slider follows
    lab.kernel("explorer.window = ('2026-03-02', '2026-03-29')")
    content.wait_for_function(
        "() => document.body.dataset.workbenchEvents === '1' && "
        "document.body.dataset.workbenchArrows === '1'"
    )
    expect(timeline).to_contain_text("2026-03-02 to 2026-03-29")
    week = lab.kernel("print(explorer.timeline.slider.value)").strip()
    handle = timeline.locator(".noUi-handle")
    expect(handle).to_have_attribute("aria-valuenow", re.compile(rf"^{week}(\.0+)?$"))
    iframe.evaluate("el => el.scrollIntoView({block: 'start'})")
    lab.page.wait_for_timeout(300)
    lab.page.screenshot(path=screenshots / "timeline.png")
    lab.close_everything(delete=[path])
    browser_log.assert_no_dialogs()
    browser_log.assert_stayed_local()
