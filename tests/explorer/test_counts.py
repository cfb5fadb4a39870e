"""The explorer draws counts, not waybills: every number must equal the waybill-level one.

A hand-built case of two ingests (two waybill parts). Cells repeat within a part and
across the two, one waybill is replaced by the second ingest (at another place, with
another brand), two have no coordinates and one no shipping day. Each count the index gives
is checked against the same rule applied to ``case.waybills()`` with pandas.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely

from workbench.case._case import open_case
from workbench.explorer._data import CaseData, Selection, select
from workbench.intake._table import IntakeResult
from workbench.maps._index import Filters, WaybillIndex

# S1 and S2 form network N1, S3 is unlinked
NETWORK_OF = {"S1": "N1", "S2": "N1"}
NAMES = {"S1": "Lucky Trade", "S2": "Star <b>Shoes</b>"}
A = (25.4400001, 119.01)  # rounds to 25.44: the same map point as B's neighbour below
B = (25.44, 119.0100004)  # rounds to (25.44, 119.01): one point with A at 1e-6 degree
C = (25.50, 119.20)
FAR = (31.23, 121.47)


def _ingest(case: Any, rows: list[tuple[Any, ...]]) -> None:
    ids, sellers, where, brands, days = zip(*rows, strict=True)
    frame = pd.DataFrame(
        {
            "shipment_id": list(ids),
            "seller_id": list(sellers),
            "lat": [np.nan if w is None else w[0] for w in where],
            "lon": [np.nan if w is None else w[1] for w in where],
            "brand": list(brands),
            "shipped_at": pd.to_datetime(list(days), format="ISO8601"),
        }
    )
    n = len(frame)
    report = {"table": "shipments", "source": "x.csv", "sha256": f"{n:064d}", "rows_read": n}
    case.ingest([IntakeResult("shipments", frame, frame.iloc[0:0], report)])


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = Path(tmp_path_factory.mktemp("counts")) / "c.gpkg"
    case = open_case(path, actor="analyst-7")
    _ingest(
        case,
        [
            ("W1", "S1", A, "Nike", "2026-03-02 09:00"),
            ("W2", "S1", A, "Nike", "2026-03-02 17:30"),  # same cell as W1
            ("W3", "S1", A, "Nike", "2026-03-02 10:00"),  # replaced by the second ingest
            ("W4", "S2", B, "Gucci", "2026-03-05"),
            ("W5", "S2", C, None, "2026-04-01"),
            ("W6", "S3", C, "Nike", None),  # no shipping day
            ("W7", "S3", None, "Nike", "2026-03-03"),  # no coordinates
            ("W8", "S3", FAR, "Gucci", "2026-05-10"),
        ],
    )
    _ingest(
        case,
        [
            ("W3", "S2", FAR, "Gucci", "2026-05-11"),  # W3 again: now S2, FAR, Gucci
            ("W9", "S1", A, "Nike", "2026-03-02 23:59"),  # W1's cell, in the other part
            ("W10", "S2", B, "Gucci", "2026-03-05"),  # W4's cell
            ("W11", "S1", C, "Gucci", "2026-04-30"),
            ("W12", "S3", None, "Gucci", "2026-04-01"),  # no coordinates
        ],
    )
    yield case
    case.close()


def _expected(ships: pd.DataFrame, filters: Filters) -> pd.Series:
    """The filter rule written out over waybills: True for those that pass."""
    keep = ships["lat"].notna() & ships["lon"].notna()
    day = ships["shipped_at"].dt.normalize()
    if filters.brands:
        keep &= ships["brand"].isin(filters.brands)
    if filters.networks:
        keep &= ships["seller_id"].map(NETWORK_OF).isin(filters.networks)
    if filters.start is not None:
        keep &= day >= filters.start
    if filters.end is not None:
        keep &= day <= filters.end
    return keep


FILTERS = [
    Filters(),
    Filters(brands=("Nike",)),
    Filters(brands=("Nike", "Gucci")),
    Filters(networks=("N1",)),
    Filters(start=pd.Timestamp("2026-03-03")),
    Filters(end=pd.Timestamp("2026-03-05")),
    Filters(brands=("Gucci",), networks=("N1",), start=pd.Timestamp("2026-03-05")),
    Filters(brands=("Adidas",)),  # no such brand: nothing
]


def test_the_case_is_as_built(case: Any) -> None:
    ships = case.waybills()
    assert len(ships) == 12  # 8 + 5, W3 once
    assert ships.set_index("shipment_id").loc["W3", "seller_id"] == "S2"
    assert len(case.waybill_cells()) > 2  # cells from both parts


@pytest.mark.parametrize("filters", FILTERS)
def test_counts_equal_the_waybills(case: Any, filters: Filters) -> None:
    index = WaybillIndex(case.waybill_cells(), NAMES, NETWORK_OF)
    ships = case.waybills()
    expected = _expected(ships, filters)
    assert index.count(filters) == expected.sum()
    assert index.n_skipped == 2  # W7 and W12
    # per map point: the same shipments at the same places
    summary = index.summary(filters, max_points=1_000)
    got = {(p.lat, p.lon): p.shipments for p in summary.points.itertuples()}
    kept = ships[expected.to_numpy()]
    by_point = kept.groupby([kept["lat"].round(6), kept["lon"].round(6)]).size()
    assert got == {k: v for k, v in by_point.items()}


def test_the_cells_and_the_waybills_give_the_same_map(case: Any) -> None:
    from_cells = WaybillIndex(case.waybill_cells(), NAMES, NETWORK_OF)
    from_rows = WaybillIndex.from_shipments(case.waybills(), NAMES, NETWORK_OF)
    assert from_cells.brands == from_rows.brands == ["Gucci", "Nike"]
    assert from_cells.networks == from_rows.networks == ["N1"]
    for filters in FILTERS:
        pd.testing.assert_frame_equal(
            from_cells.summary(filters).points, from_rows.summary(filters).points
        )
    # A and B are one point at 1e-6 degree: 3 Nike waybills of S1 and 2 Gucci of S2
    top = from_cells.summary().points.iloc[0]
    assert (top["lat"], top["lon"], top["shipments"], top["sellers"]) == (25.44, 119.01, 5, 2)
    assert top["names"] == ["Lucky Trade", "Star <b>Shoes</b>"]


def test_a_missing_seller_id_is_its_own_seller(case: Any) -> None:
    ships = pd.DataFrame(
        {"seller_id": ["S1", None, None], "lat": [1.0, 1.0, 1.0], "lon": [2.0, 2.0, 2.0]}
    )
    points = WaybillIndex.from_shipments(ships, {}, {}).summary().points
    assert points["sellers"].tolist() == [2] and points["shipments"].tolist() == [3]
    assert points["names"].tolist() == [["(no seller id)", "S1"]]


# -- selections -------------------------------------------------------------------------------
def _data(case: Any) -> CaseData:
    cd = CaseData.read(case)
    index = WaybillIndex(case.waybill_cells(), NAMES, NETWORK_OF)
    return dataclasses.replace(cd, building=index, network_of=NETWORK_OF, names=NAMES)


def _no_sites() -> pd.DataFrame:
    return pd.DataFrame({"site_id": [], "lat": [], "lon": []})


BOX_AROUND_A_AND_C = shapely.box(119.0, 25.43, 119.3, 25.6)  # not FAR


@pytest.mark.parametrize("filters", FILTERS)
def test_a_drawn_shape_selects_the_waybills_the_map_counts(case: Any, filters: Filters) -> None:
    selection = select(_data(case), _no_sites(), BOX_AROUND_A_AND_C, filters)
    ships = case.waybills()
    inside = shapely.intersects_xy(BOX_AROUND_A_AND_C, ships["lon"], ships["lat"])
    expected = ships[_expected(ships, filters).to_numpy() & inside]
    assert selection.n_shipments == len(expected)
    assert sorted(selection.shipments["shipment_id"]) == sorted(expected["shipment_id"])
    assert list(selection.shipments.columns) == [*ships.columns, "geometry"]
    per_seller = expected.groupby("seller_id").size()
    got = selection.sellers.set_index("seller_id")["n_shipments"]
    assert got[got > 0].sort_index().to_dict() == per_seller.sort_index().to_dict()


def test_a_selection_reads_its_waybills_once_and_only_when_asked(case: Any) -> None:
    cd = _data(case)
    reads: list[Any] = []
    original = case.waybills

    def counting(*args: Any, **kwargs: Any) -> pd.DataFrame:
        reads.append(kwargs.get("bbox"))
        return original(*args, **kwargs)

    cd = dataclasses.replace(cd, case=type("C", (), {"waybills": staticmethod(counting)})())
    selection = select(cd, _no_sites(), BOX_AROUND_A_AND_C, Filters(brands=("Nike",)))
    assert isinstance(selection, Selection) and reads == []
    assert repr(selection).startswith("<Selection (draw): 4 shipments, 2 sellers")  # W1 W2 W9 W6
    assert len(selection.shipments) == 4 and len(selection.shipments) == 4
    assert len(reads) == 1
    south, west, north, east = reads[0]  # the shape's bounds (min lat, min lon, ...)
    assert (south, west, north, east) == pytest.approx((25.43, 119.0, 25.6, 119.3), abs=1e-5)


def test_points_select_the_waybills_at_them(case: Any) -> None:
    # a site's points: A (which B shares at 1e-6 degree) and FAR, with a hull around A only
    hull = shapely.box(119.0, 25.43, 119.02, 25.45)
    at = (np.array([A[0], FAR[0]]), np.array([A[1], FAR[1]]))
    selection = select(_data(case), _no_sites(), hull, Filters(networks=("N1",)), points=at)
    # N1 at A/B: W1 W2 W9 (S1), W4 W10 (S2); at FAR: W3 (S2 since the second ingest)
    expected = ["W1", "W10", "W2", "W3", "W4", "W9"]
    assert selection.n_shipments == 6
    assert sorted(selection.shipments["shipment_id"]) == expected
    top = selection.sellers.set_index("seller_id")
    assert top.loc["S1", "n_shipments"] == 3 and top.loc["S2", "n_shipments"] == 3
    # S2 ships two from A/B and one from FAR: its point is A/B at 1e-6 degree
    assert (top.loc["S2", "lat"], top.loc["S2", "lon"]) == (25.44, 119.01)
