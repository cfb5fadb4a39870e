"""`workbench sites --workers 2` stores byte for byte the run `workbench sites` stores: the
same run id and the same rows of sites, areas, points and weekly activity (their audit
digests, SHA-256 over the stored rows, are equal)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench
from workbench.case import _state
from workbench.cli import cli

RUN_TABLES = ("sites", "site_areas", "site_points", "site_activity")


@pytest.fixture(scope="module")
def two_copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("workers-cli")
    demo = workbench.generate_demo(root / "data", seed=7, n_shipments=40_000)
    case_path = root / "one.case"
    with workbench.open_case(case_path) as case:
        case.ingest_files(workbench.find_exports(demo.folder).files)
    other = root / "two.case"
    shutil.copytree(case_path, other)
    return case_path, other


def _sites(*args: str) -> None:
    result = CliRunner().invoke(cli, ["--quiet", "sites", *args, "--top", "3"])
    assert result.exit_code == 0, result.output


def _digests(case_path: Path) -> tuple[str, dict[str, dict[str, str]]]:
    with workbench.open_case(case_path, create=False) as case:
        run = case.latest_run()
        path = case.path
    with sqlite3.connect(path) as con:
        return run, {t: _state.run_digests(con, t, [run]) for t in RUN_TABLES}


def test_two_workers_store_the_same_run(two_copies: tuple[Path, Path]) -> None:
    here, there = two_copies
    _sites(str(here))
    _sites(str(there), "--workers", "2")
    run_here, digests_here = _digests(here)
    run_there, digests_there = _digests(there)
    assert run_here == run_there
    assert digests_here == digests_there
    assert all(digests_here[t] for t in RUN_TABLES)  # each table holds rows of the run


def test_workers_and_a_scheduler_are_one_or_the_other(two_copies: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(
        cli, ["sites", str(two_copies[0]), "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"]
    )
    assert result.exit_code == 1
    assert "not both" in result.output and "Traceback" not in result.output
