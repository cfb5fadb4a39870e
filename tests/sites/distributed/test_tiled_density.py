"""Clustering tile by tile (workbench.sites._distributed) gives exactly the single-machine labels.

Every case is checked against :func:`workbench.sites._density.dbscan` on all points at once,
and the hand-built ones also against the labels worked out by hand next to them. Most tiles
here are cut on purpose through the planted sites: four tiles meet at (30 N, 120 E), and a
site sits on that corner, on a border, or runs as a chain through several tiles.
With ``client=None`` the tiles run one after the other in this process (the same tasks,
no cluster), which covers many random layouts quickly; the tests taking the
``cluster_client`` fixture run them on two worker processes.
"""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pytest

from workbench.errors import InputError
from workbench.sites import _distributed, _merge, _tile_tasks, _tiles
from workbench.sites._density import EARTH_RADIUS_M, background_weight, dbscan
from workbench.sites._distributed import background_tiled, dbscan_tiled, make_client
from workbench.sites._merge import canonical_labels, union_find
from workbench.sites._tiles import Tiles

M_PER_DEG = EARTH_RADIUS_M * np.pi / 180  # along a meridian
LAT0, LON0 = 30.0, 120.0
CORNER = Tiles(lat_cuts=[LAT0], lon_cuts=[[LON0], [LON0]])  # four tiles meet at (30, 120)


def _at(north_m: Any, east_m: Any, lat0: float = LAT0, lon0: float = LON0) -> tuple[Any, Any]:
    """Points ``north_m`` / ``east_m`` metres from (lat0, lon0), on the sphere of the kernel."""
    lat = lat0 + np.asarray(north_m, dtype=float) / M_PER_DEG
    lon = lon0 + np.asarray(east_m, dtype=float) / (M_PER_DEG * np.cos(np.radians(lat0)))
    return lat, lon


def _same_as_one_machine(
    lat: Any,
    lon: Any,
    w: Any,
    radius_m: float,
    thr: Any,
    tiles: Tiles | int,
    client: Any = None,
) -> np.ndarray:
    """Tiled labels, asserted equal to the single-machine kernel's; returned for more checks."""
    lat, lon, w = (np.asarray(a, dtype=float) for a in (lat, lon, w))
    expected = dbscan(lat, lon, w, radius_m, thr)
    got = dbscan_tiled(lat, lon, w, radius_m, thr, tiles=tiles, client=client)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    return got


# --- hand-built border cases, on the cluster ---------------------------------------------


def test_a_site_on_the_corner_of_four_tiles_is_one_site(cluster_client: Any) -> None:
    # 40 stalls within 80 m of the corner, one waybill each, 10 needed: every stall is core
    # (all 40 are within 160 m of each other) and they are one site, seen by four tiles
    rng = np.random.default_rng(3)
    lat, lon = _at(rng.uniform(-80, 80, 40), rng.uniform(-80, 80, 40))
    assert len(np.unique(CORNER.owner(lat, lon))) == 4
    got = _same_as_one_machine(lat, lon, np.ones(40), 300.0, 10, CORNER, cluster_client)
    assert got.tolist() == [0] * 40


def test_a_site_exactly_on_a_border(cluster_client: Any) -> None:
    # points exactly on the latitude 30 (a border) and 100 m either side, 1 km east of the
    # corner: the ones on the line belong to the northern tile, the site is one
    lat, lon = _at(np.repeat([-100.0, 0.0, 100.0], 5), np.tile(np.arange(5) * 50.0 + 1000, 3))
    lat[5:10] = LAT0
    got = _same_as_one_machine(lat, lon, np.full(15, 2.0), 300.0, 12, CORNER, cluster_client)
    assert got.tolist() == [0] * 15


def test_a_chain_of_core_points_through_three_tiles(cluster_client: Any) -> None:
    # a chain of points 250 m apart (radius 300 m: each reaches only its neighbours), 3
    # waybills each, 5 needed: every link is core. It runs 5 km north in the south-west
    # tile, crosses latitude 30 into the north-west tile, turns east and crosses longitude
    # 120 into the north-east one: far longer than any halo, so only the merge of the
    # tiles' parts makes it one site
    north = np.concatenate([np.arange(-5000, 251, 250.0), np.full(40, 250.0)])
    east = np.concatenate([np.full(22, -2000.0), -2000 + np.arange(1, 41) * 250.0])
    lat, lon = _at(north, east)
    assert set(CORNER.owner(lat, lon).tolist()) == {0, 2, 3}
    got = _same_as_one_machine(lat, lon, np.full(len(lat), 3.0), 300.0, 5, CORNER, cluster_client)
    assert got.tolist() == [0] * len(lat)


