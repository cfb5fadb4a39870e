"""`workbench sites --since/--until` and `workbench compare`: two quarters of one case."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from workbench.cli import cli


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, ["--quiet", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def case_path(windowed_case: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> str:
    copy = tmp_path_factory.mktemp("window-cli") / windowed_case.path.name
    shutil.copytree(windowed_case.path, copy)
    return str(copy)


def test_two_windows_then_what_changed(case_path: str) -> None:
    path = case_path
    q1 = json.loads(_run("sites", path, "--until", "2026-03-31", "--json"))["run_id"]
    q2 = json.loads(_run("sites", path, "--since", "2026-04-01", "--json"))["run_id"]
    text = _run("compare", path, q1, q2)
    assert text.splitlines()[0] == "1 appeared, 1 vanished, 1 grew, 0 shrank, 0 steady"
    assert "164 -> 328 waybills" in text
    changes = json.loads(_run("compare", path, q1, q2, "--json"))["changes"]
    assert sorted(c["change"] for c in changes) == ["appeared", "grew", "vanished"]


def test_a_bad_day_is_a_one_line_error(case_path: str) -> None:
    result = CliRunner().invoke(cli, ["--quiet", "sites", case_path, "--since", "May"])
    assert result.exit_code == 1
    assert "since='May' is not a day; write it as YYYY-MM-DD" in result.output
    assert "Traceback" not in result.output


def test_comparing_an_unknown_run_names_it(case_path: str) -> None:
    result = CliRunner().invoke(cli, ["compare", case_path, "abc", "def"])
    assert result.exit_code == 1
    assert "before='abc' is not a run" in result.output
