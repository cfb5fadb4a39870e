"""The site finder's columns kept ready beside the parts: written by each ingest, used only
while they match the case's parts exactly, never trusted when damaged, swept when orphaned."""

from __future__ import annotations

import errno
import json
import mmap
import shutil
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.case import _site_cache, _site_input
from workbench.case._case import open_case
from workbench.case._parts import folder_for
from workbench.demo._generate import demo_frames
from workbench.intake._table import IntakeResult, load_table

TABLES = ("sellers", "identifiers", "shipments", "evidence")


def result(frame: pd.DataFrame, table: str = "shipments") -> IntakeResult:
    """``frame`` as intake returns it from an export file."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{table}.csv"
        frame.to_csv(path, index=False)
        return load_table(path, table, progress=False)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    out = demo_frames(seed=5, n_shipments=6_000, n_background_sellers=60)
    return {t: out[t] for t in TABLES}


def ready_files(case_path: Path) -> list[str]:
    return sorted(p.name for p in folder_for(case_path).glob("site-input-*"))


def mapped(values: np.ndarray) -> bool:
    """Whether ``values`` are a view of a mapped file."""
    while isinstance(values.base, np.ndarray):
        values = values.base
    base = values.base.obj if isinstance(values.base, memoryview) else values.base
    return isinstance(base, mmap.mmap)


def from_parts(case) -> pd.DataFrame:
    parts, _ = _site_input._listed(case._con)
    return _site_input._read(parts)


def test_an_ingest_writes_the_copy_and_a_run_reads_the_same_frame(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest(result(frames[t], t) for t in TABLES)
        files = ready_files(path)
        assert len(files) == 1
        _, ready = _site_input._listed(case._con)
        assert ready is not None and ready[0].name == files[0]
        copied = case.site_input()
        assert mapped(copied["lat"].to_numpy())
        pd.testing.assert_frame_equal(copied, from_parts(case))
        copied.loc[0, "lat"] = 0.0  # a user's frame to change; the file stays as it was
        pd.testing.assert_frame_equal(case.site_input(), from_parts(case))
        assert case.verify_audit().ok


def test_a_new_ingest_replaces_the_copy_and_it_follows_replaced_rows(
    tmp_path: Path, frames: dict[str, pd.DataFrame], monkeypatch
) -> None:
    monkeypatch.setattr(_site_cache, "_CHUNK_ROWS", 1_000)  # codes narrowed in pieces
    path = tmp_path / "c.gpkg"
    ships = frames["shipments"]
    with open_case(path) as case:
        case.ingest([result(ships.iloc[:4_000])])
        first = ready_files(path)
        # 1,000 waybills again (moved, another brand) and 2,000 new ones
        again = ships.iloc[3_000:].copy()
        again.loc[again.index[:1_000], "lat"] += 0.01
        again.loc[again.index[:1_000], "brand"] = "Gucci"
        case.ingest([result(again)])
        second = ready_files(path)
        assert len(second) == 1 and second != first  # the old copy is gone
        copied = case.site_input()
        assert len(copied) == 6_000
        pd.testing.assert_frame_equal(copied, from_parts(case))


def test_sites_are_the_same_with_and_without_the_copy(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "a" / "c.gpkg"
    path.parent.mkdir()
    with open_case(path) as case:
        case.ingest(result(frames[t], t) for t in TABLES)
    other = tmp_path / "b" / "c.gpkg"
    shutil.copytree(path.parent, other.parent)
    with sqlite3.connect(other) as con:  # the second case has no copy listed
        con.execute("DELETE FROM workbench_meta WHERE key = 'site_input'")
    runs = []
    for where in (path, other):
        with open_case(where) as case:
            listed = _site_input._listed(case._con)[1]
            assert (listed is None) == (where == other)
            run = case.find_sites(300)
            runs.append((run, case.sites(run).drop(columns="geometry")))
    assert runs[0][0] == runs[1][0]
    assert len(runs[0][1]) > 0
    pd.testing.assert_frame_equal(runs[0][1], runs[1][1])


def test_a_damaged_copy_is_not_used(tmp_path: Path, frames: dict[str, pd.DataFrame]) -> None:
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest([result(frames["shipments"])])
        expected = from_parts(case)
        copy = folder_for(path) / ready_files(path)[0]
        data = bytearray(copy.read_bytes())
        data[100] ^= 0xFF  # a latitude changed by hand
        copy.write_bytes(bytes(data))
        with pytest.warns(UserWarning, match="SHA-256 is not the one the case recorded"):
            frame = case.site_input()
        pd.testing.assert_frame_equal(frame, expected)
        copy.unlink()  # gone altogether: read from the parts, nothing said
        pd.testing.assert_frame_equal(case.site_input(), expected)


def test_a_copy_of_another_listing_or_another_place_is_not_used(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest([result(frames["shipments"])])
    with sqlite3.connect(path) as con:
        meta = json.loads(
            con.execute("SELECT value FROM workbench_meta WHERE key = 'site_input'").fetchone()[0]
        )
        stale = {**meta, "listing": "0" * 64}
        con.execute(
            "UPDATE workbench_meta SET value = ? WHERE key = 'site_input'", (json.dumps(stale),)
        )
    with open_case(path) as case:
        assert _site_input._listed(case._con)[1] is None
    for name in ("../../c.gpkg", "/etc/passwd", "site-input-x.bin"):
        with sqlite3.connect(path) as con:
            value = json.dumps({**meta, "file": name})
            con.execute("UPDATE workbench_meta SET value = ? WHERE key = 'site_input'", (value,))
        with open_case(path) as case:
            assert _site_cache.recorded(case._con) is None
            assert _site_input._listed(case._con)[1] is None
            assert len(case.site_input()) == len(frames["shipments"])


def test_an_orphaned_copy_is_swept_and_the_listed_one_kept(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "c.gpkg"
    ships = frames["shipments"]
    with open_case(path) as case:
        case.ingest([result(ships.iloc[:3_000])])
        orphan = folder_for(path) / f"site-input-{'a' * 32}.bin"  # a killed ingest's
        orphan.write_bytes(b"x" * 100)
        other = folder_for(path) / "notes.bin"  # not ours: left alone
        other.write_bytes(b"x")
        case.ingest([result(ships.iloc[3_000:])])
        assert not orphan.exists() and other.exists()
        files = ready_files(path)
        assert len(files) == 1
        pd.testing.assert_frame_equal(case.site_input(), from_parts(case))


def test_an_ingest_without_waybills_keeps_the_copy(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest([result(frames["shipments"])])
        before = ready_files(path)
        case.ingest([result(frames["evidence"], "evidence")])
        assert ready_files(path) == before
        assert _site_input._listed(case._con)[1] is not None


def test_the_writer_narrows_codes_as_pandas_keeps_them() -> None:
    assert _site_cache.code_dtype(3) == np.int8
    assert _site_cache.code_dtype(126) == np.int8
    assert _site_cache.code_dtype(127) == np.int16
    assert _site_cache.code_dtype(40_000) == np.int32
    for n in (3, 127, 40_000):
        codes = pd.Categorical.from_codes([0, n - 1], categories=range(n)).codes
        assert codes.dtype == _site_cache.code_dtype(n)


def test_a_run_on_a_case_without_a_copy_leaves_one_for_the_next(
    tmp_path: Path, frames: dict[str, pd.DataFrame]
) -> None:
    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest(result(frames[t], t) for t in TABLES)
    for name in ready_files(path):  # as a case made before ready copies
        (folder_for(path) / name).unlink()
    with sqlite3.connect(path) as con:
        con.execute("DELETE FROM workbench_meta WHERE key = 'site_input'")
    with open_case(path) as case:
        assert _site_input._listed(case._con)[1] is None
        # a run in a window reads every waybill too (then keeps those of its days)
        windowed = case.find_sites(300, since="2026-03-01")
        assert len(ready_files(path)) == 1
        assert _site_input._listed(case._con)[1] is not None
        pd.testing.assert_frame_equal(case.site_input(), from_parts(case))
        assert case.find_sites(300, since="2026-03-01") == windowed  # now from the copy
        assert case.verify_audit().ok


def test_a_copy_that_cannot_be_written_leaves_the_step_done(
    tmp_path: Path, frames: dict[str, pd.DataFrame], monkeypatch
) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        monkeypatch.setattr(_site_cache.Writer, "add", full)
        with pytest.warns(UserWarning, match="ready copy .* was not written"):
            counts = case.ingest([result(frames["shipments"])])
        assert counts["shipments"]["new"] == len(frames["shipments"])  # the ingest went in
        assert ready_files(path) == [] and _site_cache.recorded(case._con) is None
        assert not list(folder_for(path).glob(".incoming-*"))
        monkeypatch.setattr(_site_cache, "write_frame", full)
        with pytest.warns(UserWarning, match="ready copy .* was not written"):
            run = case.find_sites(300)  # the run is stored all the same
        assert run in case.runs()["run_id"].tolist()
        assert ready_files(path) == []
        pd.testing.assert_frame_equal(case.site_input(), from_parts(case))
        assert case.verify_audit().ok
