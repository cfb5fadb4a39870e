"""The explorer's widgets in a real JupyterLab: MapFrame's checked channel, SiteTable's clicks.

Each test writes a small notebook, opens it, runs it, then talks to its kernel directly
(``kernel.requestExecute``, as a later cell would) to read what the kernel received.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from conftest import notebook_json
from playwright.sync_api import expect

if TYPE_CHECKING:
    from conftest import BrowserLog, Lab

pytestmark = pytest.mark.browser

DONE = "widgets-cell-done"
PANEL = ".jp-NotebookPanel:visible"
MAP_IFRAME = f"{PANEL} .workbench-mapframe iframe"
TABLE = f"{PANEL} table.workbench-site-table"
HOSTILE = "<img src=x onerror=alert(1)>"
WIDGET_MANAGER = "@jupyter-widgets/jupyterlab-manager:plugin"

# A stand-in map page. On load it tells the kernel it is ready, clicks site S1, sends an event
# type and an oversized event the view must drop, and reports whether it can reach JupyterLab's
# DOM (the sandbox must block it). A `zoom-site` command is shown in #status and acknowledged
# as a site click.
PAGE = """<!doctype html>
<html><body>
<h1 id="name">NAME</h1>
<p id="status">loading</p>
<script>
  const status = document.getElementById('status');
  window.addEventListener('message', (event) => {
    const data = event.data || {};
    if (data.type === 'zoom-site') {
      status.textContent = 'zoom:' + data.site_id;
      parent.postMessage({type: 'site-click', site_id: 'ACK-' + data.site_id}, '*');
    }
  });
  window.addEventListener('load', () => {
    let reach;
    try { reach = 'open:' + parent.document.title; } catch (error) { reach = 'blocked'; }
    parent.postMessage({type: 'ready'}, '*');
    parent.postMessage({type: 'site-click', site_id: 'S1'}, '*');
    parent.postMessage({type: 'open-file', site_id: 'BAD-TYPE'}, '*');
    parent.postMessage({type: 'site-click', site_id: 'PROBE-' + reach}, '*');
    // over 1 MB: dropped by the view (the kernel would accept it, ignoring `pad`)
    const view = {type: 'view', bounds: [[30, 120], [31, 121]]};
    parent.postMessage({...view, zoom: 5, pad: 'x'.repeat(1100000)}, '*');
    parent.postMessage({...view, zoom: 6, pad: 'x'}, '*');
    status.textContent = 'loaded';
  });
</script>
</body></html>"""

MAP_CELL = f"""\
from IPython.display import display
from workbench.explorer._widgets import MapFrame

PAGE = {PAGE!r}
events = []
frame = MapFrame(html=PAGE.replace("NAME", "first page"), height_px=160)
frame.on_event(events.append)
display(frame)
display(frame)  # a second view of the same model
"""

TABLE_CELL = f"""\
from workbench.explorer._widgets import SiteTable

