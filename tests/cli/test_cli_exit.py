"""The command line ends its process as soon as the command has (``end_process``): same
output, same exit status, exit handlers run, and a thread still at work is waited for."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import workbench
from workbench.case import open_case
from workbench.intake._table import load_table

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [
        ("None", 0, ""),
        ("0", 0, ""),
        ("3", 3, ""),
        ("'stopped: a message'", 1, "stopped: a message"),  # what sys.exit does with text
    ],
)
def test_end_process_status_and_message(
    tmp_path: Path, code: str, status: int, stderr: str
) -> None:
    # output written just before the end is flushed, and exit handlers run
    done = _python(
        f"""
        import atexit, sys
        from workbench.cli._common import end_process
        atexit.register(lambda: print("handler ran"))
        sys.stdout.write("buffered, not flushed")
        end_process({code})
        """,
        tmp_path,
    )
    assert done.returncode == status
    assert done.stdout == "buffered, not flushedhandler ran\n"
    assert done.stderr.strip() == stderr


def test_end_process_waits_for_a_thread_still_at_work(tmp_path: Path) -> None:
    # a non-daemon thread writing a file after the command returned: the process does not
    # end under it (the interpreter's usual exit joins it), so the file is complete
    done = _python(
        """
        import threading, time
        from pathlib import Path
        from workbench.cli._common import end_process

        def write():
            time.sleep(0.5)
            Path("late.txt").write_text("written")

        threading.Thread(target=write).start()
        end_process(0)
        """,
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "late.txt").read_text() == "written"


def test_sites_command_output_and_case_after_a_fast_end(tmp_path: Path) -> None:
    # `workbench sites` in its own process: the listing printed, status 0, the run stored
    # and the audit log (with its anchor beside the case) intact afterwards
    demo = workbench.generate_demo(tmp_path / "data", n_shipments=3_000, n_background_sellers=50)
    path = tmp_path / "case.gpkg"
    with open_case(path) as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "--quiet", "sites", str(path), "--top", "2"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "candidate sites" in done.stdout
    with open_case(path, create=False) as case:
        assert len(case.runs()) == 1
        check = case.verify_audit()
        assert check.ok and check.anchored, str(check)
    missing = subprocess.run(
        [sys.executable, "-m", "workbench", "--quiet", "sites", str(tmp_path / "nope.gpkg")],
        capture_output=True, text=True, cwd=tmp_path, timeout=600, check=False,
    )  # fmt: skip
    assert missing.returncode != 0
    assert "Traceback" not in missing.stderr and missing.stderr.strip()


@pytest.mark.parametrize(("setting", "expected"), [(None, "False"), ("1", "True")])
def test_command_line_processes_use_small_pages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: str
) -> None:
    """NumPy's huge-page advice is off in a ``workbench`` process (faulting in 2 MB pages
    cost 1 s of system time of a 5 s ``workbench sites`` at 10M), unless the user set it."""
    if setting is None:
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    else:
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", setting)
    done = _python(
        """
        import workbench.cli
        from numpy._core import multiarray
        print(multiarray._get_madvise_hugepage())
        """,
        tmp_path,
    )
    assert done.stdout.strip() == expected, done.stderr
