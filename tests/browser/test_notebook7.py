"""The explorer in Jupyter Notebook 7 (not only JupyterLab): map, site table, row clicks.

Notebook 7 is a JupyterLab-based app with its own shell: one notebook per browser tab, at
``/notebooks/<path>``. Its ``window.jupyterapp`` (exposed by :func:`notebook_server`) has the
same command registry and service manager, and its ``shell.currentWidget`` is the notebook
panel, so :class:`conftest.Lab` (the ``notebook7`` fixture) works there unchanged.
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
    from conftest import BrowserLog, Lab, LabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAME = "nb7-explorer.ipynb"
DONE = "nb7-done"
PANEL = ".jp-NotebookPanel:visible"
MAP_FRAME = f"{PANEL} .workbench-mapframe iframe"
SITE_TABLE = f"{PANEL} table.workbench-site-table"
EXPLORER_CELL = """\
import workbench
from workbench.intake._table import load_table
demo = workbench.generate_demo("demo-data", n_shipments=8000, n_background_sellers=200)
case = workbench.open_case("nb7.gpkg", actor="nb7-test")
case.ingest([load_table(getattr(demo, t), t)
             for t in ("sellers", "identifiers", "shipments", "locations", "evidence")])
case.find_sites(300)
explorer = workbench.explore(case)
explorer
"""


def put_notebook(server: LabServer, path: str, content: dict[str, Any]) -> None:
    """Write a notebook through the server's contents API (PUT, token in the header)."""
    body = json.dumps({"type": "notebook", "format": "json", "content": content}).encode()
    request = urllib.request.Request(
        f"{server.url}/api/contents/{path}",
        data=body,
        method="PUT",
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status in (200, 201), response.status


def poll_kernel(nb: Lab, code: str, expected: str, timeout_s: float = 30) -> str:
    """Run ``code`` in the kernel until it prints ``expected`` (the comm is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    out = nb.kernel(code).strip()
    while out != expected and time.monotonic() < deadline:
        time.sleep(0.25)
        out = nb.kernel(code).strip()
    assert "KERNEL ERROR" not in out, out
    return out


def test_explorer_works_in_notebook7(
    notebook7: Lab, browser_log: BrowserLog, screenshots: Path
) -> None:
    nb, server, page = notebook7, notebook7.server, notebook7.page
    put_notebook(server, NAME, notebook_json(EXPLORER_CELL, f"print({DONE!r})"))
    page.goto(f"{server.url}/notebooks/{NAME}?token={server.token}")
    nb.wait_until_ready()
    # Notebook 7's app, not JupyterLab's: no ILabShell, one document in the main area
    assert page.evaluate("() => window.jupyterapp.name") == "Jupyter Notebook"
    assert page.evaluate("() => window.jupyterapp.hasPlugin('counterfeit-workbench:widgets')")
    page.wait_for_function(
        "(path) => window.jupyterapp.shell.currentWidget?.context?.path === path",
        arg=NAME,
        timeout=120_000,
    )

    nb.run_all(DONE, timeout_s=240)  # the first kernel start and the demo data take a while

    iframe = page.locator(MAP_FRAME)
    expect(iframe).to_have_count(1, timeout=60_000)
    assert iframe.get_attribute("sandbox") == "allow-scripts"
    # off screen the frame gets no animation frames: Leaflet's first fit waits for them
    iframe.evaluate("el => el.scrollIntoView({block: 'start'})")
    content = iframe.element_handle().content_frame()
    assert content is not None
    content.wait_for_function(
        "() => window.workbenchMapReady === true", polling=100, timeout=60_000
    )
    content.wait_for_function(
        "() => window.workbenchExplorerReady === true", polling=100, timeout=60_000
    )
    frame = page.frame_locator(MAP_FRAME)
    expect(frame.locator(".leaflet-container")).to_be_visible()

    table = page.locator(SITE_TABLE)
    expect(table).to_have_count(1)
    expect(table.locator("tr[data-site-id]").first).to_be_visible()
    row = table.locator('tr[data-site-id="S001"]')
    row.scroll_into_view_if_needed()
    row.click()
    content.wait_for_function(
        "() => document.body.dataset.workbenchSelected === 'S001'", polling=100, timeout=30_000
    )
    assert poll_kernel(nb, "print(explorer.selected_site)", "S001") == "S001"

    iframe.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.screenshot(path=screenshots / "notebook7-explorer.png")

    # no JupyterLab dialog (kernel picker, error) either
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    page.evaluate(
        """async (path) => {
            const app = window.jupyterapp;
            await app.serviceManager.sessions.shutdownAll();
            await app.serviceManager.contents.delete(path);
        }""",
        NAME,
    )
    browser_log.assert_stayed_local()
    browser_log.assert_no_dialogs()