@pytest.mark.parametrize(
    ("gap_m", "expected"),
    [
        (300.0, [0, 0]),  # exactly the radius: neighbours (inclusive), one site
        (300.01, [0, 1]),  # 1 cm more: two sites, the southern one first
    ],
)
def test_two_cores_at_the_radius_across_a_border(
    cluster_client: Any, gap_m: float, expected: list[int]
) -> None:
    # two points on one meridian, either side of latitude 30, 10 waybills each (5 needed:
    # each is core on its own); along a meridian the distance is exactly R * dlat
    lat = np.array([LAT0 - gap_m / 2 / M_PER_DEG, LAT0 + gap_m / 2 / M_PER_DEG])
    lon = np.full(2, LON0 + 0.01)
    got = _same_as_one_machine(lat, lon, [10.0, 10.0], 300.0, 5, CORNER, cluster_client)
    assert got.tolist() == expected


def test_a_border_point_takes_the_smallest_site_of_another_tile(cluster_client: Any) -> None:
    # B sits on latitude 30, 300 m east of longitude 120 (north-east tile), 250 m from core
    # X to its south (south-east tile) and core Y to its north (X and Y are 500 m apart:
    # two sites). B needs 100 waybills, so it is no core: a border point of both. Y runs on
    # as a chain 1.5 km west, into the west column, and then 2 km south, so the smallest
    # (lat, lon) of Y lies south of X: Y is site 0, X site 1, and B joins Y. B's tile sees
    # only the northern part of Y, where X looks first: the numbering must be the merged one.
    west = -np.arange(250, 1501, 250.0)
    south = -np.arange(0, 2001, 250.0)
    north = np.concatenate([[-250.0, 0.0, 250.0], np.full(len(west), 250.0), south])
    east = np.concatenate([[0.0, 0.0, 0.0], west, np.full(len(south), -1500.0)]) + 300
    lat, lon = _at(north, east)
    assert CORNER.owner(lat[:3], lon[:3]).tolist() == [1, 3, 3]
    w = np.full(len(lat), 10.0)
    thr = np.full(len(lat), 5.0)
    thr[1] = 100.0  # B
    got = _same_as_one_machine(lat, lon, w, 300.0, thr, CORNER, cluster_client)
    assert got[:3].tolist() == [1, 0, 0]  # X, B, Y


def test_a_link_needs_the_halo_of_twice_the_radius(cluster_client: Any) -> None:
    # p and q, 200 m apart either side of latitude 30, are core only thanks to heavy
    # points 290 m beyond them (P south of p, Q north of q), out of reach of the other:
    # 1 + 1 + 11 = 13 >= 12 waybills. A tile holding only points within r of its own would
    # see p (or q) as no core and miss the link p - q; within 2r it sees P (or Q) too.
    # P (11 + 1 = 12) and Q are core: one site P - p - q - Q.
    lat, lon = _at([-390.0, -100.0, 100.0, 390.0], [500.0] * 4)
    w = [11.0, 1.0, 1.0, 11.0]
    got = _same_as_one_machine(lat, lon, w, 300.0, 12, CORNER, cluster_client)
    assert got.tolist() == [0, 0, 0, 0]


def test_noise_near_the_borders_stays_noise(cluster_client: Any) -> None:
    # lone points 50 m from a border, 1 km apart: each alone, below the 5 needed
    lat, lon = _at([-50.0, 50.0, -50.0, 50.0, 40.0], [-1000.0, -1000.0, 1000.0, 1000.0, 50.0])
    got = _same_as_one_machine(lat, lon, np.ones(5), 300.0, 5, CORNER, cluster_client)
    assert got.tolist() == [-1] * 5


def test_random_sites_on_the_cluster_with_planned_tiles(cluster_client: Any) -> None:
    lat, lon, w, thr = _random_case(np.random.default_rng(11), 3_000)
    _same_as_one_machine(lat, lon, w, 300.0, thr, 8, cluster_client)


def test_background_on_the_cluster_matches(cluster_client: Any) -> None:
    lat, lon, w, _ = _random_case(np.random.default_rng(12), 3_000)
    expected = background_weight(lat, lon, w, 2_000.0)
    got = background_tiled(lat, lon, w, 2_000.0, tiles=6, client=cluster_client)
    np.testing.assert_array_equal(got, expected)


# --- many layouts, tile by tile in this process ------------------------------------------


