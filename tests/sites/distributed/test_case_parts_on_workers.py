"""The workers read the case's Parquet parts themselves, and the run stored is the one a
single process stores: the same run id and the same rows of sites, areas, points and weekly
activity (their audit digests), the same waybills left out.

The case is built so that every way a share can differ from the whole shows: parts cut into
row groups of 4,000 waybills (shares of one to three row groups, so a point, a seller or a
day is first seen in one share and seen again in others), a second ingest that replaces 300
waybills of the first (rows marked in ``waybill_deletes``, some inside a share, the
replacements moved 2 km) and adds 200 waybills geocoded only to the city (left out as
``precision_city``) and 100 whose coordinates are out of range (left out as
``out_of_range``).
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from distributed import get_task_stream

import workbench
from workbench.case import _part_write, _state
from workbench.case._analysis import save_sites
from workbench.case._distributed_input import (
    joined_on_workers,
    plan_shares,
    read_share,
)
from workbench.case._site_input import site_frame
from workbench.errors import InputError
from workbench.sites._finder import SiteFinder
from workbench.sites._shares import Joined, SharedSiteFinder, collapse_share

RUN_TABLES = ("sites", "site_areas", "site_points", "site_activity")
GROUP_ROWS = 4_000


@pytest.fixture(scope="module")
def case_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("parts-on-workers")
    demo = workbench.generate_demo(root / "data", seed=7, n_shipments=30_000)
    first = pd.read_csv(demo.shipments, dtype=str, keep_default_na=False)
    replaced = first.iloc[5_000:5_300].copy()  # inside a share of the first part
    replaced["lat"] = (replaced["lat"].astype(float) + 0.018).round(6).astype(str)
    city = first.iloc[:200].copy()
    city["shipment_id"] = "C" + city["shipment_id"]
    district = first.iloc[200:300].copy()
    district["shipment_id"] = "D" + district["shipment_id"]
    update = pd.concat([replaced, city, district])
    update["precision"] = ["exact"] * 300 + ["city"] * 200 + ["district"] * 100
    update_file = root / "update_shipments.csv"
    update.to_csv(update_file, index=False)
    path = root / "parts.case"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_part_write, "ROW_GROUP_ROWS", GROUP_ROWS)
        with workbench.open_case(path) as case:
            case.ingest_files(workbench.find_exports(demo.folder).files)
            case.ingest_files({"shipments": update_file})
            case.link_sellers()
    return path


def _inputs(case: Any) -> tuple[sqlite3.Connection, pd.DataFrame, pd.DataFrame]:
    return case._con, case.table("networks"), case.table("evidence")


def test_the_shares_cut_parts_and_carry_the_replaced_rows(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        specs = plan_shares(case._con, share_rows=2 * GROUP_ROWS + 1)
        whole = site_frame(case._con)
    assert len(specs) == 4 and [len(s.groups) for s in specs] == [3, 3, 2, 1]
    assert sum(len(s.deleted) for s in specs) == 300  # the replaced waybills
    assert sum(s.live_rows for s in specs) == len(whole)
    shares = [read_share(spec) for spec in specs]
    # each share is the single-process read's rows, in order, names aside
    both = pd.concat([s.astype({c: str for c in ("seller_id", "brand")}) for s in shares])
    for column in ("seller_id", "brand", "lat", "lon", "value_cny"):
        expected = whole[column].astype(str) if column in ("seller_id", "brand") else whole[column]
        np.testing.assert_array_equal(both[column].to_numpy(), expected.to_numpy())


def test_joined_shares_are_the_finder_input_of_one_process(case_path: Path) -> None:
    with workbench.open_case(case_path, create=False) as case:
        con, nets, evidence = _inputs(case)
        joined = joined_on_workers(con, None, share_rows=GROUP_ROWS)
        frame = site_frame(con)
    one = SiteFinder(300).fit(frame, networks=nets, evidence=evidence)
    lat, lon, weight, point = one._points(frame)
    np.testing.assert_array_equal(joined.lat, lat)
    np.testing.assert_array_equal(joined.lon, lon)
    np.testing.assert_array_equal(joined.weight, weight)
    np.testing.assert_array_equal(joined.point, point)
    codes = joined.frame()
    for column in ("seller_id", "brand", "precision", "shipped_at"):
        pd.testing.assert_index_equal(
            codes[column].cat.categories, frame[column].cat.categories, obj=column
        )
        np.testing.assert_array_equal(codes[column].cat.codes, frame[column].cat.codes)
    # what the case leaves out (expected: the 200 city-level and 100 district-level waybills)
    assert one.excluded_ == {"precision_city": 200, "precision_district": 100}
    shared = SharedSiteFinder(300).fit_joined(joined, networks=nets, evidence=evidence)
    assert shared.run_id_ == one.run_id_
    assert shared.excluded_ == one.excluded_ and shared.n_excluded_ == 300
    pd.testing.assert_frame_equal(shared.sites_, one.sites_)
    np.testing.assert_array_equal(shared.labels_, one.labels_)
    pd.testing.assert_frame_equal(shared.site_points_, one.site_points_)
    pd.testing.assert_frame_equal(shared.activity_, one.activity_)


def test_a_share_whose_every_row_is_replaced_changes_no_name(
    case_path: Path, tmp_path: Path
) -> None:
    # the first row group of the first part marked replaced as a whole: a share with no row
    # left. The names must still come out as the one-process read gives them (there, Arrow
    # drops the emptied row group with its dictionary; its names come from the rows after)
    other = tmp_path / "gone.case"
    shutil.copytree(case_path, other)
    with workbench.open_case(other, create=False) as case:
        gpkg = case.path
    with sqlite3.connect(gpkg) as con:
        part, rows = con.execute(
            "SELECT p.part_id, d.rows FROM waybill_parts p JOIN waybill_deletes d "
            "ON d.part_id = p.part_id ORDER BY p.part_id LIMIT 1"
        ).fetchone()
        gone = np.union1d(np.frombuffer(rows, "<u4"), np.arange(GROUP_ROWS))
        con.execute(
            "UPDATE waybill_deletes SET rows = ? WHERE part_id = ?",
            (gone.astype("<u4").tobytes(), part),
        )
    with workbench.open_case(other, create=False) as case:
        specs = plan_shares(case._con, GROUP_ROWS)
        joined = joined_on_workers(case._con, None, share_rows=GROUP_ROWS)
        frame = site_frame(case._con)
    assert specs[0].live_rows == 0  # read all the same
    codes = joined.frame()
    for column in ("seller_id", "brand", "precision", "shipped_at"):
        pd.testing.assert_index_equal(
            codes[column].cat.categories, frame[column].cat.categories, obj=column
        )
        np.testing.assert_array_equal(codes[column].cat.codes, frame[column].cat.codes)
    np.testing.assert_array_equal(joined.point, SiteFinder()._points(frame)[3])


def test_two_workers_read_the_parts_and_the_same_run_is_stored(
    case_path: Path, tmp_path: Path, cluster_client: Any
) -> None:
    other = tmp_path / "other.case"
    shutil.copytree(case_path, other)
    with workbench.open_case(case_path, create=False) as case:
        here = case.find_sites(300)  # the single-machine path, as it stands
    with workbench.open_case(other, create=False) as case:
        con, nets, evidence = _inputs(case)
        with get_task_stream(cluster_client) as stream:
            joined = joined_on_workers(con, cluster_client, share_rows=GROUP_ROWS)
            finder = SharedSiteFinder(300).fit_joined(
                joined, networks=nets, evidence=evidence, client=cluster_client
            )
        there = save_sites(case, finder)
    shares = [task for task in stream.data if str(task["key"]).startswith("share-")]
    with workbench.open_case(other, create=False) as case:
        assert len(shares) == len(plan_shares(case._con, GROUP_ROWS))
    assert len({task["worker"] for task in shares}) == 2  # both workers read parts
    assert here == there
    assert _digests(case_path, here) == _digests(other, there)


def test_something_else_than_a_client_is_refused(case_path: Path) -> None:
    refused = pytest.raises(InputError, match=r"client: expected a distributed\.Client")
    with workbench.open_case(case_path, create=False) as case, refused:
        joined_on_workers(case._con, "tcp://127.0.0.1:8786")


def test_a_share_without_text_columns_collapses_too() -> None:
    # the rows: a point twice, one further, one without coordinates (left out)
    share = collapse_share(
        pd.DataFrame(
            {
                "seller_id": ["B", "A", "B", "A"],
                "lat": [30.0, 30.0, 31.0, np.nan],
                "lon": [120.0, 120.0, 121.0, np.nan],
                "shipped_at": ["2026-03-02", "2026-03-01", None, "2026-03-02"],
            }
        )
    )
    assert share.point.tolist() == [0, 0, 1, -1]
    assert share.names["seller_id"] == ["B", "A"]  # first seen first
    assert share.codes["shipped_at"].tolist() == [0, 1, -1, 0]
    assert share.excluded == {"no_coordinates": 1}
    joined = Joined.of([share, share])
    assert joined.weight.tolist() == [4.0, 2.0] and joined.point.tolist() == [0, 0, 1, -1] * 2


def _digests(path: Path, run: str) -> dict[str, dict[str, str]]:
    with workbench.open_case(path, create=False) as case:
        gpkg = case.path
    with sqlite3.connect(gpkg) as con:
        return {t: _state.run_digests(con, t, [run]) for t in RUN_TABLES}
