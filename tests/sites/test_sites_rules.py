"""Site finding: local density, stability, estimator contract, awkward inputs, demo truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from workbench.coords import EARTH_RADIUS_M, haversine_m
from workbench.demo._generate import demo_frames
from workbench.errors import InputError
from workbench.networks._link import link_sellers
from workbench.sites._finder import SiteFinder

M_PER_DEG = np.pi * EARTH_RADIUS_M / 180


def blob(
    lat: float, lon: float, n: int, spread_m: float, sellers: int, prefix: str, seed: int = 0
) -> pd.DataFrame:
    """``n`` waybills scattered (normal, ``spread_m``) around a point by ``sellers`` accounts."""
    rng = np.random.default_rng(seed)
    dlat = rng.normal(0, spread_m, n) / M_PER_DEG
    dlon = rng.normal(0, spread_m, n) / (M_PER_DEG * np.cos(np.radians(lat)))
    return pd.DataFrame(
        {
            "shipment_id": [f"{prefix}{i}" for i in range(n)],
            "seller_id": [f"{prefix}-S{i % sellers}" for i in range(n)],
            "lat": np.round(lat + dlat, 6),
            "lon": np.round(lon + dlon, 6),
        }
    )


def test_a_quiet_suburb_workshop_and_a_city_district_workshop_are_both_found() -> None:
    # quiet suburb: 60 waybills within ~30 m and nothing else for kilometres.
    # dense district: 20,000 waybills spread evenly over ~1.5 km (the background: every
    # 300 m disc there holds ~1,000 of them, far above the floor of 20), and inside it a
    # workshop of 3,000 waybills within ~40 m that stands out against that background.
    # A single global threshold low enough for the suburb would make the whole district one
    # site; one high enough for the district would miss the suburb.
    suburb = blob(25.60, 119.20, 60, 30, 3, "Q")
    district = blob(23.13, 113.26, 20_000, 1_500, 400, "D", seed=1)
    workshop = blob(23.135, 113.265, 3_000, 40, 6, "W", seed=2)
    ships = pd.concat([suburb, district, workshop], ignore_index=True)
    sites = SiteFinder(radius_m=300, min_shipments=20).fit(ships).sites_
    near_suburb = haversine_m(25.60, 119.20, sites["lat"].to_numpy(), sites["lon"].to_numpy())
    near_workshop = haversine_m(23.135, 113.265, sites["lat"].to_numpy(), sites["lon"].to_numpy())
    assert near_suburb.min() < 50 and near_workshop.min() < 60
    w = sites.iloc[int(np.argmin(near_workshop))]
    # the workshop site is the workshop and its edge (density clustering reaches one radius
    # beyond the seeds), not the district around it
    assert 3_000 <= w["n_shipments"] < 3_000 + 2_000
    # plain DBSCAN with the same floor swallows the district into one huge site
    flat = SiteFinder(radius_m=300, min_shipments=20, density_factor=0).fit(ships).sites_
    assert flat["n_shipments"].max() > 15_000


def test_results_do_not_depend_on_row_order(toy_shipments) -> None:
    a = SiteFinder().fit(toy_shipments)
    shuffled = toy_shipments.sample(frac=1.0, random_state=3)
    b = SiteFinder().fit(shuffled)
    cols = ["site_id", "lat", "lon", "radius_m", "n_shipments", "n_sellers", "score"]
    pd.testing.assert_frame_equal(a.sites_[cols], b.sites_[cols])
    assert a.run_id_ == b.run_id_
    # each waybill keeps its site whatever the order
    back = pd.Series(b.labels_, index=shuffled.index).reindex(toy_shipments.index)
    assert np.array_equal(back.to_numpy(), a.labels_)


def test_estimator_contract(toy_shipments) -> None:
    finder = SiteFinder(radius_m=250, min_sellers=3)
    assert finder.get_params()["radius_m"] == 250
    assert finder.set_params(radius_m=400) is finder and finder.radius_m == 400
    with pytest.raises(InputError, match="no parameter 'eps'"):
        finder.set_params(eps=1)
    assert not hasattr(finder, "labels_")
    assert finder.fit(toy_shipments) is finder
    assert finder.labels_.shape == (len(toy_shipments),)
    assert set(np.unique(finder.labels_)) <= set(range(-1, len(finder.sites_)))


def test_stability_says_which_sites_depend_on_the_radius(toy_shipments) -> None:
    sites = SiteFinder(radius_m=300).fit(toy_shipments).sites_
    assert set(sites["stability"].iloc[0]) == {"150", "600"}
    workshop = sites.iloc[0]
    assert workshop["stable"] and min(workshop["stability"].values()) > 0.9


def test_site_points_and_activity_cover_every_site_waybill(toy_shipments) -> None:
    finder = SiteFinder().fit(toy_shipments)
    per_site = finder.site_points_.groupby("site_id")["n_shipments"].sum()
    assert per_site.to_dict() == dict(
        zip(finder.sites_["site_id"], finder.sites_["n_shipments"], strict=True)
    )


@pytest.mark.parametrize(
    ("lat", "lon", "what"),
    [
        (np.full(200, 25.0), np.full(200, 119.0), "all points identical"),
        (np.array([25.0]), np.array([119.0]), "one point"),
        (np.full(200, 89.9999), np.linspace(-180, 180, 200), "around the pole"),
    ],
)
def test_awkward_inputs(lat: np.ndarray, lon: np.ndarray, what: str) -> None:
    ships = pd.DataFrame(
        {"seller_id": [f"S{i % 5}" for i in range(len(lat))], "lat": lat, "lon": lon}
    )
    finder = SiteFinder(min_shipments=20).fit(ships)
    if len(lat) >= 20:
        assert len(finder.sites_) == 1, what  # one place, 200 waybills, 5 sellers
        assert finder.sites_["n_shipments"].iloc[0] == 200
    else:
        assert finder.sites_.empty, what


def test_a_site_across_the_antimeridian_is_one_site() -> None:
    west = blob(-17.0, -179.9995, 50, 20, 3, "A")
    east = blob(-17.0, 179.9995, 50, 20, 3, "B")
    ships = pd.concat([west, east], ignore_index=True)
    ships["lon"] = ships["lon"].clip(-180, 180)
    sites = SiteFinder(radius_m=300, min_shipments=20).fit(ships).sites_
    assert len(sites) == 1 and sites["n_shipments"].iloc[0] == 100


def test_no_precise_points_gives_no_sites_and_counts_them(toy_shipments) -> None:
    finder = SiteFinder().fit(toy_shipments.assign(precision="city"))
    assert finder.sites_.empty
    assert finder.excluded_ == {"precision_city": len(toy_shipments)}


@pytest.mark.parametrize("radius", [0, -5, float("nan"), float("inf")])
def test_radius_must_be_positive(toy_shipments, radius: float) -> None:
    with pytest.raises(InputError, match="radius_m must be in"):
        SiteFinder(radius_m=radius).fit(toy_shipments)


# -- the demo generator's ground truth ---------------------------------------------------------
@pytest.mark.parametrize("n_shipments", [200_000, 2_000_000])
def test_demo_workshops_are_found_and_hubs_labelled(n_shipments: int) -> None:
    frames = demo_frames(
        n_shipments=n_shipments, n_background_sellers=max(1200, n_shipments // 500)
    )
    truth = frames["truth"]
    nets = link_sellers(frames["sellers"], frames["identifiers"])
    sites = (
        SiteFinder(radius_m=300)
        .fit(frames["shipments"], networks=nets.membership, evidence=frames["evidence"])
        .sites_
    )
    lat, lon = sites["lat"].to_numpy(), sites["lon"].to_numpy()
    planted = truth["sites"]
    top = sites.head(len(planted))
    for place in planted:
        dist = haversine_m(place["lat"], place["lon"], lat, lon)
        assert dist.min() <= 300, place["name"]
        assert sites["site_id"].iloc[int(np.argmin(dist))] in set(top["site_id"]), place["name"]
    for hub in truth["hubs"]:
        dist = haversine_m(hub["lat"], hub["lon"], lat, lon)
        found = sites.iloc[int(np.argmin(dist))]
        assert dist.min() <= 300 and found["label"] == "hub", hub["name"]
        assert found["rank"] > len(planted)


def _points(rng, n, lat, lon, spread_deg, sellers, brand):
    return pd.DataFrame(
        {
            "seller_id": rng.choice(sellers, n),
            "lat": lat + rng.choice([0.0, spread_deg], n),
            "lon": lon + rng.choice([0.0, spread_deg], n),
            "brand": brand,
        }
    )


def test_a_hub_never_ranks_above_a_workshop_and_evidence_free_clusters_rank_last() -> None:
    rng = np.random.default_rng(5)
    # a small workshop: 2 accounts of one ring, 40 waybills, one counterfeit test buy (on
    # another brand than it ships); sparse legitimate waybills around it lower its contrast
    workshop = _points(rng, 40, 24.4800, 118.1000, 0.0002, ["W1", "W2"], "no brand")
    around = pd.DataFrame(
        {
            "seller_id": [f"A{i}" for i in range(225)],
            "lat": 24.4800 + np.repeat(np.linspace(-0.012, 0.012, 15), 15),
            "lon": 118.1000 + np.tile(np.linspace(-0.012, 0.012, 15), 15),
            "brand": "no brand",
        }
    )
    around = around[(around["lat"] - 24.48).abs() + (around["lon"] - 118.1).abs() > 0.002]
    # a logistics hub: 60 unrelated accounts, half of them with mistaken counterfeit verdicts
    hub = _points(rng, 600, 29.3300, 120.1000, 0.0003, [f"H{i:02d}" for i in range(60)], "Nike")
    # a busy spot of one legitimate network without any evidence
    quiet = _points(rng, 300, 22.5000, 114.0000, 0.0002, [f"B{i}" for i in range(10)], "x")
    ships = pd.concat([workshop, around, hub, quiet], ignore_index=True)
    ships["shipment_id"] = [f"W{i:05d}" for i in range(len(ships))]
    networks = pd.DataFrame(
        {
            "seller_id": ["W1", "W2", *[f"B{i}" for i in range(10)]],
            "network_id": ["N1", "N1", *["N2"] * 10],
        }
    )
    evidence = pd.DataFrame(
        {
            "seller_id": ["W1"] + [f"H{i:02d}" for i in range(30) for _ in range(3)],
            "verdict": "counterfeit",
            "brand": ["Adidas"] + ["Nike"] * 90,
        }
    )
    sites = SiteFinder(300).fit(ships, networks=networks, evidence=evidence).sites_
    by_label = sites.set_index("label")
    assert sorted(sites["label"]) == ["hub", "mixed", "workshop"]
    # the hub outscores the workshop (its mistaken verdicts, brand focus and contrast) ...
    assert by_label.loc["hub", "score"] > by_label.loc["workshop", "score"]
    # ... and the evidence-free cluster outscores it too, yet the order is by label first
    assert by_label.loc["mixed", "score"] > by_label.loc["workshop", "score"]
    assert list(sites["label"]) == ["workshop", "hub", "mixed"]
    assert list(sites["rank"]) == [1, 2, 3]
