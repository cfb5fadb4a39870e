"""The grid-indexed weighted DBSCAN on the sphere (workbench.sites._density).

Every clustering is checked against scikit-learn's DBSCAN (haversine, sample_weight) or a
brute-force reference (all pairwise haversine distances, connected components), both
computing distances in a different way from the kernel (unit-vector chords).
"""

from __future__ import annotations

import doctest
import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN

from workbench.sites import _density
from workbench.sites._density import EARTH_RADIUS_M, background_weight, dbscan, neighbour_weight

METRES_PER_DEGREE = EARTH_RADIUS_M * np.pi / 180  # along a meridian, or the equator


def _haversine_m(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin((np.radians(lon2) - np.radians(lon1)) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def _adjacency(lat: np.ndarray, lon: np.ndarray, radius_m: float) -> np.ndarray:
    return _haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :]) <= radius_m


def _check(
    labels: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    core: np.ndarray,
    adj: np.ndarray,
    other: np.ndarray | None = None,
) -> None:
    """``labels`` is the clustering whose core points are ``core`` on graph ``adj``.

    - core points: the same partition as the connected components of ``adj`` among them
      (and as ``other``'s labels of the core points when given, e.g. scikit-learn's);
    - border points (non-core, within reach of a core point): the smallest label among
      the clusters within reach; ``other``'s label too must be one within reach;
    - noise: -1;
    - labels numbered 0, 1, ... by the smallest (lat, lon) of each cluster's core points.
    """
    assert labels.dtype == np.int64
    n_comp, comp = connected_components(csr_matrix(adj[np.ix_(core, core)]), directed=False)
    ours = labels[core]
    assert (ours >= 0).all()
    pairs = set(zip(ours.tolist(), comp.tolist(), strict=True))
    assert len(pairs) == n_comp == len(set(ours.tolist())), "core partitions differ"
    if other is not None:
        assert len(set(zip(ours.tolist(), other[core].tolist(), strict=True))) == n_comp
        to_ours = dict(zip(other[core].tolist(), ours.tolist(), strict=True))
    core_labels = np.where(core, labels, -1)
    for i in np.flatnonzero(~core):
        reach = set(core_labels[adj[i] & core].tolist())
        if not reach:
            assert labels[i] == -1
            if other is not None:
                assert other[i] == -1
            continue
        assert labels[i] == min(reach), f"border point {i}: {labels[i]} not min of {reach}"
        if other is not None:
            assert to_ours[int(other[i])] in reach
    # canonical numbering
    k = int(labels.max()) + 1
    assert set(labels[core].tolist()) == set(range(k))
    first = [
        min(zip(lat[core & (labels == c)], lon[core & (labels == c)], strict=False))
        for c in range(k)
    ]
    assert first == sorted(first)


def _sklearn(
    lat: np.ndarray, lon: np.ndarray, w: np.ndarray, radius_m: float, min_w: float
) -> tuple[np.ndarray, np.ndarray]:
    model = DBSCAN(
        eps=radius_m / EARTH_RADIUS_M,
        min_samples=min_w,
        metric="haversine",
        algorithm="ball_tree",
    ).fit(np.radians(np.column_stack([lat, lon])), sample_weight=w)
    core = np.zeros(len(lat), dtype=bool)
    core[model.core_sample_indices_] = True
    return model.labels_, core


