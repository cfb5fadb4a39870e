"""Fixtures for the real-browser tests: a JupyterLab server, headless Chromium, a network guard.

Every browser context made here records each request (from every frame, iframe and worker),
aborts any request that would leave the machine, and records and dismisses every JavaScript
dialog. The tests then assert on that record: nothing left 127.0.0.1, nothing fired an alert.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import playwright.sync_api as playwright_api
import pytest

REPO = Path(__file__).resolve().parents[2]
# Screenshots go to a git-ignored folder; `make screenshots` refreshes the README's images
# in docs/images by setting WORKBENCH_SCREENSHOTS.
SCREENSHOTS = Path(os.environ.get("WORKBENCH_SCREENSHOTS") or REPO / "tests" / "artifacts")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # Keep sandboxed iframes (the notebook's map) in the page's process: requests from an
    # out-of-process sandboxed frame's first load escape Playwright's recorder and routes.
    "--disable-features=IsolateSandboxedIframes",
]
VIEWPORT = {"width": 1400, "height": 900}
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
# Schemes that never touch the network: Chromium's own pages and in-memory documents.
LOCAL_SCHEMES = frozenset({"data", "blob", "about", "chrome", "chrome-error", "devtools"})
SERVER_START_TIMEOUT_S = 120
LAB_READY_TIMEOUT_MS = 120_000


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine: 127.0.0.1 / localhost or a no-network scheme."""
    parts = urlsplit(url)
    if parts.scheme in LOCAL_SCHEMES:
        return True
    return parts.scheme in {"http", "https", "ws", "wss"} and parts.hostname in LOCAL_HOSTS


# --------------------------------------------------------------------------- network record


@dataclass
class BrowserLog:
    """What the browser did during the whole session, shared by every context."""

    requests: list[str] = field(default_factory=list)
    websockets: list[str] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def non_local(self) -> list[str]:
        """Requests and websockets that went (or tried to go) to another host."""
        return [url for url in self.requests + self.websockets if not is_local(url)]

    def assert_stayed_local(self) -> None:
        """Fail, naming the URLs, if anything tried to reach the network or was blocked."""
        assert self.requests, "the request recorder saw nothing: it is not attached"
        assert not self.non_local(), f"requests to other hosts: {self.non_local()}"
        assert not self.aborted, f"requests the network guard had to abort: {self.aborted}"

    def assert_no_dialogs(self) -> None:
        assert not self.dialogs, f"JavaScript dialogs fired: {self.dialogs}"


@pytest.fixture(scope="session")
def browser_log() -> BrowserLog:
    """The session's record: every guarded context writes here unless given its own log."""
    return BrowserLog()


@pytest.fixture
def private_log() -> BrowserLog:
    """A log of one test's own, for traffic that must not count against the session."""
    return BrowserLog()


def _guard(log: BrowserLog, route: Any) -> None:
    """Let local requests through; abort and record anything else."""
    url = route.request.url
    if is_local(url):
        route.fallback()
    else:
        log.aborted.append(url)
        route.abort("blockedbyclient")


def _refuse_websocket(log: BrowserLog, websocket: Any) -> None:
    """A WebSocket to another host: never connected to a server, recorded and closed."""
    log.aborted.append(websocket.url)
    websocket.close()


def _dismiss(log: BrowserLog, dialog: Any) -> None:
    log.dialogs.append(f"{dialog.type}: {dialog.message!r}")
    dialog.dismiss()


def _watch_page(log: BrowserLog, page: Any) -> None:
    page.on("websocket", lambda ws: log.websockets.append(ws.url))
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))


# --------------------------------------------------------------------------- browser


@pytest.fixture
def jp_asyncio_loop() -> None:
    """Opt out of pytest-jupyter's per-test asyncio loop (tests/conftest.py loads the plugin).

    Playwright's sync API runs its own loop in this thread, so the plugin's loop would be
    Playwright's, and closing it after each test fails.
    """


@pytest.fixture
def jp_server_cleanup() -> None:
    """Opt out of pytest-jupyter's in-process server cleanup: the lab here is a subprocess."""


