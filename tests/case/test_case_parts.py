"""The waybills' GeoParquet parts: replacing, sweeping, reading by area, moving the case."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from workbench.case import _part_write, _parts
from workbench.case._case import open_case
from workbench.case._schema import SCHEMA_VERSION
from workbench.intake._table import IntakeResult


def waybills(ids: list[str], lat: float = 25.44, lon: float = 119.01, **columns) -> IntakeResult:
    n = len(ids)
    frame = pd.DataFrame(
        {
            "shipment_id": ids,
            "seller_id": [f"S{i % 3}" for i in range(n)],
            "lat": lat + np.arange(n) * 1e-4,
            "lon": lon + np.arange(n) * 1e-4,
            "shipped_at": pd.Timestamp("2026-03-02"),
            **columns,
        }
    )
    report = {"table": "shipments", "source": "x.csv", "sha256": f"{n:064d}", "rows_read": n}
    return IntakeResult("shipments", frame, frame.iloc[0:0], report)


def parts_of(case_path: Path) -> list[Path]:
    return sorted(case_path.with_suffix(".waybills").glob("part-*.parquet"))


def test_a_waybill_ingested_again_replaces_the_stored_one(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        first = case.ingest([waybills(["W1", "W2", "W3"], brand="Nike")])
        assert first["shipments"] == {
            "rows_read": 3, "new": 3, "replaced_or_already_present": 0, "quarantined": 0
        }  # fmt: skip
        again = case.ingest([waybills(["W3", "W4"], lat=30.0, brand="Gucci")])
        assert again["shipments"]["new"] == 1
        assert again["shipments"]["replaced_or_already_present"] == 1
        ships = case.table("shipments").set_index("shipment_id")
        assert sorted(ships.index) == ["W1", "W2", "W3", "W4"]
        assert ships.loc["W3", "brand"] == "Gucci" and ships.loc["W3", "lat"] == 30.0
        assert case.n_waybills() == 4
        assert case.verify_audit().ok
    # the first part stays, its replaced row marked; two parts are listed
    assert len(parts_of(tmp_path / "c.gpkg")) == 2


def test_a_row_replaced_before_is_not_counted_again(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1", "W2", "W3", "W4"])])
        case.ingest([waybills(["W1", "W2", "W5"], lat=26.0)])  # W1, W2 of part 1 replaced
        third = case.ingest([waybills(["W1", "W2", "W6"], lat=27.0)])
        # W1 and W2 are replaced once more (in part 2); their old rows in part 1 were
        # replaced already and are not counted again
        assert third["shipments"] == {
            "rows_read": 3, "new": 1, "replaced_or_already_present": 2, "quarantined": 0
        }  # fmt: skip
        assert case.n_waybills() == 6
        assert sorted(case.table("shipments")["shipment_id"]) == [f"W{i}" for i in range(1, 7)]
        assert case.verify_audit().ok


def test_a_part_whose_every_row_is_replaced_is_removed(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1", "W2"])])
        (old,) = parts_of(case.path)
        case.ingest([waybills(["W1", "W2"], lat=26.0)])
        assert not old.exists() and len(parts_of(case.path)) == 1
        assert case.table("shipments")["lat"].min() == 26.0
        assert case.verify_audit().ok


def test_orphans_and_dead_incoming_folders_are_swept_but_a_live_writer_is_not(
    tmp_path: Path,
) -> None:
    import fcntl

    path = tmp_path / "c.gpkg"
    with open_case(path) as case:
        case.ingest([waybills(["W1"])])
    folder = path.with_suffix(".waybills")
    orphan = folder / "part-0000deadbeef.parquet"  # moved in, never committed (a kill)
    shutil.copy(parts_of(path)[0], orphan)
    dead = folder / ".incoming-dead"
    dead.mkdir()
    (dead / ".lock").touch()
    (dead / "part-x.parquet.bucket-00").write_bytes(b"half")
    live = folder / ".incoming-live"
    live.mkdir()
    with (live / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process still writing its parts
        with open_case(path) as case:
            case.ingest([waybills(["W2"])])  # the next write sweeps
            assert len(case.table("shipments")) == 2
        assert not orphan.exists() and not dead.exists() and live.exists()
    listed = {r[0] for r in sqlite3.connect(path).execute("SELECT file FROM waybill_parts")}
    assert {p.name for p in parts_of(path)} == listed


def test_a_viewport_reads_only_its_row_groups(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_part_write, "ROW_GROUP_ROWS", 1_000)
    rng = np.random.default_rng(1)
    n = 20_000
    ids = [f"W{i}" for i in range(n)]
    result = waybills(ids)
    result.frame["lat"] = rng.uniform(20, 40, n)
    result.frame["lon"] = rng.uniform(100, 120, n)
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([result])
        (part,) = parts_of(case.path)
        assert pq.ParquetFile(part).num_row_groups == 20
        box = (25.0, 110.0, 26.0, 111.0)
        near = case.waybills(["shipment_id", "lat", "lon"], bbox=box)
        inside = near[near["lat"].between(25, 26) & near["lon"].between(110, 111)]
        everything = case.table("shipments")
        expected = everything[
            everything["lat"].between(25, 26) & everything["lon"].between(110, 111)
        ]
        # every waybill in the box, from a small share of the row groups (Hilbert order)
        assert sorted(inside["shipment_id"]) == sorted(expected["shipment_id"])
        assert len(near) <= n / 5


def test_a_case_folder_moves_as_one(tmp_path: Path) -> None:
    with open_case(tmp_path / "putian.case") as case:
        case.ingest([waybills(["W1", "W2"])])
        assert case.path == tmp_path / "putian.case" / "case.gpkg"
    assert sorted(p.name for p in (tmp_path / "putian.case").iterdir()) == [
        "case.gpkg",
        "case.gpkg.audit-head.json",
        "case.waybills",
    ]
    moved = shutil.move(tmp_path / "putian.case", tmp_path / "elsewhere" / "putian.case")
    with open_case(moved, create=False) as case:
        assert sorted(case.table("shipments")["shipment_id"]) == ["W1", "W2"]
        assert case.verify_audit().ok
    with open_case(Path(moved) / "case.gpkg", create=False) as case:  # the same case
        assert case.n_waybills() == 2


def test_site_waybills_are_read_from_the_sites_row_groups(tmp_path: Path) -> None:
    from workbench.demo._generate import generate_demo
    from workbench.intake._table import load_table

    demo = generate_demo(tmp_path / "demo", n_shipments=6_000, n_background_sellers=80)
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest(
            [
                load_table(getattr(demo, t), t)
                for t in ("sellers", "identifiers", "shipments", "evidence")
            ]
        )
        run = case.find_sites(300)
        sites = case.sites(run)
        top = sites.iloc[0]
        ships = case.site_shipments(str(top["site_id"]))
        assert len(ships) == int(top["n_shipments"])
        assert set(ships["seller_id"]) <= set(top["sellers"])
        # waybills ingested after the run do not join its sites
        extra = waybills(
            ["LATE1"], lat=float(ships["lat"].iloc[0]), lon=float(ships["lon"].iloc[0])
        )
        extra.frame["lat"] = ships["lat"].iloc[0]
        extra.frame["lon"] = ships["lon"].iloc[0]
        case.ingest([extra])
        assert len(case.site_shipments(str(top["site_id"]), run_id=run)) == int(top["n_shipments"])


@pytest.mark.parametrize("name", ["putian.txt", "putian.case.zip"])
def test_other_names_are_refused(tmp_path: Path, name: str) -> None:
    from workbench.errors import InputError

    with pytest.raises(InputError, match=r"NAME.case folder or a .gpkg file"):
        open_case(tmp_path / name)


def test_find_sites_keeps_the_networks_linked_after_the_last_ingest(tmp_path: Path) -> None:
    from workbench.demo._generate import generate_demo
    from workbench.intake._table import load_table

    demo = generate_demo(tmp_path / "demo", n_shipments=3_000, n_background_sellers=50)

    def links() -> int:
        return case.audit()["action"].tolist().count("link sellers")

    with open_case(tmp_path / "c.case") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in ("sellers", "identifiers")])
        assert links() == 1  # the ingest linked the accounts it brought
        case.ingest([load_table(demo.shipments, "shipments")])
        assert links() == 1  # waybills change no link
        case.link_sellers(include_weak=True)  # an option find_sites must not undo
        stored = case.table("networks")
        case.find_sites(300)
        assert links() == 2
        pd.testing.assert_frame_equal(case.table("networks"), stored)
        # accounts came in again: the ingest links them with the options of the last linking
        case.ingest([load_table(demo.sellers, "sellers")])
        assert links() == 3
        assert '"include_weak":true' in case.audit()["parameters"].iloc[-1]
        pd.testing.assert_frame_equal(case.table("networks"), stored)
        case.find_sites(300)
        assert links() == 3
        # an ingest told not to link leaves the networks behind: the run links first, with
        # the options of the last linking
        case.ingest([load_table(demo.identifiers, "identifiers")], link=False)
        case.find_sites(300)
        assert links() == 4
        linked = case.audit()
        linked = linked[linked["action"] == "link sellers"]
        assert '"include_weak":true' in linked["parameters"].iloc[-1]


def test_an_ingest_links_again_with_the_threshold_it_was_given(tmp_path: Path) -> None:
    from workbench.demo._generate import generate_demo
    from workbench.intake._table import load_table

    demo = generate_demo(tmp_path / "demo", n_shipments=3_000, n_background_sellers=50)
    with open_case(tmp_path / "c.case") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in ("sellers", "identifiers")])
        chosen = json.loads(case.audit()["parameters"].iloc[-1])
        assert chosen["max_accounts_from"] == "data"
        case.link_sellers(max_accounts=3, allow_list=["400-800-1234"])
        case.ingest([load_table(demo.identifiers, "identifiers")])
        again = json.loads(case.audit()["parameters"].iloc[-1])
        assert case.audit()["action"].iloc[-1] == "link sellers"
        assert (again["max_accounts"], again["max_accounts_from"]) == (3, "given")
        assert again["allow_list"] == ["400-800-1234"]


def test_a_run_without_sites_reads_as_empty(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.case") as case:
        case.ingest([waybills(["W1", "W2"])])  # one seller per point: no site
        run = case.find_sites(300)
        assert case.sites(run).empty and case.sites().empty
        from workbench.errors import NotFoundError

        with pytest.raises(NotFoundError, match="is not in this case"):
            case.sites("nope")


# -- the companions of counts the explorer reads ------------------------------------------
def cells_frame(case) -> pd.DataFrame:
    cells = case.waybill_cells().to_pandas()
    cells["seller_id"] = cells["seller_id"].astype(str)
    cells["brand"] = cells["brand"].astype(object)
    cells["day"] = pd.to_datetime(cells["day"]).astype("datetime64[ns]")
    keys = ["lat", "lon", "seller_id", "brand", "day"]
    return cells.groupby(keys, dropna=False)["n"].sum().sort_index()


def counted(case) -> pd.Series:
    ships = case.waybills(["lat", "lon", "seller_id", "brand", "shipped_at"])
    ships["day"] = ships["shipped_at"].dt.normalize().astype("datetime64[ns]")
    keys = ["lat", "lon", "seller_id", "brand", "day"]
    return ships.groupby(keys, dropna=False).size().rename("n").sort_index()


def test_each_part_has_a_companion_of_counts_matching_its_waybills(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        ids = [f"W{i}" for i in range(40)]
        brands = ["Nike" if i % 2 else None for i in range(40)]
        case.ingest([waybills(ids, brand=brands, lat=np.where(np.arange(40) < 30, 25.44, 25.5))])
        listed = case._con.execute("SELECT file FROM waybill_cells").fetchall()
        assert len(listed) == 1 and listed[0][0].startswith("cells-")
        assert (case.path.with_suffix(".waybills") / listed[0][0]).is_file()
        got = cells_frame(case)
        assert int(got.sum()) == 40
        pd.testing.assert_series_equal(got, counted(case), check_dtype=False)


def test_counts_leave_out_replaced_waybills(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1", "W2", "W3"], brand="Nike")])
        case.ingest([waybills(["W3", "W4"], lat=30.0, brand="Gucci")])
        got = cells_frame(case)
        assert int(got.sum()) == 4  # W3 counted once, at its new place
        pd.testing.assert_series_equal(got, counted(case), check_dtype=False)


def test_an_altered_companion_breaks_the_audit_chain(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1", "W2", "W3"])])
        assert case.verify_audit().ok
        (name,) = case._con.execute("SELECT file FROM waybill_cells").fetchone()
        companion = case.path.with_suffix(".waybills") / name
        table = pq.read_table(companion)
        pq.write_table(table.slice(0, 1), companion)
        assert not case.verify_audit().ok


def test_a_case_without_companions_gets_them_on_open(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1", "W2", "W3"], brand="Nike")])
        before = counted(case)
        (name,) = case._con.execute("SELECT file FROM waybill_cells").fetchone()
    # back to schema 5: no companions table
    (tmp_path / "c.waybills" / name).unlink()
    with sqlite3.connect(tmp_path / "c.gpkg") as con:
        con.execute("DROP TABLE waybill_cells")
        for table in ("cross_references", "xref_index", "events", "event_sellers"):  # 7's, 8's
            con.execute(f"DROP TABLE {table}")
            con.execute("DELETE FROM gpkg_contents WHERE table_name = ?", (table,))
        con.execute("UPDATE workbench_meta SET value = '5' WHERE key = 'schema_version'")
    con.close()
    with open_case(tmp_path / "c.gpkg") as case:
        assert case.schema_version == SCHEMA_VERSION
        assert len(case._con.execute("SELECT * FROM waybill_cells").fetchall()) == 1
        pd.testing.assert_series_equal(cells_frame(case), before, check_dtype=False)
        assert case.verify_audit().ok  # companions change no ingest's digest


def test_a_companion_no_transaction_lists_is_swept(tmp_path: Path) -> None:
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([waybills(["W1"])])
        stray = case.path.with_suffix(".waybills") / "cells-0123.parquet"
        stray.write_bytes(b"left by a killed ingest")
        case.ingest([waybills(["W2"])])
        assert not stray.exists()
        assert len(list(case.path.with_suffix(".waybills").glob("cells-*.parquet"))) == 2


# -- writing a part: bounded sort, whatever the file's order ------------------------------
def _sorted_file(n: int, seed: int = 3) -> list[pd.DataFrame]:
    """Waybills in chunks ordered so the first chunk's key quantiles fit the rest badly:
    the first chunk is all in one town, later chunks spread over the country, and a third
    of the rows sit on one point (a hub)."""
    rng = np.random.default_rng(seed)
    lat = np.r_[np.full(n // 10, 25.44), rng.uniform(20, 40, n - n // 10)]
    lon = np.r_[np.full(n // 10, 119.01), rng.uniform(100, 120, n - n // 10)]
    hub = rng.random(n) < 0.33
    lat[hub], lon[hub] = 29.3, 120.07
    frame = pd.DataFrame(
        {
            "shipment_id": [f"W{i}" for i in range(n)],
            "seller_id": [f"S{i % 7}" for i in range(n)],
            "lat": lat,
            "lon": lon,
            "shipped_at": pd.Timestamp("2026-03-02"),
        }
    )
    return [frame.iloc[i : i + n // 10] for i in range(0, n, n // 10)]


def test_a_part_is_in_key_order_when_buckets_overflow(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_part_write, "_SORT_ROWS", 300)
    monkeypatch.setattr(_part_write, "ROW_GROUP_ROWS", 250)
    sizes: list[int] = []
    real = _part_write._sorted_runs
    split = []

    def runs(spill):  # type: ignore[no-untyped-def]
        top = spill.path.name.endswith(
            tuple(f"bucket-{b:02d}" for b in range(_part_write._BUCKETS))
        )
        split.append(not top)
        for table in real(spill):
            if top:  # a split spill's runs come through here again
                sizes.append(table.num_rows)
            yield table

    monkeypatch.setattr(_part_write, "_sorted_runs", runs)
    with _parts.incoming_folder(tmp_path / "parts") as incoming:
        writer = _part_write.PartsWriter(incoming)
        for chunk in _sorted_file(5_000):
            writer.add(chunk)
        (info,) = writer.finish()
        assert info.rows == 5_000
        table = pq.read_table(info.path)
        # only the part and its companion are left: every spill was removed
        assert sorted(p.name for p in incoming.iterdir() if p.name != ".lock") == sorted(
            [info.path.name, _parts.cells_name(info.path.name)]
        )
    key = _part_write.hilbert_key(table.column("lat").to_numpy(), table.column("lon").to_numpy())
    assert (np.diff(key.astype(np.float64)) >= 0).all()
    assert sorted(table.column("shipment_id").to_pylist()) == sorted(f"W{i}" for i in range(5_000))
    # no run is sorted in memory above the bound: the hub's 1,650 rows share one key
    # and come as the chunks spilled them (at most 500 rows each)
    assert sum(sizes) == 5_000 and max(sizes) <= 500, sizes
    assert any(split)  # some bucket was split again


def test_work_ahead_keeps_order_raises_where_it_failed_and_stops_its_thread() -> None:
    import threading

    from workbench.ahead import ahead

    assert list(ahead(range(100))) == list(range(100))

    made = [0]

    def counted():  # type: ignore[no-untyped-def]
        for i in range(50):
            made[0] += 1
            yield i

    import time

    for taken, item in enumerate(ahead(counted()), start=1):
        time.sleep(0.002)  # the producer has time to run ahead, if it may
        assert made[0] <= taken + 1  # at most one item beyond the one being worked on
        assert item == taken - 1

    def failing():  # type: ignore[no-untyped-def]
        yield 1
        raise ValueError("row 2: bad")

    got = []
    with pytest.raises(ValueError, match="row 2"):
        for item in ahead(failing()):
            got.append(item)
    assert got == [1]
    before = threading.active_count()
    for item in ahead(iter(range(1_000_000))):
        if item == 3:
            break
    assert threading.active_count() == before


def test_a_point_with_many_waybills_gets_a_bucket_of_its_own(tmp_path: Path, monkeypatch) -> None:
    """A point that holds many of the first chunk's waybills (a hub) spills to a bucket
    of its own: one key, already in order, so it is never split again nor sorted."""
    monkeypatch.setattr(_part_write, "_SORT_ROWS", 300)
    rng = np.random.default_rng(5)
    n = 5_000
    lat, lon = rng.uniform(20, 40, n), rng.uniform(100, 120, n)  # spread alike in every chunk
    hub = rng.random(n) < 0.3  # ~1,500 rows on one point: five times the sort bound
    lat[hub], lon[hub] = 29.3, 120.07
    frame = pd.DataFrame(
        {"shipment_id": [f"W{i}" for i in range(n)], "seller_id": "S1", "lat": lat, "lon": lon,
         "shipped_at": pd.Timestamp("2026-03-02")}
    )  # fmt: skip
    real_split, real_sort = _part_write._split, pc.sort_indices
    splits, sorted_rows = [], []
    monkeypatch.setattr(_part_write, "_split", lambda *a: splits.append(1) or real_split(*a))

    def sort_indices(values, *a, **kw):  # type: ignore[no-untyped-def]
        sorted_rows.append(len(values))
        return real_sort(values, *a, **kw)

    with _parts.incoming_folder(tmp_path / "parts") as incoming:
        writer = _part_write.PartsWriter(incoming, cells=False)
        for start in range(0, n, 500):
            writer.add(frame.iloc[start : start + 500])
        monkeypatch.setattr(pc, "sort_indices", sort_indices)
        (info,) = writer.finish()
        monkeypatch.undo()
        table = pq.read_table(info.path)
    assert not splits
    assert sum(sorted_rows) == n - hub.sum()  # every row but the hub's was sorted once
    ids = table.column("shipment_id").to_pylist()
    on_hub = [i for i in ids if hub[int(i[1:])]]
    assert on_hub == [f"W{i}" for i in np.nonzero(hub)[0]]  # in the order they came
    assert sorted(ids) == sorted(f"W{i}" for i in range(n))


def test_a_large_file_is_written_as_two_parts_of_its_key_range(tmp_path: Path, monkeypatch) -> None:
    """From ``SPLIT_ROWS`` waybills on, a file is written as two parts at once: the lower
    and the upper half of its key range, each in key order with its own bounding box and
    companion; together they hold every row once, and a case reads them as one."""
    monkeypatch.setattr(_part_write, "SPLIT_ROWS", 2_000)
    monkeypatch.setattr(_part_write, "ROW_GROUP_ROWS", 250)
    chunks = _sorted_file(5_000)
    with _parts.incoming_folder(tmp_path / "parts") as incoming:
        writer = _part_write.PartsWriter(incoming)
        for chunk in chunks:
            writer.add(chunk)
        lower, upper = writer.finish()
        tables = [pq.read_table(info.path) for info in (lower, upper)]
        assert [info.rows for info in (lower, upper)] == [t.num_rows for t in tables]
        assert all(info.cells is not None and info.cells[0].is_file() for info in (lower, upper))
        for info, table in zip((lower, upper), tables, strict=True):
            lat, lon = table.column("lat").to_numpy(), table.column("lon").to_numpy()
            assert info.bbox == (lat.min(), lon.min(), lat.max(), lon.max())
    keys = [
        _part_write.hilbert_key(t.column("lat").to_numpy(), t.column("lon").to_numpy())
        for t in tables
    ]
    assert (np.diff(np.concatenate(keys).astype(np.float64)) >= 0).all()  # lower, then upper
    assert 1_000 < lower.rows < 4_000  # about half each (a hub's rows stay together)
    ids = tables[0].column("shipment_id").to_pylist() + tables[1].column("shipment_id").to_pylist()
    assert sorted(ids) == sorted(f"W{i}" for i in range(5_000))


def test_an_ingest_of_a_large_file_stores_both_parts(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(_part_write, "SPLIT_ROWS", 2_000)
    frame = pd.concat(_sorted_file(5_000))
    report = {"table": "shipments", "source": "x.csv", "sha256": "0" * 64, "rows_read": 5_000}
    with open_case(tmp_path / "c.gpkg") as case:
        case.ingest([IntakeResult("shipments", frame, frame.iloc[0:0], report)])
        assert len(parts_of(case.path)) == 2
        assert case.n_waybills() == 5_000
        assert sorted(case.waybills(["shipment_id"])["shipment_id"]) == sorted(frame["shipment_id"])
        assert case.verify_audit().ok