table = SiteTable(
    columns=[
        {{"key": "name", "label": "Name"}},
        {{"key": "score", "label": "Score", "numeric": True}},
        {{"key": "waybills", "label": "Waybills", "numeric": True}},
        {{"key": "accounts", "label": "Accounts"}},
    ],
    rows=[
        {{"site_id": "S1", "name": "Putian workshop", "score": 0.91, "waybills": 12345,
          "accounts": ["A1", "A2"]}},
        {{"site_id": "S2", "name": {HOSTILE!r}, "score": 0.5, "waybills": None, "accounts": []}},
        {{"site_id": "S3", "name": "Yiwu hub", "score": 0.1, "waybills": 3000, "label": "hub",
          "accounts": ["A3"]}},
    ],
)
table
"""

OPEN_NOTEBOOK_JS = """async ([path, content]) => {
    const app = window.jupyterapp;
    await app.serviceManager.contents.save(path, {type: 'notebook', format: 'json', content});
    await app.commands.execute('docmanager:open', {path});
}"""


def open_and_run(lab: Lab, path: str, cell: str) -> None:
    """Write a notebook of ``cell`` and a closing print, open it, run it to the end."""
    lab.page.evaluate(OPEN_NOTEBOOK_JS, [path, notebook_json(cell, f"print({DONE!r})")])
    lab.page.wait_for_function(
        "(path) => window.jupyterapp.shell.currentWidget?.context?.path === path",
        arg=path,
        timeout=60_000,
    )
    lab.run_all(DONE, timeout_s=120)


def kernel(lab: Lab, code: str) -> str:
    out = lab.kernel(code)
    assert "KERNEL ERROR" not in out, out
    return out


def kernel_json(lab: Lab, expression: str) -> Any:
    return json.loads(kernel(lab, f"import json; print(json.dumps({expression}))"))


def wait_for_kernel(lab: Lab, expression: str, expected: Any, timeout_s: float = 30) -> Any:
    """Poll ``expression`` in the kernel until it equals ``expected``; the last value."""
    deadline = time.monotonic() + timeout_s
    value = kernel_json(lab, expression)
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        value = kernel_json(lab, expression)
    assert value == expected, f"{expression} = {value!r}, expected {expected!r}"
    return value


def site_clicks(lab: Lab) -> list[str]:
    return kernel_json(lab, "[e['site_id'] for e in events if e['type'] == 'site-click']")


def user_settings(lab: Lab, plugin: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{lab.server.url}/lab/api/settings/{plugin}",
        headers={"Authorization": f"token {lab.server.token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(json.loads(response.read())["settings"])


def test_mapframe_relays_only_its_own_frames_events(
    lab: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    assert lab.page.evaluate("() => window.jupyterapp.hasPlugin('counterfeit-workbench:widgets')")
    path = "widgets-map.ipynb"
    open_and_run(lab, path, MAP_CELL)

    iframes = lab.page.locator(MAP_IFRAME)
    expect(iframes).to_have_count(2)
    for i in range(2):
        frame = iframes.nth(i)
        assert frame.get_attribute("sandbox") == "allow-scripts"
        assert frame.get_attribute("referrerpolicy") == "no-referrer"
        assert frame.get_attribute("title") == "Counterfeit Workbench map"
        assert frame.evaluate("el => el.getBoundingClientRect().height") == 160
        expect(lab.page.frame_locator(MAP_IFRAME).nth(i).locator("#status")).to_have_text("loaded")
    # each view relays its own page's events: two of each, valid ones only
    wait_for_kernel(lab, "sum(e == {'type': 'ready'} for e in events)", 2)
    clicks = wait_for_kernel(
        lab,
        "sorted(e['site_id'] for e in events if e['type'] == 'site-click')",
        ["PROBE-blocked", "PROBE-blocked", "S1", "S1"],
    )
    assert "BAD-TYPE" not in json.dumps(clicks)
    wait_for_kernel(lab, "[e['zoom'] for e in events if e['type'] == 'view']", [6.0, 6.0])

    # a message from JupyterLab's own window (not the frame) is not relayed
    lab.page.evaluate("() => window.postMessage({type: 'site-click', site_id: 'EVIL'}, '*')")
    kernel(lab, "frame.post({'type': 'zoom-site', 'site_id': 'S2'})")
    for i in range(2):
        expect(lab.page.frame_locator(MAP_IFRAME).nth(i).locator("#status")).to_have_text("zoom:S2")
    wait_for_kernel(lab, "[e.get('site_id') for e in events].count('ACK-S2')", 2)
    assert "EVIL" not in site_clicks(lab)

    # a new page: the command waits until the new page is ready, then reaches it
    kernel(
        lab,
        "frame.html = PAGE.replace('NAME', 'second page'); "
        "frame.post({'type': 'zoom-site', 'site_id': 'S3'})",
    )
    for i in range(2):
        content = lab.page.frame_locator(MAP_IFRAME).nth(i)
        expect(content.locator("#name")).to_have_text("second page")
        expect(content.locator("#status")).to_have_text("zoom:S3")
    expect(iframes).to_have_count(2)
    wait_for_kernel(lab, "[e.get('site_id') for e in events].count('ACK-S3')", 2)
    lab.page.locator(MAP_IFRAME).first.scroll_into_view_if_needed()
    lab.page.screenshot(path=screenshots / "widget-mapframe.png")

    # no page: a placeholder, no iframe
    kernel(lab, "frame.html = ''")
    expect(iframes).to_have_count(0)
    expect(lab.page.locator(f"{PANEL} .workbench-mapframe-empty")).to_have_count(2)
    assert "EVIL" not in site_clicks(lab)
    lab.close_everything(delete=[path])

    browser_log.assert_stayed_local()
    browser_log.assert_no_dialogs()


def test_saved_notebook_shows_its_map_when_reopened(lab: Lab, browser_log: BrowserLog) -> None:
    # the widgets plugin turned on the widget manager's saveState (the user had not set it)
    deadline = time.monotonic() + 30
    while user_settings(lab, WIDGET_MANAGER).get("saveState") is not True:
        assert time.monotonic() < deadline, user_settings(lab, WIDGET_MANAGER)
        time.sleep(0.5)

    path = "widgets-reopen.ipynb"
    open_and_run(lab, path, MAP_CELL)
    expect(lab.page.locator(MAP_IFRAME)).to_have_count(2)
    lab.page.evaluate("() => window.jupyterapp.shell.currentWidget.context.save()")
    saved = json.loads((lab.server.root / path).read_text(encoding="utf-8"))
    state = saved["metadata"]["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    maps = [m["state"] for m in state.values() if m["model_name"] == "MapFrameModel"]
    assert len(maps) == 1 and "first page" in maps[0]["html"]

    # closed, kernel gone, reopened: the map comes back from the saved state
    lab.close_everything(delete=[])
    reopen = "(path) => window.jupyterapp.commands.execute('docmanager:open', {path})"
    lab.page.evaluate(reopen, path)
    frames = lab.page.locator(MAP_IFRAME)
    expect(frames).to_have_count(2, timeout=60_000)
    assert frames.first.get_attribute("sandbox") == "allow-scripts"
    content = lab.page.frame_locator(MAP_IFRAME).first
    expect(content.locator("#name")).to_have_text("first page")
    expect(content.locator("#status")).to_have_text("loaded")
    lab.close_everything(delete=[path])
    browser_log.assert_no_dialogs()


def row_ids(lab: Lab) -> list[str]:
    return lab.page.locator(f"{TABLE} tbody tr").evaluate_all(
        "rows => rows.map(row => row.dataset.siteId)"
    )


def test_sitetable_sorts_selects_and_shows_text_as_text(
    lab: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    path = "widgets-table.ipynb"
    open_and_run(lab, path, TABLE_CELL)
    table = lab.page.locator(TABLE)
    expect(table).to_have_count(1)
    expect(table.locator("tbody tr")).to_have_count(3)
    assert row_ids(lab) == ["S1", "S2", "S3"]  # the given order
    expect(table.locator("th[data-key='score']")).to_have_attribute("aria-sort", "descending")
    expect(table.locator("th[data-key='name']")).to_have_attribute("aria-sort", "none")

    # cells: numbers formatted, lists joined, nothing as a dash, hostile text as text
    s1 = table.locator("tr[data-site-id='S1'] td")
    expect(s1).to_have_text(["Putian workshop", "0.9", "12,345", "A1, A2"])
    s2 = table.locator("tr[data-site-id='S2'] td")
    expect(s2).to_have_text([HOSTILE, "0.5", "—", ""])
    assert table.locator("img").count() == 0
    expect(table.locator("tr[data-site-id='S3']")).to_have_class("workbench-row-hub")

    # a text column sorts ascending first ('<' before letters), then flips
    table.locator("th[data-key='name'] button").click()
    wait_for_kernel(lab, "[table.sort_by, table.descending]", ["name", False])
    expect(table.locator("tbody tr").first).to_have_attribute("data-site-id", "S2")
    assert row_ids(lab) == ["S2", "S1", "S3"]
    expect(table.locator("th[data-key='name']")).to_have_attribute("aria-sort", "ascending")
    table.locator("th[data-key='name'] button").click()
    wait_for_kernel(lab, "[table.sort_by, table.descending]", ["name", True])
    expect(table.locator("tbody tr").first).to_have_attribute("data-site-id", "S3")
    assert row_ids(lab) == ["S3", "S1", "S2"]
    # a numeric column sorts largest first
    table.locator("th[data-key='waybills'] button").click()
    wait_for_kernel(lab, "[table.sort_by, table.descending]", ["waybills", True])
    expect(table.locator("tbody tr").first).to_have_attribute("data-site-id", "S1")
    assert row_ids(lab) == ["S1", "S3", "S2"]  # no value: last

    # selecting: a click, the keyboard, and the kernel
    table.locator("tr[data-site-id='S1'] td").first.click()
    wait_for_kernel(lab, "table.selected", "S1")
    selected = table.locator("tr.workbench-row-selected")
    expect(selected).to_have_attribute("data-site-id", "S1")
    expect(selected).to_have_attribute("aria-selected", "true")
    table.locator("tr[data-site-id='S2']").focus()
    lab.page.keyboard.press("Enter")
    wait_for_kernel(lab, "table.selected", "S2")
    kernel(lab, "table.selected = 'S3'")
    expect(selected).to_have_attribute("data-site-id", "S3")
    expect(table.locator("tr[aria-selected='true']")).to_have_count(1)
    table.scroll_into_view_if_needed()
    lab.page.screenshot(path=screenshots / "widget-sitetable.png")

    assert table.locator("img").count() == 0
    lab.close_everything(delete=[path])
    browser_log.assert_stayed_local()
    browser_log.assert_no_dialogs()