def _blobs(
    rng: np.random.Generator, n: int, centre: tuple[float, float], spread_m: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian blobs and uniform background around ``centre``; some repeated points."""
    n_blobs = int(rng.integers(2, 8))
    lat0, lon0 = centre
    ext = spread_m / METRES_PER_DEGREE
    blob = rng.uniform(-ext, ext, (n_blobs, 2))
    which = rng.integers(-1, n_blobs, n)  # -1: background
    sigma = rng.uniform(0.02, 0.3, n_blobs) * ext
    dlat = np.where(which >= 0, blob[which, 0] + rng.normal(0, 1, n) * sigma[which], 0.0)
    dlon = np.where(which >= 0, blob[which, 1] + rng.normal(0, 1, n) * sigma[which], 0.0)
    bg = which < 0
    dlat[bg] = rng.uniform(-ext, ext, bg.sum())
    dlon[bg] = rng.uniform(-ext, ext, bg.sum())
    lat = np.clip(lat0 + dlat, -90, 90)
    lon = lon0 + dlon / np.cos(np.radians(lat0))
    lon = (lon + 180) % 360 - 180
    lat, lon = np.round(lat, 5), np.round(lon, 5)  # ~1 m: some points repeat
    w = rng.integers(1, 6, n).astype(float)
    return lat, lon, w


@pytest.mark.parametrize(
    ("seed", "n", "spread_m", "radius_m", "min_w"),
    [
        (0, 1_500, 2_000, 300, 20),  # a city: blobs denser than the threshold
        (1, 2_000, 10_000, 300, 8),  # sparse: few clusters, much noise
        (2, 2_500, 1_000, 100, 30),  # dense and a small radius
        (3, 1_000, 20_000, 1_000, 10),  # a big radius
        (4, 2_000, 3_000, 30, 5),  # tiny radius: many small clusters
        (5, 800, 500, 300, 200),  # everything within a few cells
    ],
)
def test_equals_sklearn_on_random_data(
    seed: int, n: int, spread_m: float, radius_m: float, min_w: float
) -> None:
    rng = np.random.default_rng(seed)
    lat, lon, w = _blobs(rng, n, (22.5 + seed, 114.0 + seed), spread_m)
    labels = dbscan(lat, lon, w, radius_m, min_w)
    sk_labels, sk_core = _sklearn(lat, lon, w, radius_m, min_w)
    adj = _adjacency(lat, lon, radius_m)
    # the kernel's core points are the points with enough weight within reach
    assert ((adj @ w >= min_w) == sk_core).all()
    _check(labels, lat, lon, sk_core, adj, other=sk_labels)
    assert labels.max() >= 0  # the parameters above do give clusters


@pytest.mark.parametrize(
    ("centre", "radius_m"),
    [
        ((0.0, 180.0), 300),  # across the antimeridian
        ((-33.9, -180.0), 1_000),
        ((89.995, 0.0), 300),  # around the north pole
        ((-89.99, 123.0), 500),  # and the south pole
    ],
)
def test_equals_sklearn_at_the_antimeridian_and_the_poles(
    centre: tuple[float, float], radius_m: float
) -> None:
    rng = np.random.default_rng(7)
    lat, lon, w = _blobs(rng, 1_500, centre, 2_000)
    labels = dbscan(lat, lon, w, radius_m, 15)
    sk_labels, sk_core = _sklearn(lat, lon, w, radius_m, 15)
    _check(labels, lat, lon, sk_core, _adjacency(lat, lon, radius_m), other=sk_labels)
    assert labels.max() >= 0


def test_equals_sklearn_on_the_whole_globe_with_huge_radii() -> None:
    # uniform on the sphere: cells near the poles take whole rows, and at 3,000 km cells
    # are far from flat
    rng = np.random.default_rng(3)
    n = 1_500
    lat = np.degrees(np.arcsin(rng.uniform(-1, 1, n)))
    lon = rng.uniform(-180, 180, n)
    w = rng.integers(1, 4, n).astype(float)
    for radius_m, min_w in ((500_000, 20), (3_000_000, 400)):
        labels = dbscan(lat, lon, w, radius_m, min_w)
        sk_labels, sk_core = _sklearn(lat, lon, w, radius_m, min_w)
        _check(labels, lat, lon, sk_core, _adjacency(lat, lon, radius_m), other=sk_labels)


def test_few_points_spread_over_the_globe() -> None:
    # 8 places far apart, 6 points each within ~60 m: the grid rows are so far apart
    # that the index sorts by radix instead of counting by row; each place with 4+ points
    # within reach of each other is a cluster
    rng = np.random.default_rng(8)
    places = [(-85.0, -179.99), (-33.9, 151.2), (0.0, 0.0), (22.5, 114.1), (35.7, 139.7),
              (51.5, -0.1), (64.1, -21.9), (89.99, 45.0)]  # fmt: skip
    lat = np.concatenate([np.full(6, a) + rng.normal(0, 2e-4, 6) for a, _ in places])
    lon = np.concatenate([np.full(6, b) + rng.normal(0, 2e-4, 6) for _, b in places])
    lon = (lon + 180) % 360 - 180
    lat = np.clip(lat, -90, 90)
    adj = _adjacency(lat, lon, 100)
    core = adj.sum(axis=1) >= 4
    labels = dbscan(lat, lon, None, 100, 4)
    _check(labels, lat, lon, core, adj)
    assert labels.max() >= 5


def test_per_point_thresholds() -> None:
    rng = np.random.default_rng(11)
    lat, lon, w = _blobs(rng, 1_500, (30.0, 120.0), 3_000)
    thr = rng.choice([5.0, 20.0, 60.0, np.inf], len(lat))
    labels = dbscan(lat, lon, w, 250, thr)
    adj = _adjacency(lat, lon, 250)
    core = adj @ w >= thr
    assert 0 < core.sum() < len(lat)
    _check(labels, lat, lon, core, adj)
    # a single threshold given as an array of one value per point is the same
    assert (dbscan(lat, lon, w, 250, np.full(len(lat), 20.0)) == dbscan(lat, lon, w, 250, 20)).all()


def test_dense_blobs_of_unique_points() -> None:
    # a depot geocoded with jitter: 4,000 distinct points within ~50 m, and 1,500 more
    # over 2 km. Cells then hold thousands of points, and exact sums and high thresholds
    # go through the trees inside cells (runs of 16, 128, 1024 points)
    rng = np.random.default_rng(12)
    blob = rng.normal(0, 15, (4_000, 2))
    spread = rng.uniform(-2_000, 2_000, (1_500, 2))
    east = blob[:300] + np.array([250.0, 0.0])  # a second blob 250 m east
    xy = np.vstack([blob, spread, east])
    lat = 30.0 + xy[:, 1] / METRES_PER_DEGREE
    lon = 120.0 + xy[:, 0] / (METRES_PER_DEGREE * np.cos(np.radians(30.0)))
    w = rng.integers(1, 3, len(lat)).astype(float)
    adj = _adjacency(lat, lon, 300)
    expected = adj @ w
    assert (neighbour_weight(lat, lon, w, 300) == expected).all()
    thr = rng.choice([40.0, 3_000.0, 6_400.0, np.inf], len(lat))
    core = expected >= thr
    assert 0 < core[:4_000].sum() < 4_000  # the thresholds split the blob
    labels = dbscan(lat, lon, w, 300, thr)
    _check(labels, lat, lon, core, adj)
    # a threshold only the blob reaches
    labels = dbscan(lat, lon, w, 300, 5_000)
    _check(labels, lat, lon, expected >= 5_000, adj)


def test_tiny_radius_without_clique_cells() -> None:
    # below ~7 cm the grid cannot shrink further (its keys would overflow), so cells are
    # larger than the radius and the kernel links core points pair by pair
    rng = np.random.default_rng(5)
    n = 600
    lat = 45 + rng.uniform(0, 3e-6, n)  # a 33 cm x 23 cm patch: ~2.4 points per 1 cm
    lon = 7 + rng.uniform(0, 3e-6, n)
    w = np.ones(n)
    assert not _density._grid(0.01, None).mutual
    adj = _adjacency(lat, lon, 0.01)
    core = adj @ w >= 3
    labels = dbscan(lat, lon, w, 0.01, 3)
    _check(labels, lat, lon, core, adj)
    assert labels.max() > 5


def test_row_order_does_not_change_the_labels() -> None:
    # canonical labels: the same label for every point (border ties included) whatever
    # the order of the rows
    rng = np.random.default_rng(2)
    lat, lon, w = _blobs(rng, 3_000, (31.2, 121.5), 3_000)
    labels = dbscan(lat, lon, w, 200, 25)
    assert labels.max() > 3 and (labels == -1).any()
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(lat))
        shuffled = dbscan(lat[perm], lon[perm], w[perm], 200, 25)
        assert (shuffled == labels[perm]).all()


def test_threads_give_the_same_results(monkeypatch: pytest.MonkeyPatch) -> None:
    # large inputs are cut into chunks run on threads; force that on a small input (with
    # per-point thresholds, and 3 threads even on a machine with fewer cores)
    rng = np.random.default_rng(6)
    lat, lon, w = _blobs(rng, 3_000, (24.5, 118.1), 3_000)
    thr = rng.choice([10.0, 30.0], len(lat))
    serial = (
        dbscan(lat, lon, w, 200, thr),
        neighbour_weight(lat, lon, w, 200),
        background_weight(lat, lon, w, 1_500),
    )
    monkeypatch.setattr(_density, "_PARALLEL_MIN_POINTS", 0)
    monkeypatch.setattr(_density, "_threads", lambda: 3)
    threaded = (
        dbscan(lat, lon, w, 200, thr),
        neighbour_weight(lat, lon, w, 200),
        background_weight(lat, lon, w, 1_500),
    )
    assert serial[0].max() > 3
    for a, b in zip(serial, threaded, strict=True):
        assert (a == b).all()


def test_hand_placed_clusters_are_numbered_south_to_north() -> None:
    # A: three points at 22.5 N, 0, 11 and 22 m west of each other, weights 30 + 30 + 1:
    #    each sees 61 (+1, below) >= 50: core
    # b: a point 290 m east of A's first point (weight 1): A's others are 301 and 312 m
    #    away, so it sees 30 + 1 = 31 < 50; within reach of a core point: border of A
    # B: two points 11 m apart at 22.6 N (weights 40 and 20: 60), one cluster, north of A
    # C: one point at 22.7 N of weight 50: core on its own, the northernmost cluster
    # n: a point 5.5 km north of A (weight 1): noise
    # clusters are numbered by their southernmost core point: A 0, B 1, C 2
    per_m = 1 / (METRES_PER_DEGREE * np.cos(np.radians(22.5)))
    lat = np.array([22.7, 22.6, 22.6001, 22.5, 22.5, 22.5, 22.5, 22.55])
    lon = 114.0 + np.array([0, 0, 0, 0, -11, -22, 290, 0]) * per_m
    w = np.array([50.0, 40, 20, 30, 30, 1, 1, 1])
    assert neighbour_weight(lat, lon, w, 300).tolist() == [50, 60, 60, 62, 61, 61, 31, 1]
    assert dbscan(lat, lon, w, 300, 50).tolist() == [2, 1, 1, 0, 0, 0, 0, -1]


def test_border_point_between_two_clusters_takes_the_smaller_label() -> None:
    # two points 500 m apart on the equator (weight 10 each, threshold 10: core alone,
    # two clusters), and a weight-1 point half-way, 250 m from both: it sees 21 < 22
    # (its threshold), so it is a border point within reach of both clusters
    half = 250 / METRES_PER_DEGREE
    lat = np.zeros(3)
    lon = np.array([10.0, 10.0 + half, 10.0 + 2 * half])
    w = np.array([10.0, 1.0, 10.0])
    thr = np.array([10.0, 22.0, 10.0])
    assert dbscan(lat, lon, w, 300, thr).tolist() == [0, 0, 1]
    # reversed rows: still the west cluster (label 0) gets it
    assert dbscan(lat[::-1], lon[::-1], w[::-1], 300, thr[::-1]).tolist() == [1, 0, 0]


def test_points_across_the_antimeridian_are_neighbours() -> None:
    # at 10 N, 0.002 degrees of longitude are 219 m: -179.999 and 179.999 are neighbours
    # (each sees 2 >= 2: one cluster); 179.995 is 438 m from 179.999: outside 300 m, and
    # alone it sees 1 < 2: noise
    lat = np.array([10.0, 10.0, 10.0])
    lon = np.array([-179.999, 179.999, 179.995])
    assert 200 < _haversine_m(10.0, -179.999, 10.0, 179.999) < 230
    assert dbscan(lat, lon, None, 300, 2).tolist() == [0, 0, -1]
    assert neighbour_weight(lat, lon, None, 300).tolist() == [2.0, 2.0, 1.0]
    # 180 and -180 are the same meridian
    assert dbscan([0.0, 0.0], [180.0, -180.0], None, 1, 2).tolist() == [0, 0]


def test_points_around_the_poles_are_neighbours() -> None:
    # at 89.999 N the parallel is a 111 m circle around the pole: points on opposite
    # meridians are 222 m apart, so four of them (weight 1, threshold 4) are one cluster;
    # the pole itself (any longitude) too. The same at the south pole, with a point at
    # -89.99 (1.1 km away) left out.
    lat = np.array([89.999, 89.999, 89.999, 89.999, 90.0])
    lon = np.array([0.0, 90.0, 180.0, -90.0, 45.0])
    assert dbscan(lat, lon, None, 300, 4).tolist() == [0] * 5
    assert neighbour_weight(lat, lon, None, 300).tolist() == [5.0] * 5
    south = dbscan(-lat, lon, None, 300, 4).tolist()
    assert south == [0] * 5
    lat2 = np.append(-lat, -89.99)
    lon2 = np.append(lon, 10.0)
    assert dbscan(lat2, lon2, None, 300, 4).tolist() == [0] * 5 + [-1]


def test_a_point_exactly_at_the_radius_is_a_neighbour() -> None:
    # the radius is inclusive: two points on the equator 0.002 degrees apart, with the
    # radius set to their distance (222.39 m); a hair less and they are apart
    d = EARTH_RADIUS_M * np.radians(0.002)
    lat, lon = np.zeros(2), np.array([33.0, 33.002])
    assert neighbour_weight(lat, lon, None, d).tolist() == [2.0, 2.0]
    assert dbscan(lat, lon, None, d, 2).tolist() == [0, 0]
    assert neighbour_weight(lat, lon, None, d * (1 - 1e-7)).tolist() == [1.0, 1.0]
    # along a meridian, too
    assert neighbour_weight(np.array([41.0, 41.002]), np.zeros(2), None, d).tolist() == [2, 2]


def test_identical_points_and_single_points() -> None:
    # 100 uncollapsed repeats of one point: each sees 100
    lat, lon = np.full(100, 25.43), np.full(100, 119.01)
    assert (dbscan(lat, lon, None, 300, 100) == 0).all()
    assert (dbscan(lat, lon, None, 300, 101) == -1).all()
    assert (neighbour_weight(lat, lon, None, 300) == 100).all()
    # one point of weight 5
    assert dbscan([25.43], [119.01], [5.0], 300, 5).tolist() == [0]
    assert dbscan([25.43], [119.01], [5.0], 300, 6).tolist() == [-1]
    # a zero threshold makes every point core, even of zero weight
    assert dbscan([0.0, 50.0], [0.0, 50.0], [0.0, 1.0], 300, 0).tolist() == [0, 1]


def test_empty_input() -> None:
    empty = np.array([])
    assert dbscan(empty, empty, empty, 300, 50).dtype == np.int64
    assert len(dbscan(empty, empty, empty, 300, 50)) == 0
    assert len(neighbour_weight(empty, empty, empty, 300)) == 0
    assert len(background_weight(empty, empty, empty, 2_000)) == 0


@pytest.mark.parametrize("radius", [0, -1.0, float("nan"), float("inf"), None, "300 m"])
def test_invalid_radius(radius: object) -> None:
    with pytest.raises(ValueError, match="radius_m"):
        dbscan([1.0], [1.0], [1.0], radius, 1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="radius_m"):
        neighbour_weight([1.0], [1.0], [1.0], radius)  # type: ignore[arg-type]


def test_invalid_points() -> None:
    lat = np.array([1.0, 2.0, 3.0, np.nan, np.nan])
    with pytest.raises(ValueError, match="lat is NaN at index 3"):
        dbscan(lat, np.zeros(5), None, 300, 1)
    with pytest.raises(ValueError, match="lon is NaN at index 1"):
        neighbour_weight(np.zeros(3), [0.0, np.nan, 0.0], None, 300)
    with pytest.raises(ValueError, match=r"lat must be within \[-90, 90\].*index 1"):
        dbscan([0.0, 90.5], [0.0, 0.0], None, 300, 1)
    with pytest.raises(ValueError, match=r"lon must be within \[-180, 180\].*index 0"):
        background_weight([0.0], [-180.01], None, 2_000)
    with pytest.raises(ValueError, match="weight must be finite and >= 0"):
        dbscan([0.0, 0.0], [0.0, 0.0], [1.0, -1.0], 300, 1)
    with pytest.raises(ValueError, match="one length"):
        dbscan([0.0, 0.0], [0.0], None, 300, 1)
    with pytest.raises(ValueError, match="min_weight"):
        dbscan([0.0, 0.0], [0.0, 0.0], None, 300, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="min_weight is NaN at index 1"):
        dbscan([0.0, 0.0], [0.0, 0.0], None, 300, [1.0, np.nan])


@pytest.mark.parametrize(
    ("centre", "radius_m"),
    [((23.0, 113.3), 300), ((0.0, 180.0), 150), ((89.997, 10.0), 400), ((45.0, 9.0), 0.05)],
)
def test_neighbour_weight_is_exact(centre: tuple[float, float], radius_m: float) -> None:
    rng = np.random.default_rng(4)
    spread = max(radius_m * 8, 0.5)
    lat, lon, w = _blobs(rng, 1_200, centre, spread)
    if radius_m < 1:  # centimetre patches: unrounded coordinates
        lat = centre[0] + rng.uniform(0, 3e-6, len(lat))
        lon = centre[1] + rng.uniform(0, 3e-6, len(lat))
    expected = _adjacency(lat, lon, radius_m) @ w
    assert (neighbour_weight(lat, lon, w, radius_m) == expected).all()


@pytest.mark.parametrize(("centre", "radius_m"), [((22.6, 114.1), 2_000), ((0.0, -180.0), 1_500)])
def test_background_weight_is_within_its_error_band(
    centre: tuple[float, float], radius_m: float
) -> None:
    rng = np.random.default_rng(9)
    lat, lon, w = _blobs(rng, 2_000, centre, 8_000)
    got = background_weight(lat, lon, w, radius_m)
    dist = _haversine_m(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
    band = np.sqrt(2) * radius_m / 16  # 2 * half the cell diagonal
    low = (dist <= radius_m - band) @ w
    high = (dist <= radius_m + band) @ w
    assert (low <= got).all() and (got <= high).all()
    exact = (dist <= radius_m) @ w
    assert np.median(np.abs(got - exact) / exact) < 0.05  # typically much closer
    # a finer grid is closer still
    fine = background_weight(lat, lon, w, radius_m, cell_m=radius_m / 64)
    assert np.abs(fine - exact).mean() < np.abs(got - exact).mean()


def test_docstring_examples() -> None:
    assert doctest.testmod(_density).failed == 0


def test_importing_does_not_import_numba() -> None:
    code = "import sys, workbench.sites._density; print('numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_compiled_kernels_are_cached_on_disk() -> None:
    # a second process loads every kernel from numba's cache instead of compiling it
    code = (
        "import json\n"
        "from workbench.sites import _density, _density_jit\n"
        "import numpy as np, pandas as pd\n"
        "from numba import types\n"
        "_density.preload()\n"
        "frame = pd.DataFrame({'lat': [0.0, 0.0], 'lon': [0.0, 1e-4], 'w': [1.0, 1.0]})\n"
        "cols = [frame[c].to_numpy() for c in frame]  # read-only views in pandas 3\n"
        "_density.dbscan(*cols, 300, np.array([2.0, 2.0]))\n"
        "stats = {}\n"
        "for name in dir(_density_jit):\n"
        "    f = getattr(_density_jit, name)\n"
        "    if hasattr(f, 'stats') and f.signatures:\n"
        "        stats[name] = [sum(f.stats.cache_hits.values()),\n"
        "                       sum(f.stats.cache_misses.values()),\n"
        "                       sum(isinstance(a, types.Array) and not a.mutable\n"
        "                           for sig in f.signatures for a in sig)]\n"
        "print(json.dumps(stats))\n"
    )
    for _ in range(2):  # the first run may compile (the cache is stale after an edit)
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
    stats = json.loads(out.stdout)
    expected = {"core_points", "merge_cells", "merge_points", "tree_stats", "zsort_cells"}
    expected |= {"radix_sorted", "scatter_rows", "sort_rows", "neighbour_sums", "centre_sums"}
    assert expected <= set(stats), sorted(stats)
    assert all(misses == 0 and hits > 0 for hits, misses, _ in stats.values()), stats
    # no versions for read-only arrays (pandas columns): inputs are copied instead
    assert all(readonly == 0 for _, _, readonly in stats.values()), stats