# Module scope, not session: while Playwright runs, its event loop counts as this thread's
# running loop, which would break the asyncio-based tests collected after this folder.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is not installed: apt-get install chromium (see .ci/run)")
    # Backstop under the route guard: every non-loopback request goes to a "proxy" that
    # refuses connections (a bound socket that never listens). Chromium bypasses the proxy
    # for loopback addresses by itself.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as dead_end,
        playwright_api.sync_playwright() as pw,
    ):
        dead_end.bind(("127.0.0.1", 0))
        proxy = f"--proxy-server=http://127.0.0.1:{dead_end.getsockname()[1]}"
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, proxy])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def new_context(browser: Any, browser_log: BrowserLog) -> Iterator[Any]:
    """``new_context(log=None)``: a guarded browser context recording into ``log``.

    ``log`` defaults to the session's :func:`browser_log`; every context is closed at the end.
    """
    contexts: list[Any] = []

    def make(log: BrowserLog | None = None) -> Any:
        log = browser_log if log is None else log
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        context.set_default_timeout(30_000)
        context.on("request", lambda request: log.requests.append(request.url))
        context.on("dialog", functools.partial(_dismiss, log))
        context.on("page", functools.partial(_watch_page, log))
        context.route("**/*", functools.partial(_guard, log))
        context.route_web_socket(
            lambda url: not is_local(url), functools.partial(_refuse_websocket, log)
        )
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: Any) -> Iterator[Any]:
    """A fresh page in its own guarded context."""
    context = new_context()
    page = context.new_page()
    yield page
    context.close()


# --------------------------------------------------------------------------- JupyterLab server


