from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from workbench.coords import haversine_m
from workbench.errors import InputError, MissingColumnsError
from workbench.sites._describe import _medoid, geometry
from workbench.sites._finder import SCORE_WEIGHTS, SiteFinder, find_sites


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
    # the four weighted parts, and which pass found the site (both: the workshop is dense
    # and its network carries the verdicts)
    assert set(top["score_parts"]) == {*SCORE_WEIGHTS, "found_by"}
    assert top["score_parts"]["found_by"] == "density+evidence"
    assert hub["score_parts"]["found_by"] == "density"


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
    assert _medoid(lat, lon, np.array([10.0, 1.0, 12.0])) == 2


def test_the_radius_holds_the_covered_share_of_the_weight() -> None:
    # weights 8, 1, 1 at 0, 111 and 222 m from the medoid: 90% of the weight is reached
    # only with the second point, so the radius is its distance (rounded up to 0.1 m)
    lat = np.array([25.0, 25.001, 25.002])
    lon = np.array([119.0, 119.0, 119.0])
    site = geometry(lat, lon, np.array([8.0, 1.0, 1.0]), np.zeros(3, dtype=np.int64), 1, 0.9)
    assert site["medoid"].iloc[0] == 0
    assert site["radius_m"].iloc[0] == pytest.approx(
        haversine_m(25.0, 119.0, 25.001, 119.0), abs=0.1
    )


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


# -- the fast paths (threads, dense tables, categorical codes) agree with the plain ones -----
@pytest.fixture(scope="module")
def demo_case() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    from workbench.demo._generate import demo_frames
    from workbench.networks._link import link_sellers

    frames = demo_frames(n_shipments=40_000, n_background_sellers=300)
    nets = link_sellers(frames["sellers"], frames["identifiers"]).membership
    ships = frames["shipments"].copy()
    # a precision column with levels that take part and one that does not, missing values
    ships["precision"] = np.where(np.arange(len(ships)) % 13 == 0, "street", "exact")
    ships.loc[ships.index[::101], "precision"] = "city"
    ships.loc[ships.index[::97], "value_cny"] = np.nan
    ships.loc[ships.index[::89], "brand"] = None
    return ships, nets, frames["evidence"]


def _fitted(ships: pd.DataFrame, case: tuple[pd.DataFrame, ...]) -> SiteFinder:
    return SiteFinder(radius_m=300).fit(ships, networks=case[1], evidence=case[2])


def _assert_same(a: SiteFinder, b: SiteFinder) -> None:
    assert np.array_equal(a.labels_, b.labels_)
    pd.testing.assert_frame_equal(a.sites_, b.sites_, check_exact=True)
    pd.testing.assert_frame_equal(a.site_points_, b.site_points_, check_exact=True)
    pd.testing.assert_frame_equal(a.activity_, b.activity_, check_exact=True)
    assert (a.run_id_, a.excluded_) == (b.run_id_, b.excluded_)


def test_threads_give_the_same_sites(demo_case, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.sites import _waybills as _site_waybills

    one = _fitted(demo_case[0], demo_case)
    assert len(one.sites_) > 10
    monkeypatch.setattr(_site_waybills, "PARALLEL_MIN_WAYBILLS", 0)
    monkeypatch.setattr(_site_waybills, "threads", lambda: 3)
    _assert_same(one, _fitted(demo_case[0], demo_case))


def test_hashed_tables_give_the_same_sites(demo_case, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.sites import _tally as _site_tally

    dense = _fitted(demo_case[0], demo_case)
    monkeypatch.setattr(_site_tally, "DENSE_CELLS", 0)  # brands, weeks, levels hashed
    _assert_same(dense, _fitted(demo_case[0], demo_case))


def test_categorical_columns_give_the_same_sites(demo_case) -> None:
    ships = demo_case[0]
    # categories in another order than the waybills: ties between brands must not follow them
    coded = ships.astype(
        {c: pd.CategoricalDtype(sorted(ships[c].dropna().unique(), reverse=True)) for c in
         ("seller_id", "brand", "shipped_at", "precision")}
    )  # fmt: skip
    _assert_same(_fitted(ships, demo_case), _fitted(coded, demo_case))


def test_waybills_without_a_seller_count_but_are_nobodys(
    toy_shipments, toy_network, toy_evidence
) -> None:
    ships = toy_shipments.copy()
    ships.loc[ships.index[:50], "seller_id"] = None  # 50 of the workshop's 600 waybills
    top = find_sites(ships, networks=toy_network, evidence=toy_evidence).iloc[0]
    assert top["n_shipments"] == 600 and top["n_sellers"] == 10 and top["label"] == "workshop"


def test_importing_sites_does_not_import_numba() -> None:
    code = "import sys, workbench.sites._finder; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_site_kernels_load_from_the_cache_in_one_version() -> None:
    # text and categorical columns, with and without precision: one compiled version of
    # each kernel, loaded from numba's on-disk cache by a second process
    code = (
        "import json\n"
        "import numpy as np, pandas as pd\n"
        "from workbench.sites import _geometry_jit as _site_geometry_jit, _jit as _site_jit\n"
        "from workbench.sites._finder import SiteFinder\n"
        "rng = np.random.default_rng(0)\n"
        "n = 3000\n"
        "ships = pd.DataFrame({'seller_id': [f'S{i % 7}' for i in range(n)],\n"
        "    'lat': 25 + rng.normal(0, 2e-4, n), 'lon': 119 + rng.normal(0, 2e-4, n),\n"
        "    'shipped_at': '2026-01-05', 'brand': 'Nike', 'value_cny': 1.0})\n"
        "SiteFinder().fit(ships)\n"
        "SiteFinder().fit(ships.astype({'seller_id': 'category', 'brand': 'category'}))\n"
        "SiteFinder().fit(ships.assign(precision=np.where(np.arange(n) % 3, 'exact', 'street')))\n"
        "stats = {}\n"
        "for module in (_site_jit, _site_geometry_jit):\n"
        "    for name in dir(module):\n"
        "        f = getattr(module, name)\n"
        "        if hasattr(f, 'stats') and f.signatures:\n"
        "            stats[name] = [sum(f.stats.cache_hits.values()),\n"
        "                           sum(f.stats.cache_misses.values()), len(f.signatures)]\n"
        "print(json.dumps(stats))\n"
    )
    for _ in range(2):  # the first run may compile (the cache is stale after an edit)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    stats = json.loads(out.stdout)
    assert {"point_codes", "tally", "site_shapes", "first_rows"} <= set(stats), sorted(stats)
    assert all(misses == 0 and hits > 0 and n == 1 for hits, misses, n in stats.values()), stats


def test_paused_gc_nests_across_threads_and_restores_the_collector() -> None:
    import gc
    import threading

    from workbench.sites._waybills import paused_gc

    inside = threading.Event()
    leave = threading.Event()

    def background() -> None:  # like the kernels loading while fit runs
        with paused_gc():
            inside.set()
            leave.wait(5)

    assert gc.isenabled()
    with paused_gc():
        thread = threading.Thread(target=background)
        thread.start()
        inside.wait(5)
    assert not gc.isenabled()  # the background pause still runs
    leave.set()
    thread.join()
    assert gc.isenabled()
    gc.disable()  # a collector the caller switched off stays off
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
