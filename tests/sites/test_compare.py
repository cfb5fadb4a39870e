"""Matching the sites of two runs by place: nearest pairs first, one match each."""

from __future__ import annotations

import pandas as pd
import pytest

from workbench.sites._compare import compare_sites


def _sites(rows: list[tuple[str, float, float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["site_id", "lat", "lon", "radius_m", "n_shipments"])


def test_every_kind_of_change() -> None:
    before = _sites(
        [
            ("A1", 25.0000, 119.0000, 100.0, 100),  # grows
            ("A2", 25.1000, 119.0000, 100.0, 300),  # shrinks
            ("A3", 25.2000, 119.0000, 100.0, 100),  # holds (120 < 1.5 x 100)
            ("A4", 25.3000, 119.0000, 100.0, 50),  # gone
        ]
    )
    after = _sites(
        [
            ("B1", 25.0010, 119.0000, 100.0, 150),  # 111 m from A1
            ("B2", 25.1000, 119.0010, 100.0, 200),
            ("B3", 25.2000, 119.0000, 100.0, 120),
            ("B4", 25.5000, 119.0000, 100.0, 80),  # new
        ]
    )
    out = compare_sites(before, after).set_index("change")
    assert list(out.index) == ["appeared", "vanished", "grew", "shrank", "steady"]
    assert (out.loc["grew", "site_before"], out.loc["grew", "site_after"]) == ("A1", "B1")
    assert out.loc["grew", "distance_m"] == pytest.approx(111.2, abs=0.1)
    assert out.loc["shrank", "summary"] == "A2 -> B2 shrank: 300 -> 200 waybills"
    assert (out.loc["appeared", "site_after"], out.loc["vanished", "site_before"]) == ("B4", "A4")
    assert pd.isna(out.loc["appeared", "site_before"])


def test_each_site_matches_once_nearest_first() -> None:
    # two sites after, both within reach of one site before: the nearer one is the match
    before = _sites([("A1", 25.0, 119.0, 200.0, 100)])
    after = _sites([("B1", 25.002, 119.0, 200.0, 100), ("B2", 25.001, 119.0, 200.0, 100)])
    out = compare_sites(before, after)
    matched = out[out["change"] == "steady"]
    assert matched["site_after"].tolist() == ["B2"]
    assert out[out["change"] == "appeared"]["site_after"].tolist() == ["B1"]


def test_far_apart_sites_do_not_match_and_empty_runs_work() -> None:
    before = _sites([("A1", 25.0, 119.0, 50.0, 100)])
    after = _sites([("B1", 25.01, 119.0, 50.0, 100)])  # 1.1 km: beyond reach
    assert sorted(compare_sites(before, after)["change"]) == ["appeared", "vanished"]
    assert compare_sites(before, after.iloc[:0])["change"].tolist() == ["vanished"]
    assert compare_sites(before.iloc[:0], after.iloc[:0]).empty


def test_a_factor_of_one_or_less_is_refused() -> None:
    with pytest.raises(ValueError, match="factor=1"):
        compare_sites(_sites([]), _sites([]), factor=1)
