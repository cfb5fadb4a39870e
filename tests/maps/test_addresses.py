"""Seller addresses on the map: one by one in a view, binned on a grid when too many."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from workbench.maps._addresses import AddressIndex
from workbench.maps._data import script_json

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
def locations() -> pd.DataFrame:
    # Putian (two cells 0.1 degree apart): S1 has 3 warehouses and 1 return address in the
    # first, S2 one warehouse there and one registered address in the second; one address
    # in Yiwu; one without a position (left out everywhere).
    return pd.DataFrame(
        {
            "seller_id": ["S1", "S1", "S1", "S1", "S2", "S2", "S3", "S3"],
            "kind": ["warehouse"] * 3
            + ["return", "warehouse", "registered", "warehouse", "return"],
            "address": [f"{i} {HOSTILE} Road" for i in range(8)],
            "lat": [25.41, 25.42, 25.43, 25.44, 25.45, 25.55, 29.30, None],
            "lon": [119.01, 119.02, 119.03, 119.04, 119.05, 119.05, 120.07, None],
        }
    )


NAMES = {"S1": HOSTILE, "S2": "Lucky Shoes"}


def test_few_addresses_are_sent_one_by_one(locations: pd.DataFrame) -> None:
    payload, cell = AddressIndex(locations, NAMES).payload(max_points=10)
    assert cell is None and payload.get("grid") is None
    assert len(payload["lat"]) == 7  # the address without a position is not drawn
    assert payload["address"][0] == f"0 {HOSTILE} Road"
    assert payload["seller_names"][0] == HOSTILE


def test_many_addresses_are_binned_with_counts_per_kind(locations: pd.DataFrame) -> None:
    payload, cell = AddressIndex(locations, NAMES).payload(max_points=3)
    # 0.001..0.05 degree cells give more than 3; 0.1 degree gives Putian's two cells and Yiwu
    assert cell == 0.1 and payload["grid"] == 0.1
    assert payload["count"] == [5, 1, 1]  # most addresses first
    assert sum(payload["count"]) == 7
    kinds = payload["kinds"]
    first = dict(zip(kinds, payload["kind_counts"][0], strict=True))
    assert first == {"warehouse": 4, "return": 1, "registered": 0}
    assert kinds[payload["kind"][0]] == "warehouse"  # the ring's colour: the commonest kind
    # the first cell: S1 (4 addresses) before S2 (1), by name; no address text in a cell
    assert [payload["seller_names"][i] for i in payload["who"][0]] == [HOSTILE, "Lucky Shoes"]
    assert payload["sellers"][0] == 2 and payload["more"][0] == 0
    assert "address" not in payload
    assert payload["lat"][0] == pytest.approx(np.mean([25.41, 25.42, 25.43, 25.44, 25.45]))


def test_a_view_gets_its_own_addresses_one_by_one(locations: pd.DataFrame) -> None:
    index = AddressIndex(locations, NAMES)
    payload, cell = index.payload(max_points=3, bounds=[[25.0, 118.0], [26.0, 120.0]])
    # six in view, still more than three: binned, on a grid that fits the view
    assert cell == 0.05 and sum(payload["count"]) == 6 and len(payload["lat"]) <= 3
    payload, cell = index.payload(max_points=3, bounds=[[25.5, 119.0], [25.6, 119.1]])
    assert cell is None and payload["address"] == [f"5 {HOSTILE} Road"]
    payload, cell = index.payload(max_points=3, bounds=[[0.0, 0.0], [1.0, 1.0]])
    assert cell is None and payload["lat"] == []


def test_seller_names_per_cell_are_capped_with_a_count() -> None:
    # eight sellers with one warehouse each at one place: five named, three more
    frame = pd.DataFrame(
        {
            "seller_id": [f"S{i}" for i in range(8)],
            "kind": "warehouse",
            "address": "x",
            "lat": 25.0,
            "lon": 119.0,
        }
    )
    payload, _ = AddressIndex(frame, {}).payload(max_points=0)
    assert payload["sellers"] == [8] and payload["more"] == [3]
    assert [payload["seller_names"][i] for i in payload["who"][0]] == [f"S{i}" for i in range(5)]


def test_binned_payload_is_safe_json(locations: pd.DataFrame) -> None:
    payload, _ = AddressIndex(locations, NAMES).payload(max_points=3)
    text = script_json(payload)
    assert "<img" not in text and json.loads(text) == payload
