"""The investigator's path in a real JupyterLab: launcher tile -> notebook -> offline map."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

if TYPE_CHECKING:
    from conftest import BrowserLog, Lab

pytestmark = pytest.mark.browser

SECTION = "Counterfeit Workbench"
TILE = "New counterfeit investigation"
MAP_FRAME = ".jp-NotebookPanel:visible iframe.workbench-map"
# The map has drawn every layer and no zoom animation is under way.
MAP_SETTLED_JS = """() => window.workbenchMapReady === true
    && !document.querySelector('.leaflet-zoom-anim')
    && ![...document.querySelectorAll('.leaflet-pane > svg')]
        .some(svg => svg.style.transform.includes('scale'))"""
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


def test_template_runs_and_renders_offline_map(
    lab: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    lab.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for the map
    path = lab.open_from_tile(lab.tile(SECTION, TILE))
    assert (lab.server.root / path).is_file()

    lab.run_all("hash chain verified", timeout_s=180)

    iframe = lab.page.locator(MAP_FRAME)
    expect(iframe).to_have_count(1)
    assert iframe.get_attribute("sandbox") == "allow-scripts"
    iframe.evaluate("el => el.scrollIntoView({block: 'end'})")
    # Off screen the frame is not rendered, so Leaflet's first zoom (fit to the data) waits
    # for animation frames: let it start, wait until it has ended, then until it is painted.
    content = iframe.element_handle().content_frame()
    content.evaluate(TWO_FRAMES_JS)
    content.wait_for_function(MAP_SETTLED_JS, polling="raf", timeout=60_000)
    content.evaluate(TWO_FRAMES_JS)
    frame = lab.page.frame_locator(MAP_FRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible()
    expect(frame.locator(".workbench-legend")).to_be_visible()
    # ~180 Natural Earth country polygons; the demo ships from dozens of places and
    # plants four workshops: well over 10 point markers and at least one site
    assert frame.locator("path.workbench-basemap").count() > 50
    assert frame.locator(".workbench-point").count() > 10
    assert frame.locator(".workbench-site").count() >= 1
    lab.page.screenshot(path=screenshots / "lab-map.png")

    browser_log.assert_stayed_local()
    browser_log.assert_no_dialogs()
