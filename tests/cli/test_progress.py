"""Progress of long steps: step counts that match what runs, bars on a terminal, --quiet."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pandas as pd
import pytest

import workbench
from workbench import progress as progress_module
from workbench.case._case import FIND_SITES_STEPS, open_case
from workbench.export._bundle import EXPORT_STEPS, export_tip_sheet
from workbench.export._keys import init_keys
from workbench.intake._table import load_table
from workbench.investigation import DEMO_STEPS, RUN_STEPS, run_demo, run_investigation
from workbench.progress import Progress, is_quiet, set_quiet
from workbench.sites._finder import FIT_STEPS, SiteFinder

TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


class Recorder:
    """Collects (done, total, label) as a Progress reports them."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int, str]] = []

    def __call__(self, done: int, total: int, label: str) -> None:
        self.calls.append((done, total, label))

    @property
    def labels(self) -> list[str]:
        return [label for _, _, label in self.calls if label]


def test_steps_count_up_and_the_last_one_finishes() -> None:
    seen = Recorder()
    with Progress("Task", 3, callback=seen) as progress:
        progress.step("a")
        progress.step("b")
        progress.step("c")
    # each step starts with the previous ones done; closing completes the last
    assert seen.calls == [(0, 3, "a"), (1, 3, "b"), (2, 3, "c"), (3, 3, "")]


def test_a_failed_task_is_not_counted_as_finished() -> None:
    seen = Recorder()
    with pytest.raises(RuntimeError), Progress("Task", 2, callback=seen) as progress:
        progress.step("a")
        raise RuntimeError("boom")
    assert seen.calls == [(0, 2, "a")]


def test_quiet_from_the_api_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress_module, "_quiet", False)
    monkeypatch.delenv("WORKBENCH_QUIET", raising=False)
    assert not is_quiet()
    monkeypatch.setenv("WORKBENCH_QUIET", "1")
    assert is_quiet()
    monkeypatch.setenv("WORKBENCH_QUIET", "0")
    assert not is_quiet()
    set_quiet()
    assert is_quiet()
    set_quiet(False)
    assert not is_quiet()


def test_fit_reports_exactly_its_steps(toy_shipments: pd.DataFrame) -> None:
    seen = Recorder()
    with Progress("Sites", FIT_STEPS, callback=seen) as progress:
        SiteFinder(300).fit(toy_shipments, progress=progress)
    assert len(seen.labels) == FIT_STEPS
    assert seen.calls[-1] == (FIT_STEPS, FIT_STEPS, "")
    assert "compiles" in seen.labels[0]  # the first run's wait is explained


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> workbench.DemoData:
    root = tmp_path_factory.mktemp("progress")
    return workbench.generate_demo(root / "data", n_shipments=3_000, n_background_sellers=50)


def test_case_steps_and_export_steps_match_what_runs(demo, tmp_path: Path) -> None:
    with open_case(tmp_path / "case.gpkg") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
        sites = Recorder()
        with Progress("Sites", FIND_SITES_STEPS, callback=sites) as progress:
            case.find_sites(300, progress=progress)
        assert len(sites.labels) == FIND_SITES_STEPS
        site = str(case.sites()["site_id"].iloc[0])
        case.review(site, status="confirmed", note="test buy", by="lead")
        case.set_setting("organisation", "Acme")
        case.set_setting("contact", "ip@acme.example")
        export = Recorder()
        with Progress("Tip sheet", EXPORT_STEPS, callback=export) as progress:
            export_tip_sheet(
                case, [site], out=tmp_path / "out", keys_dir=init_keys(tmp_path / "keys"),
                progress=progress,
            )  # fmt: skip
        assert len(export.labels) == EXPORT_STEPS


def test_run_steps_match_what_runs(demo, tmp_path: Path) -> None:
    seen = Recorder()
    with Progress("Run", RUN_STEPS, callback=seen) as progress:
        run_investigation(demo.folder, tmp_path / "out", progress=progress)
    assert len(seen.labels) == RUN_STEPS


def test_demo_steps_match_what_runs(tmp_path: Path) -> None:
    seen = Recorder()
    with Progress("Demo", DEMO_STEPS, callback=seen) as progress:
        run_demo(tmp_path / "demo", n_shipments=3_000, progress=progress)
    assert len(seen.labels) == DEMO_STEPS
    assert seen.labels[0] == "generating the demo exports" and seen.labels[-1].startswith("verif")


def _on_a_terminal(*args: str, cwd: Path) -> str:
    """Run ``python -m workbench ARGS`` with stdout and stderr on a pseudo-terminal."""
    leader, follower = pty.openpty()
    # a terminal of 24 x 120 characters (a new pseudo-terminal has no size)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("WORKBENCH_QUIET", None)
    with subprocess.Popen(
        [sys.executable, "-m", "workbench", *args],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=cwd, env=env,
    ) as child:  # fmt: skip
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert child.wait(timeout=600) == 0, b"".join(chunks).decode(errors="replace")
    os.close(leader)
    return b"".join(chunks).decode("utf-8", errors="replace")


@pytest.mark.slow
def test_sites_command_draws_a_bar_on_a_terminal_and_none_when_quiet(demo, tmp_path: Path) -> None:
    with open_case(tmp_path / "case.gpkg") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
    shown = _on_a_terminal("sites", str(tmp_path / "case.gpkg"), "--top", "1", cwd=tmp_path)
    assert "Finding sites:" in shown and f"/{FIND_SITES_STEPS}" in shown
    assert "clustering" in shown and "run " in shown
    quiet = _on_a_terminal(
        "--quiet", "sites", str(tmp_path / "case.gpkg"), "--top", "1", cwd=tmp_path
    )
    assert "Finding sites" not in quiet and "run " in quiet


def test_python_dash_m_workbench_is_the_command_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True,
        check=True, cwd=tmp_path,
    )  # fmt: skip
    assert out.stdout.strip().endswith(workbench.__version__)
    out = subprocess.run(
        [sys.executable, "-m", "workbench", "--help"], capture_output=True, text=True,
        check=True, cwd=tmp_path,
    )  # fmt: skip
    assert "--quiet" in out.stdout and "sites" in out.stdout


def test_quiet_silences_the_intake_bar_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "sellers.csv"
    path.write_text("seller_id,name\nS1,Shop 1\n", encoding="utf-8")
    monkeypatch.setattr(progress_module, "_quiet", False)
    monkeypatch.delenv("WORKBENCH_QUIET", raising=False)
    load_table(path, "sellers", progress=True)
    assert "sellers: sellers.csv" in capsys.readouterr().err
    set_quiet()
    load_table(path, "sellers", progress=True)
    assert capsys.readouterr().err == ""