@dataclass(frozen=True)
class LabServer:
    url: str
    token: str
    root: Path
    log_file: Path

    def api(self, path: str) -> Any:
        """GET ``{url}/api/{path}`` with the token; the decoded JSON answer."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}", headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_file.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(tmp: Path) -> dict[str, str]:
    """The environment of the lab: the user's own Jupyter and IPython dirs moved into tmp.

    The venv's sys-prefix dirs (``.venv/share/jupyter``, ``.venv/etc/jupyter``) stay on the
    search path, so the installed labextension and server extension are found.
    """
    env = dict(os.environ)
    env.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    for name, sub in (
        ("HOME", "home"),
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("IPYTHONDIR", "ipython"),
    ):
        (tmp / sub).mkdir()
        env[name] = str(tmp / sub)
    for name in (
        "JUPYTER_PATH",
        "JUPYTER_CONFIG_PATH",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    ):
        env.pop(name, None)
    return env


def _write_lab_settings(config_dir: Path) -> None:
    """User settings of the test lab: never ask about (or fetch) the Jupyter news feed."""
    folder = config_dir / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    folder.mkdir(parents=True)
    settings = {"fetchNews": "false", "checkForUpdates": False}
    (folder / "notification.jupyterlab-settings").write_text(json.dumps(settings))


def _wait_until_up(url: str, token: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    request = urllib.request.Request(
        f"{url}/api/status", headers={"Authorization": f"token {token}"}
    )
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"jupyter exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"jupyter did not answer {url}/api/status in {SERVER_START_TIMEOUT_S}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the server shuts its kernels down), then kill the process group if needed."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # kernels the server could not stop
        os.killpg(process.pid, signal.SIGKILL)


def _jupyter_server(subcommand: str, extra_options: list[str]) -> Iterator[LabServer]:
    """``jupyter {subcommand}`` on a free localhost port, serving a fresh temporary root folder.

    The options below are the lab's; ``extra_options`` go after them.
    """
    jupyter = Path(sys.executable).parent / "jupyter"
    tmp = Path(tempfile.mkdtemp(prefix=f"workbench-{subcommand}-"))
    root = tmp / "root"
    root.mkdir()
    token = secrets.token_hex(24)
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = tmp / f"jupyter-{subcommand}.log"
    command = [
        str(jupyter),
        subcommand,
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",  # ServerApp.token's current name
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        "--ServerApp.disable_check_xsrf=False",
        # the server itself fetches nothing either: no news, no update check, no PyPI
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *extra_options,
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    env = _server_env(tmp)
    _write_lab_settings(Path(env["JUPYTER_CONFIG_DIR"]))
    with log_file.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = LabServer(url, token, root, log_file)
    try:
        _wait_until_up(url, token, process)
    except Exception:
        _stop(process)
        print(f"--- tail of {log_file} ---\n{server.log_tail()}")
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    yield server
    _stop(process)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def lab_server() -> Iterator[LabServer]:
    """A JupyterLab server on a free localhost port, serving a fresh temporary root folder."""
    yield from _jupyter_server("lab", [])


@pytest.fixture(scope="session")
def notebook_server() -> Iterator[LabServer]:
    """A Jupyter Notebook 7 server (``jupyter notebook``), set up as :func:`lab_server` is.

    JupyterLab's server extension loads too, so the ``LabApp`` options still apply; Notebook
    7's pages (``/tree``, ``/notebooks/...``) need their own option to expose
    ``window.jupyterapp``: ``LabApp.expose_app_in_browser`` does not reach them.
    """
    yield from _jupyter_server("notebook", ["--JupyterNotebookApp.expose_app_in_browser=True"])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failure, add the server log's tail and the browser's page errors to the report."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    funcargs = getattr(item, "funcargs", {})
    for name, title in (("lab_server", "jupyter lab"), ("notebook_server", "jupyter notebook")):
        server = funcargs.get(name)
        if isinstance(server, LabServer) and server.log_file.exists():
            report.sections.append((f"{title} log (tail)", server.log_tail()))
    log = funcargs.get("browser_log")
    if isinstance(log, BrowserLog) and log.page_errors:
        report.sections.append(("browser page errors", "\n".join(log.page_errors)))


# --------------------------------------------------------------------------- JupyterLab page


class Lab:
    """One JupyterLab tab driven through the UI and ``window.jupyterapp``."""

    def __init__(self, page: Any, server: LabServer) -> None:
        self.page = page
        self.server = server

    def wait_until_ready(self) -> None:
        """Wait until JupyterLab has started and restored its layout."""
        self.page.wait_for_function(
            "() => window.jupyterapp !== undefined", timeout=LAB_READY_TIMEOUT_MS
        )
        self.page.evaluate("() => window.jupyterapp.restored.then(() => true)")

    def current_path(self) -> str | None:
        """Path of the document in the current main-area tab (None for a launcher etc.)."""
        return self.page.evaluate(
            "() => window.jupyterapp.shell.currentWidget?.context?.path ?? null"
        )

    def tile(self, section: str, label: str) -> Any:
        """The launcher card ``label`` in the section titled ``section`` (opens a launcher)."""
        if self.page.locator(".jp-Launcher:visible").count() == 0:
            self.page.evaluate(
                "async () => { await window.jupyterapp.commands.execute('launcher:create'); }"
            )
        block = self.page.locator(
            ".jp-Launcher:visible .jp-Launcher-section",
            has=self.page.locator(".jp-Launcher-sectionTitle", has_text=section),
        )
        return block.locator(".jp-LauncherCard", has_text=label)

    def open_from_tile(self, tile: Any, timeout_ms: int = 60_000) -> str:
        """Click a launcher tile, wait for a new notebook tab, return the notebook's path."""
        before = self.current_path()
        tile.click()
        self.page.wait_for_function(
            """(before) => {
                const w = window.jupyterapp.shell.currentWidget;
                const path = w?.context?.path;
                return Boolean(path && path !== before && path.endsWith('.ipynb')
                               && w.content?.model);
            }""",
            arg=before,
            timeout=timeout_ms,
        )
        path = self.current_path()
        assert path is not None
        return path

    def run_all(self, done_text: str, timeout_s: float = 180) -> None:
        """Run every cell of the current notebook until its last cell outputs ``done_text``.

        Fails early, with the traceback, when a cell raises.
        """
        self.page.evaluate(
            """async () => {
                const panel = window.jupyterapp.shell.currentWidget;
                await panel.context.ready;
                await panel.sessionContext.ready;
                await window.jupyterapp.commands.execute('notebook:run-all-cells');
            }"""
        )
        deadline = time.monotonic() + timeout_s
        status = "running"
        while time.monotonic() < deadline:
            status = self.page.evaluate(_RUN_STATUS_JS, done_text)
            if status != "running":
                break
            time.sleep(1)
        assert status == "done", f"notebook did not finish in {timeout_s:.0f}s: {status}"

    def kernel(self, code: str) -> str:
        """Run ``code`` in the current notebook's kernel (as a later cell would); its output."""
        return str(self.page.evaluate(_KERNEL_RUN_JS, code))

    def notebooks(self) -> dict[str, str]:
        """name -> last_modified of every notebook in the root folder (contents REST API)."""
        listing = self.server.api("contents")
        return {
            item["name"]: item["last_modified"]
            for item in listing["content"]
            if item["type"] == "notebook"
        }

    def close_everything(self, delete: list[str]) -> None:
        """Close all tabs unsaved, stop all kernels and delete the files ``delete``."""
        self.page.evaluate(
            """async (paths) => {
                const app = window.jupyterapp;
                // disposed, not closed: a notebook made dirty by its kernel's metadata
                // would ask whether to save
                for (const widget of Array.from(app.shell.widgets('main'))) widget.dispose();
                await app.serviceManager.sessions.shutdownAll();
                for (const path of paths) await app.serviceManager.contents.delete(path);
            }""",
            delete,
        )