def _random_case(
    rng: np.random.Generator, n: int, lat0: float = LAT0, lon0: float = LON0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Sites of every size (tight blobs, loose ones, chains) and scatter within ~8 km,
    integer weights, one threshold per point (as the site finder's local rule gives)."""
    k = n // 4
    centres = rng.uniform(-6000, 6000, (12, 2))
    spread = rng.choice([30.0, 120.0, 400.0], 12)
    which = rng.integers(0, 12, n - k)
    north = np.concatenate(
        [centres[which, 0] + rng.normal(0, spread[which]), rng.uniform(-8e3, 8e3, k)]
    )
    east = np.concatenate(
        [centres[which, 1] + rng.normal(0, spread[which]), rng.uniform(-8e3, 8e3, k)]
    )
    lat, lon = _at(north, east, lat0, lon0)
    w = rng.integers(1, 6, n).astype(float)
    thr = rng.choice([4.0, 8.0, 20.0], n)
    return lat, lon, w, thr


@pytest.mark.parametrize("seed", range(12))
def test_random_layouts_match_the_single_machine_run(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lat, lon, w, thr = _random_case(rng, 2_000)
    radius = float(rng.choice([150.0, 300.0, 600.0]))
    n_tiles = int(rng.integers(2, 17))
    _same_as_one_machine(lat, lon, w, radius, thr, n_tiles)
    # a single threshold, and the corner layout that cuts through the middle
    _same_as_one_machine(lat, lon, w, radius, 12.0, CORNER)


def test_each_kept_index_is_used_once_and_none_is_left() -> None:
    # between the two rounds a tile's index is kept where it was built; the second round
    # takes it out again, so nothing stays behind after a call
    lat, lon, w, thr = _random_case(np.random.default_rng(21), 2_000)
    _same_as_one_machine(lat, lon, w, 300.0, thr, 9)
    assert len(_tile_tasks._kept) == 0


def test_without_the_kept_index_the_second_round_builds_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # as when the second round runs on another worker than the first: same labels
    monkeypatch.setattr(_tile_tasks, "KEPT_MAX", 0)
    for seed in (22, 23):
        lat, lon, w, thr = _random_case(np.random.default_rng(seed), 2_000)
        _same_as_one_machine(lat, lon, w, 300.0, thr, 9)
        _same_as_one_machine(lat, lon, w, 300.0, 12.0, CORNER)


def test_one_tile_and_more_tiles_than_points() -> None:
    lat, lon, w, thr = _random_case(np.random.default_rng(5), 400)
    _same_as_one_machine(lat, lon, w, 300.0, thr, 1)
    _same_as_one_machine(lat[:6], lon[:6], w[:6], 300.0, 2.0, 64)


def test_across_the_antimeridian() -> None:
    # a site on both sides of 180 E / 180 W at 60 N, in the first and the last column
    # (2 km across, wider than the halos: only the halo across 180 joins the two sides)
    rng = np.random.default_rng(8)
    lat = 60 + rng.normal(0, 0.004, 1_000)
    lon = 180 + rng.normal(0, 0.008, 1_000)
    lon = np.where(lon > 180, lon - 360, lon)
    tiles = Tiles(lat_cuts=[60.0], lon_cuts=[[-179.99, 0.0, 179.99]] * 2)
    owners = set(tiles.owner(lat, lon).tolist())
    assert {0, 3} <= owners and {4, 7} <= owners  # west and east ends of both strips
    got = _same_as_one_machine(lat, lon, np.ones(1_000), 300.0, 8, tiles)
    assert (got == 0).mean() > 0.9


def test_around_the_north_pole() -> None:
    # within 1.5 km of the pole every longitude is near: columns cut there must not matter
    rng = np.random.default_rng(9)
    lat = 90 - rng.uniform(0, 0.0135, 300)
    lon = rng.uniform(-180, 180, 300)
    tiles = Tiles(lat_cuts=[89.995], lon_cuts=[[0.0], [-90.0, 0.0, 90.0]])
    _same_as_one_machine(lat, lon, np.ones(300), 300.0, 6, tiles)


def test_below_the_smallest_cells() -> None:
    # at a 5 cm radius the grid cannot shrink its cells enough: core points are linked
    # pair by pair (another kernel); still the same labels
    rng = np.random.default_rng(10)
    lat, lon = _at(rng.uniform(-0.3, 0.3, 200), rng.uniform(-0.3, 0.3, 200))
    _same_as_one_machine(lat, lon, np.ones(200), 0.05, 2, CORNER)


def test_background_tile_by_tile_matches() -> None:
    for seed in range(4):
        lat, lon, w, _ = _random_case(np.random.default_rng(seed), 3_000)
        expected = background_weight(lat, lon, w, 2_000.0)
        for tiles in (CORNER, 5, 16):
            got = background_tiled(lat, lon, w, 2_000.0, tiles=tiles)
            np.testing.assert_array_equal(got, expected)


def test_empty_input() -> None:
    empty = np.empty(0)
    assert dbscan_tiled(empty, empty, empty, 300.0, 5, tiles=4).tolist() == []
    assert background_tiled(empty, empty, empty, 2_000.0, tiles=4).tolist() == []


# --- the pieces ---------------------------------------------------------------------------


def test_union_find_links_every_chain_to_its_smallest_node() -> None:
    # nodes 0..6: 5-3, 3-1 and 6-4 linked, 0 and 2 alone: {1, 3, 5} {4, 6} {0} {2}
    root = union_find(7, np.array([5, 3, 6]), np.array([3, 1, 4]))
    assert root.tolist() == [0, 1, 2, 1, 4, 1, 4]
    # a long chain given in the worst order still ends in one set
    n = 1_000
    root = union_find(n, np.arange(n - 1, 0, -1), np.arange(n - 2, -1, -1))
    assert set(root.tolist()) == {0}


def test_canonical_labels_follow_the_smallest_point() -> None:
    # clusters by root 7 and 3; root 7's southernmost core point is further south: label 0
    lat = np.array([30.0, 29.0, 30.5, 31.0])
    lon = np.array([120.0, 121.0, 119.0, 118.0])
    core = np.array([True, True, True, False])
    root = np.array([3, 7, 3, -1])
    assert canonical_labels(lat, lon, core, root).tolist() == [1, 0, 1, -1]


def test_tiles_plan_owns_every_point_once() -> None:
    lat, lon, _, _ = _random_case(np.random.default_rng(1), 5_000)
    tiles = Tiles.plan(lat, lon, 9)
    assert tiles.n_tiles == 9
    owner = tiles.owner(lat, lon)
    counts = np.bincount(owner, minlength=9)
    assert counts.min() > 5_000 / 9 * 0.5  # about equal shares
    for t in range(9):
        halo = tiles.members(t, lat, lon, 600.0)
        assert halo[owner == t].all()  # a tile's points are among its members


@pytest.mark.parametrize("module", [_distributed, _merge, _tile_tasks, _tiles])
def test_the_examples_in_the_docstrings_run(module: Any) -> None:
    assert doctest.testmod(module).failed == 0


# --- bad input ----------------------------------------------------------------------------


def test_a_client_must_be_a_dask_client() -> None:
    with pytest.raises(InputError, match=r"client: expected a distributed\.Client"):
        dbscan_tiled([30.0], [120.0], [1.0], 300.0, 1, client="tcp://127.0.0.1:8786")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lat_cuts": [31.0, 30.0], "lon_cuts": [[], [], []]}, "lat_cuts must increase"),
        ({"lat_cuts": [30.0], "lon_cuts": [[]]}, "one list of lon_cuts per strip"),
        ({"lat_cuts": [95.0], "lon_cuts": [[], []]}, r"within \(-90, 90\)"),
        ({"lat_cuts": [], "lon_cuts": [[10.0, 10.0]]}, "lon_cuts of strip 0 must increase"),
    ],
)
def test_bad_tiles(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        Tiles(**kwargs)


@pytest.mark.parametrize("tiles", [0, -3, 2.5, "four"])
def test_a_tile_count_must_be_a_positive_integer(tiles: Any) -> None:
    with pytest.raises(InputError, match="tiles must be"):
        dbscan_tiled([30.0], [120.0], [1.0], 300.0, 1, tiles=tiles)


def test_bad_points_are_refused_before_any_work() -> None:
    with pytest.raises(InputError, match="lat must be within"):
        dbscan_tiled([95.0], [120.0], [1.0], 300.0, 1, tiles=2)
    with pytest.raises(InputError, match="radius_m must be"):
        dbscan_tiled([30.0], [120.0], [1.0], -1.0, 1, tiles=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give workers= .* or scheduler="),
        ({"workers": 2, "scheduler": "tcp://127.0.0.1:8786"}, "not both"),
        ({"workers": 0}, "workers must be an integer of at least 1"),
        ({"workers": True}, "workers must be an integer of at least 1"),
        ({"scheduler": ""}, "scheduler must be an address"),
    ],
)
def test_make_client_refuses_unclear_requests(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        make_client(**kwargs)


def test_make_client_says_when_no_scheduler_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing listens on port 1 of this machine
    monkeypatch.setattr(_distributed, "CONNECT_TIMEOUT_S", 1)
    with pytest.raises(InputError, match=r"no Dask scheduler answered at tcp://127\.0\.0\.1:1"):
        make_client(scheduler="tcp://127.0.0.1:1")
