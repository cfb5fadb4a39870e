"""The harness itself: the guard the other browser tests rely on does block and record."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import BrowserLog

pytestmark = pytest.mark.browser

# 203.0.113.0/24 is TEST-NET-3 (RFC 5737): never a real host, and the guard aborts it first.
PAGE = """<!DOCTYPE html>
<img src="http://203.0.113.7/top.png">
<iframe sandbox="allow-scripts allow-modals"
        srcdoc="<img src='http://203.0.113.7/frame.png'><script>alert('from frame')</script>">
</iframe>
<script>new WebSocket("ws://203.0.113.7/socket"); alert("from page");</script>
"""


def test_guard_blocks_and_records_other_hosts(
    new_context: Any, private_log: BrowserLog, serve_folder: Any, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text(PAGE, encoding="utf-8")
    base = serve_folder(tmp_path)
    log = private_log
    page = new_context(log).new_page()

    page.goto(f"{base}/index.html")
    page.wait_for_timeout(1_000)

    blocked = {
        "http://203.0.113.7/top.png",
        "http://203.0.113.7/frame.png",  # from inside a sandboxed iframe
        "ws://203.0.113.7/socket",
    }
    assert set(log.aborted) == blocked
    assert set(log.non_local()) == blocked - {"ws://203.0.113.7/socket"}
    assert f"{base}/index.html" in log.requests
    assert sorted(log.dialogs) == ["alert: 'from frame'", "alert: 'from page'"]
    with pytest.raises(AssertionError, match=r"requests to other hosts: .*203\.0\.113\.7"):
        log.assert_stayed_local()
    with pytest.raises(AssertionError, match="JavaScript dialogs fired"):
        log.assert_no_dialogs()
    page.context.close()
