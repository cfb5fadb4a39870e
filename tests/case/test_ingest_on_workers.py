"""Waybill files read on the workers of a LocalCluster (2 processes) give the case a
local ingest gives: the same parts (byte for byte), waybills, quarantine, counts and audit
entry. A file that fails on a worker leaves the case as it was."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from test_many_waybill_files import stored, write_files

import workbench
from workbench.cli import cli
from workbench.errors import InputError

VOLATILE = {"elapsed_s", "rows_per_s"}  # how long a file took differs from run to run


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path], pd.DataFrame]:
    return write_files(tmp_path_factory.mktemp("files-on-workers"))


def _ingest(path: Path, folder: Path, files: dict[str, Path], client: Any) -> list[dict[str, Any]]:
    with workbench.open_case(path) as case:
        return case.ingest_files(
            {"sellers": folder / "sellers.csv", "shipments": [files[k] for k in "abc"]},
            client=client,
        )


def _parts(path: Path) -> list[tuple[int, str, int]]:
    with sqlite3.connect(path / "case.gpkg") as con:
        rows = con.execute("SELECT ingest_seq, sha256, rows FROM waybill_parts").fetchall()
    return sorted(rows)


def _steady(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in reports]


def test_the_workers_ingest_what_one_process_ingests(
    cluster_client: Any, made: tuple[Path, dict[str, Path], pd.DataFrame], tmp_path: Path
) -> None:
    folder, files, final = made
    local = _ingest(tmp_path / "local.case", folder, files, None)
    remote = _ingest(tmp_path / "remote.case", folder, files, cluster_client)
    assert _steady(remote) == _steady(local)
    assert [r["replaced_or_already_present"] for r in remote] == [0, 0, 1_000, 70]
    assert _parts(tmp_path / "remote.case") == _parts(tmp_path / "local.case")
    with (
        workbench.open_case(tmp_path / "local.case", create=False) as one,
        workbench.open_case(tmp_path / "remote.case", create=False) as other,
    ):
        pd.testing.assert_frame_equal(stored(other), stored(one))
        assert other.n_waybills() == len(final)
        pd.testing.assert_frame_equal(
            other.quarantine().drop(columns=["fid"], errors="ignore"),
            one.quarantine().drop(columns=["fid"], errors="ignore"),
        )
        mine, theirs = one.audit(), other.audit()
        assert (
            list(theirs["action"])
            == list(mine["action"])
            == ["create case", "ingest", "link sellers"]
        )
        assert theirs["parameters"].iloc[1] == mine["parameters"].iloc[1]
        assert other.verify_audit().ok
    leftovers = [p.name for p in (tmp_path / "remote.case").rglob("*") if ".incoming-" in str(p)]
    assert leftovers == []


def test_a_file_failing_on_a_worker_leaves_the_case_as_it_was(
    cluster_client: Any, made: tuple[Path, dict[str, Path], pd.DataFrame], tmp_path: Path
) -> None:
    _, files, _ = made
    broken = tmp_path / "broken_shipments.csv"
    pd.read_csv(files["b"], dtype=str).drop(columns=["shipment_id"]).to_csv(broken, index=False)
    path = tmp_path / "kept.case"
    with workbench.open_case(path) as case:
        case.ingest_files({"shipments": files["a"]})
        before, log = stored(case), len(case.audit())
        with pytest.raises(InputError, match=r"broken_shipments\.csv"):
            case.ingest_files({"shipments": [files["c"], broken]}, client=cluster_client)
        pd.testing.assert_frame_equal(stored(case), before)
        assert len(case.audit()) == log and case.verify_audit().ok
    assert not [p for p in path.rglob("*") if ".incoming-" in str(p) or "quarantine-" in p.name]


def test_a_missing_file_is_named_before_any_worker_starts(
    cluster_client: Any, tmp_path: Path
) -> None:
    with (
        workbench.open_case(tmp_path / "none.case") as case,
        pytest.raises(InputError, match=r"nowhere_shipments\.csv: no such file"),
    ):
        case.ingest_files(
            {"shipments": [tmp_path / "nowhere_shipments.csv"]}, client=cluster_client
        )


def test_the_cli_reads_waybill_files_on_workers(
    made: tuple[Path, dict[str, Path], pd.DataFrame], tmp_path: Path
) -> None:
    folder, files, final = made
    path = tmp_path / "cli.case"
    args = ["ingest", str(path), "--sellers", str(folder / "sellers.csv")]
    for key in "abc":
        args += ["--shipments", str(files[key])]
    result = CliRunner().invoke(cli, [*args, "--workers", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "on 2 Dask workers" in result.output
    assert result.output.count("shipments") >= 3
    with workbench.open_case(path, create=False) as case:
        assert case.n_waybills() == len(final)
        assert stored(case).index.is_unique
