from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench._site_geometry import haversine_m, weighted_medoid, weighted_quantile
from workbench.errors import InputError, MissingColumnsError
from workbench.sites import SCORE_WEIGHTS, SiteFinder, find_sites


def test_fit_returns_self_and_sets_fitted_attributes(toy_shipments) -> None:
    finder = SiteFinder(radius_m=300)
    assert finder.fit(toy_shipments) is finder
    assert len(finder.labels_) == len(toy_shipments)
    assert set(finder.sites_["site_id"]) == {"S001", "S002"}


def test_workshop_ranks_above_hub(toy_shipments, toy_network, toy_evidence) -> None:
    sites = find_sites(toy_shipments, networks=toy_network, evidence=toy_evidence)
    top, hub = sites.iloc[0], sites.iloc[1]
    # the workshop: 600 waybills, 10 accounts of one network, 2 counterfeit test buys
    assert top["n_shipments"] == 600 and top["n_sellers"] == 10 and top["n_operators"] == 1
    assert top["label"] == "workshop" and top["place"] == "Putian"
    assert haversine_m(top["lat"], top["lon"], 25.4394, 119.0103) < 60
    # the hub: 300 unrelated accounts with genuine test buys is shown, labelled, ranked low
    assert hub["label"] == "hub" and hub["n_operators"] == 300
    assert hub["score"] < top["score"] / 3
    # evidence part: 2 counterfeit, 0 genuine -> 2 / (2 + 0 + 1)
    assert top["score_parts"]["evidence"] == pytest.approx(2 / 3, abs=1e-3)
    # concentration: 1 operator behind 10 accounts -> 1 - 1/10
    assert top["score_parts"]["concentration"] == pytest.approx(0.9)
    assert set(top["score_parts"]) == set(SCORE_WEIGHTS)


def test_collapsing_duplicates_equals_clustering_every_waybill(toy_shipments) -> None:
    # the same points, jittered by 1e-9 degrees so no two coincide, give the same sites
    rng = np.random.default_rng(0)
    spread = toy_shipments.assign(
        lat=toy_shipments["lat"] + rng.uniform(-1e-9, 1e-9, len(toy_shipments))
    )
    a = SiteFinder(radius_m=300).fit(toy_shipments)
    b = SiteFinder(radius_m=300).fit(spread)
    assert np.array_equal(a.labels_, b.labels_)


def test_min_sellers_drops_single_account_clusters(toy_shipments) -> None:
    one_seller = toy_shipments.assign(seller_id="X")
    assert SiteFinder(min_sellers=2).fit(one_seller).sites_.empty


def test_imprecise_points_are_excluded_and_counted(toy_shipments) -> None:
    ships = toy_shipments.assign(precision="exact")
    ships.loc[:99, "precision"] = "city"
    finder = SiteFinder().fit(ships)
    assert finder.n_excluded_ == 100
    assert (finder.labels_[:100] == -1).all()


def test_radius_holds_the_coverage_share(toy_shipments) -> None:
    site = find_sites(toy_shipments).iloc[0]
    members = toy_shipments[SiteFinder().fit(toy_shipments).labels_ == 0]
    dist = haversine_m(
        site["lat"], site["lon"], members["lat"].to_numpy(), members["lon"].to_numpy()
    )
    assert (dist <= site["radius_m"] + 1e-6).mean() >= 0.9


def test_weekly_activity_sums_to_site_volume(toy_shipments) -> None:
    finder = SiteFinder().fit(toy_shipments)
    per_site = finder.activity_.groupby("site_id")["n_shipments"].sum()
    assert per_site.to_dict() == dict(
        zip(finder.sites_["site_id"], finder.sites_["n_shipments"], strict=True)
    )


def test_medoid_is_a_real_point_not_a_centroid() -> None:
    # two heavy points at the ends of a line and one light point in the middle: the centroid
    # would be the middle; the weighted medoid must be one of the heavy points
    lat = np.array([25.0, 25.001, 25.002])
    lon = np.array([119.0, 119.0, 119.0])
    assert weighted_medoid(lat, lon, np.array([10.0, 1.0, 12.0])) == 2


def test_weighted_quantile() -> None:
    # weights 1, 1, 8: 90% of the weight is reached only at the last value
    assert weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([1.0, 1.0, 8.0]), 0.9) == 3.0


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"radius_m": 0}, "radius_m must be in"),
        ({"radius_m": 1e6}, "radius_m must be in"),
        ({"min_shipments": 0}, "min_shipments and min_sellers must be >= 1"),
        ({"coverage": 1.5}, "coverage must be in"),
    ],
)
def test_bad_parameters(toy_shipments, params, message) -> None:
    with pytest.raises(InputError, match=message):
        SiteFinder(**params).fit(toy_shipments)


def test_missing_columns(toy_shipments) -> None:
    with pytest.raises(MissingColumnsError, match=r"shipments: required field.*lat"):
        SiteFinder().fit(toy_shipments.drop(columns="lat"))


def test_no_sites_gives_an_empty_frame() -> None:
    ships = pd.DataFrame({"seller_id": ["A"], "lat": [25.0], "lon": [119.0]})
    assert SiteFinder().fit(ships).sites_.empty


def test_evidence_is_weighted_by_the_operators_share_of_waybills(
    toy_shipments, toy_network, toy_evidence
) -> None:
    # one account of the counterfeit network (R1) also ships 30 waybills through the hub:
    # the hub must not inherit the network's verdicts in full, only for that 1% of its traffic
    extra = toy_shipments[toy_shipments["seller_id"].str.startswith("H")].head(30)
    ships = pd.concat([toy_shipments, extra.assign(seller_id="R1")], ignore_index=True)
    sites = find_sites(ships, networks=toy_network, evidence=toy_evidence)
    hub = sites[sites["label"] == "hub"].iloc[0]
    # ring share 30 / 3,030 waybills, ring ratio 2 / (2 + 0 + 1); the other operators' ratios
    # are 0 (genuine buys) -> evidence ~ 0.0099 * 0.667
    assert hub["score_parts"]["evidence"] == pytest.approx(30 / 3030 * 2 / 3, abs=1e-3)
    assert hub["n_counterfeit"] == 2  # the counts themselves are still shown