def notebook_json(*sources: str) -> dict[str, Any]:
    """An nbformat-4 notebook of code cells (for the contents API), with no outputs."""
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "cells": [
            {
                "cell_type": "code",
                "id": f"cell-{i}",
                "metadata": {},
                "source": source,
                "outputs": [],
                "execution_count": None,
            }
            for i, source in enumerate(sources)
        ],
    }


_KERNEL_RUN_JS = """async (code) => {
    const panel = window.jupyterapp.shell.currentWidget;
    await panel.sessionContext.ready;
    const future = panel.sessionContext.session.kernel.requestExecute(
        {code, store_history: false});
    let out = '';
    future.onIOPub = msg => {
        if (msg.header.msg_type === 'stream') out += msg.content.text;
        if (msg.header.msg_type === 'error') {
            out += 'KERNEL ERROR ' + msg.content.ename + ': ' + msg.content.evalue;
        }
    };
    await future.done;
    return out;
}"""


# "done" once the last cell's outputs hold the text, "error: ..." once a cell raised.
_RUN_STATUS_JS = """(done) => {
    const cells = window.jupyterapp.shell.currentWidget.content.widgets;
    for (const cell of cells) {
        if (cell.model.type !== 'code') continue;
        for (const out of cell.model.outputs.toJSON()) {
            if (out.output_type === 'error') {
                return 'error: ' + out.ename + ': ' + out.evalue + '\\n' +
                    out.traceback.join('\\n').replace(/\\x1b\\[[0-9;]*m/g, '');
            }
        }
    }
    const last = cells[cells.length - 1];
    return JSON.stringify(last.model.outputs.toJSON()).includes(done) ? 'done' : 'running';
}"""


@pytest.fixture(scope="module")
def lab(lab_server: LabServer, new_context: Any) -> Iterator[Lab]:
    """JupyterLab opened with the token in one tab, shared by the tests of a module."""
    context = new_context()
    lab = Lab(context.new_page(), lab_server)
    lab.page.goto(f"{lab_server.url}/lab?token={lab_server.token}")
    lab.wait_until_ready()
    yield lab
    context.close()


@pytest.fixture(scope="module")
def notebook7(notebook_server: LabServer, new_context: Any) -> Iterator[Lab]:
    """Jupyter Notebook 7's file browser (``/tree``) opened with the token in one tab.

    :class:`Lab` drives Notebook 7 too: its app is exposed as ``window.jupyterapp`` and its
    ``shell.currentWidget`` is the open notebook's panel. Open a notebook with
    ``page.goto(f"{server.url}/notebooks/{path}")`` and ``wait_until_ready()``.
    """
    context = new_context()
    notebook = Lab(context.new_page(), notebook_server)
    notebook.page.goto(f"{notebook_server.url}/tree?token={notebook_server.token}")
    notebook.wait_until_ready()
    yield notebook
    context.close()


# --------------------------------------------------------------------------- static files


@pytest.fixture
def serve_folder() -> Iterator[Any]:
    """``serve_folder(path)`` serves a folder over HTTP on 127.0.0.1; returns the base URL."""
    servers: list[tuple[http.server.ThreadingHTTPServer, threading.Thread]] = []

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    def serve(folder: Path) -> str:
        handler = functools.partial(QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where tests save screenshots (``tests/artifacts``, or ``$WORKBENCH_SCREENSHOTS``)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
