"""``workbench sites`` starts reading the waybills before the case is opened (while pandas
and geopandas load); the run takes that read only when the case it opens lists exactly
the parts read, so a case changed in between is read again, never mixed."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import workbench
from workbench.case import _site_arrays
from workbench.case._site_input import frame_of, site_frame, site_frame_ahead


@pytest.fixture
def case_path(tmp_path: Path) -> Path:
    demo = workbench.generate_demo(tmp_path / "data", seed=3, n_shipments=4_000)
    path = tmp_path / "early.case"
    with workbench.open_case(path) as case:
        case.ingest_files(workbench.find_exports(demo.folder).files)
    return path


def test_the_early_read_is_taken_when_the_case_lists_the_same_parts(case_path: Path) -> None:
    _site_arrays.start_early_read(str(case_path))
    with workbench.open_case(case_path, create=False) as case:
        parts = _site_arrays.parts_of(case._con)
        early = _site_arrays.take_early_read(case._con, parts)
        assert early is not None
        pd.testing.assert_frame_equal(frame_of(early.result()), site_frame(case._con))
        assert _site_arrays.take_early_read(case._con, parts) is None  # taken once


def test_a_case_changed_after_the_early_read_is_read_again(case_path: Path, tmp_path: Path) -> None:
    more = tmp_path / "more_shipments.csv"
    rows = pd.read_csv(tmp_path / "data" / "shipments.csv", dtype=str, keep_default_na=False)
    rows.iloc[:500].assign(shipment_id="X" + rows["shipment_id"].iloc[:500]).to_csv(
        more, index=False
    )
    _site_arrays.start_early_read(str(case_path))
    with workbench.open_case(case_path, create=False) as case:
        case.ingest_files({"shipments": more})  # after the early read listed the parts
        parts = _site_arrays.parts_of(case._con)
        assert _site_arrays.take_early_read(case._con, parts) is None
        frame = site_frame_ahead(case._con)()
        assert len(frame) == case.n_waybills() == 4_500


@pytest.mark.parametrize("name", ["nowhere.case", "not-a-case.txt"])
def test_no_early_read_for_what_is_not_a_case(tmp_path: Path, name: str) -> None:
    _site_arrays.start_early_read(str(tmp_path / name))  # the run says what is wrong
    assert not any(str(tmp_path) in str(path) for path in _site_arrays._early)


def test_the_cli_run_gives_the_same_sites_with_the_early_read(case_path: Path) -> None:
    from click.testing import CliRunner

    from workbench.cli import cli

    result = CliRunner().invoke(cli, ["--quiet", "sites", str(case_path), "--json"])
    assert result.exit_code == 0, result.output
    with workbench.open_case(case_path, create=False) as case:
        assert not _site_arrays._early  # taken by the run
        runs = case.runs()
        again = case.find_sites()  # read in the ordinary way: the same run, reused
        assert again == runs["run_id"].iloc[-1]
        assert json.loads(case.audit()["parameters"].iloc[-1])["reused"] is True
