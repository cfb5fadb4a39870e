"""The investigator's path in a real JupyterLab: launcher tile -> notebook -> offline map."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from conftest import BrowserLog, Lab

pytestmark = pytest.mark.browser

SECTION = "Counterfeit Workbench"
TILE = "New counterfeit investigation"
MAP_FRAME = ".jp-NotebookPanel:visible .workbench-mapframe iframe"
# The map has drawn every layer and no zoom animation is under way.
MAP_SETTLED_JS = r"""() => window.workbenchMapReady === true
    && !document.querySelector('.leaflet-zoom-anim')
    && ![...document.querySelectorAll('.leaflet-pane > svg')]
        .some(svg => /scale\((?!1\))/.test(svg.style.transform))"""
TWO_FRAMES_JS = (
    "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
)


def test_launcher_tile_opens_a_notebook(lab: Lab) -> None:
    plugin_loaded = "() => window.jupyterapp.hasPlugin('counterfeit-workbench:plugin')"
    assert lab.page.evaluate(plugin_loaded), "labextension not loaded: run `make install`"
    tile = lab.tile(SECTION, TILE)
    expect(tile).to_be_visible(timeout=60_000)
    expect(tile.locator(".jp-LauncherCard-label")).to_have_text(TILE)
    assert lab.notebooks() == {}

    first = lab.open_from_tile(tile)

    assert first == "investigation.ipynb"
    current_tab = lab.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    expect(current_tab).to_contain_text(first)
    heading = lab.page.locator(".jp-NotebookPanel:visible .jp-RenderedMarkdown h1").first
    expect(heading).to_contain_text(TILE)
    created = lab.notebooks()
    assert list(created) == [first]

    # The first click closed its launcher; a second one (in a new launcher) makes another
    # file beside the first and leaves the first untouched.
    second = lab.open_from_tile(lab.tile(SECTION, TILE))

    assert second != first
    assert second.endswith(".ipynb") and "/" not in second
    after = lab.notebooks()
    assert set(after) == {first, second}
    assert after[first] == created[first], "the first notebook was written again"
    lab.close_everything(delete=[first, second])


def test_command_palette_offers_the_template(lab: Lab) -> None:
    # the modal palette (Ctrl+Shift+C); JupyterLab also keeps a hidden one in the sidebar
    lab.page.evaluate(
        "() => window.jupyterapp.commands.execute('apputils:activate-command-palette')"
    )
    search = lab.page.locator(".lm-CommandPalette-input:visible")
    expect(search).to_be_visible()
    search.fill("counterfeit")
    # the modal palette hides category headers while searching, but groups items under them
    header = lab.page.locator(".jp-ModalCommandPalette .lm-CommandPalette-header", has_text=SECTION)
    expect(header).to_have_count(1)
    item = lab.page.locator(".lm-CommandPalette-item:visible", has_text=TILE)
    expect(item).to_have_count(1)
    before = set(lab.notebooks())
    item.click()
    lab.page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget?.context?.path?.endsWith('.ipynb')",
        timeout=60_000,
    )
    created = set(lab.notebooks()) - before
    assert len(created) == 1
    lab.close_everything(delete=sorted(created))


def test_template_runs_and_the_explorer_works(
    lab: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    lab.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the map
    path = lab.open_from_tile(lab.tile(SECTION, TILE))
    assert (lab.server.root / path).is_file()

    lab.run_all("hash chain verified", timeout_s=240)

    iframe = lab.page.locator(MAP_FRAME)
    expect(iframe).to_have_count(1)
    assert iframe.get_attribute("sandbox") == "allow-scripts"
    _into_view(lab, iframe)
    content = _settled(iframe)
    frame = lab.page.frame_locator(MAP_FRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible()
    expect(frame.locator(".workbench-legend")).to_be_visible()
    expect(frame.locator(".leaflet-draw-draw-polygon")).to_be_visible()
    # ~180 Natural Earth country polygons; the demo ships from dozens of places and
    # plants four workshops: well over 10 point markers and several sites
    assert frame.locator("path.workbench-basemap").count() > 50
    assert content.evaluate('() => L.workbench.count("points")') > 10
    assert frame.locator(".workbench-site-centre").count() >= 4
    table = lab.page.locator(SITE_TABLE)
    expect(table.locator("tr[data-site-id]").first).to_be_visible()

    # a row of the table: the map zooms to the site and the panel shows its details
    zoom_before = content.evaluate("() => window.workbenchMap.getZoom()")
    table.locator('tr[data-site-id="S001"]').click()
    content.wait_for_function("() => document.body.dataset.workbenchSelected === 'S001'")
    # the zoom animation runs on animation frames, which an off-screen frame does not get
    _into_view(lab, iframe)
    content.wait_for_function(MAP_SETTLED_JS, polling=100, timeout=30_000)
    site = json.loads(lab.kernel(SITE_JS))
    centre = content.evaluate("() => window.workbenchMap.getCenter()")
    assert content.evaluate("() => window.workbenchMap.getZoom()") > zoom_before
    assert abs(centre["lat"] - site["lat"]) < 0.01 and abs(centre["lng"] - site["lon"]) < 0.01
    assert frame.locator(".workbench-site-selected").count() >= 1
    panel = lab.page.locator(f"{PANEL} .workbench-details")
    expect(panel).to_contain_text("Score parts")
    expect(panel).to_contain_text("Weekly shipments")
    assert lab.kernel("print(explorer.selected_site)").strip() == "S001"

    # a polygon drawn around the site (the event Leaflet.draw fires when one is finished)
    content.evaluate(DRAW_JS, site)
    # the event travels page -> widget -> kernel: poll the kernel until it has arrived
    source = "print(explorer.selection is not None and explorer.selection.source)"
    assert _poll(lab, source, until=lambda out: out == "draw") == "draw"
    inside = lab.kernel(
        "print(set(explorer.sites.set_index('site_id').loc['S001', 'sellers'])"
        " <= set(explorer.selection.sellers['seller_id']))"
    )
    assert inside.strip() == "True"
    lab.page.screenshot(path=screenshots / "lab-map.png")

    # review from the panel: the decision, note, who and when go into the case
    lab.page.locator(f"{PANEL} .workbench-explorer textarea").fill("test buy 14 matched")
    lab.page.locator(f"{PANEL} .workbench-explorer button", has_text="Confirm").click()
    recorded = _poll(lab, REVIEW_PY, until=lambda out: "confirmed" in out)
    assert recorded == "confirmed|test buy 14 matched"
    expect(table.locator('tr[data-site-id="S001"]')).to_contain_text("confirmed")

    browser_log.assert_stayed_local()
    browser_log.assert_no_dialogs()


SITE_TABLE = ".jp-NotebookPanel:visible table.workbench-site-table"
PANEL = ".jp-NotebookPanel:visible"
SITE_JS = (
    "import json; _s = explorer.sites.set_index('site_id').loc['S001']; "
    "print(json.dumps({'lat': float(_s['lat']), 'lon': float(_s['lon'])}))"
)
REVIEW_PY = (
    "_r = case.reviews('S001').iloc[-1] if len(case.reviews('S001')) else None; "
    "print('' if _r is None else _r['status'] + '|' + _r['note'])"
)
# A 0.02-degree square around the site, finished as Leaflet.draw finishes a polygon.
DRAW_JS = """(site) => {
    const d = 0.01, map = window.workbenchMap;
    const layer = L.polygon([[site.lat - d, site.lon - d], [site.lat - d, site.lon + d],
                             [site.lat + d, site.lon + d], [site.lat + d, site.lon - d]]);
    map.fire(L.Draw.Event.CREATED, {layer: layer, layerType: 'polygon'});
}"""


def _into_view(lab: Lab, iframe: Any, tries: int = 40) -> None:
    """Scroll the map frame into the viewport and keep it there: outputs above it (the
    network drawing, tables) may still be laying out and push it down after one scroll."""
    height = lab.page.viewport_size["height"] if lab.page.viewport_size else 900
    for _ in range(tries):
        iframe.evaluate("el => el.scrollIntoView({block: 'start'})")
        time.sleep(0.25)
        box = iframe.bounding_box()
        if box is not None and 0 <= box["y"] < height - 100:
            return
    raise AssertionError(f"the map frame stays out of view: {iframe.bounding_box()}")


def _settled(iframe: Any) -> Any:
    """The map frame once every layer is drawn and no zoom animation is under way."""
    # Off screen the frame is not rendered, so Leaflet's first zoom (fit to the data) waits
    # for animation frames: let it start, wait until it has ended, then until it is painted.
    content = iframe.element_handle().content_frame()
    content.evaluate(TWO_FRAMES_JS)
    content.wait_for_function(MAP_SETTLED_JS, polling="raf", timeout=60_000)
    content.wait_for_function("() => window.workbenchExplorerReady === true")
    content.evaluate(TWO_FRAMES_JS)
    return content


def _poll(lab: Lab, code: str, until: Any = bool, timeout_s: float = 20) -> str:
    """Run ``code`` in the kernel until its output passes ``until`` (the comm is async)."""
    deadline = time.monotonic() + timeout_s
    out = ""
    while time.monotonic() < deadline:
        out = lab.kernel(code).strip()
        if until(out) and out != "False":
            return out
        time.sleep(0.5)
    return out
