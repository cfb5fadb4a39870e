"""WGS-84 / GCJ-02 / BD-09 conversions: published reference points, exact inverses, edge cases.

Reference values are numbers published in the test suites of open-source converters; only
the numbers are used, each block says where it comes from.
"""

from __future__ import annotations

import doctest
import math
import time

import numpy as np
import pandas as pd
import pytest

from workbench import coords
from workbench.coords import (
    SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    canonical_system,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    to_wgs84,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from workbench.errors import InputError

M_PER_DEG = 111_320.0


def metres(lat_a: object, lon_a: object, lat_b: object, lon_b: object) -> np.ndarray:
    """Local flat-earth distance in metres; plenty for errors of metres and below."""
    lat_a, lon_a, lat_b, lon_b = (np.asarray(v, dtype=float) for v in (lat_a, lon_a, lat_b, lon_b))
    d_lat = (lat_a - lat_b) * M_PER_DEG
    d_lon = (lon_a - lon_b) * M_PER_DEG * np.cos(np.radians(lat_b))
    return np.hypot(d_lat, d_lon)


# --------------------------------------------------------------------------- references

# googollee/eviltransform, python/test.py (same numbers in go/transform_test.go):
# (wgs_lat, wgs_lon, gcj_lat, gcj_lon). The GCJ-02 values are the formula's own output.
EVILTRANSFORM = {
    "shanghai": (31.1774276, 121.5272106, 31.17530398364597, 121.531541859215),
    "shenzhen": (22.543847, 113.912316, 22.540796131694766, 113.9171764808363),
    "beijing": (39.911954, 116.377817, 39.91334545536069, 116.38404722455657),
}

# hujiulong/gcoord, test/fixtures/china-cities.json (stored there as [lon, lat]; here as
# (lat, lon)): WGS84, GCJ02 and BD09 of city centres, rounded to 7 decimals. Their GCJ-02
# values sit 0.4-0.8 m from the formula (gcoord itself checks them to 4 decimals); their
# BD-09 values match the BD-09 formula applied to their GCJ-02 values to the rounding.
GCOORD_CITIES = {
    "beijing": ((39.9028057, 116.4011517), (39.9042136, 116.4074002), (39.9105355, 116.4137852)),
    "shanghai": ((31.2323443, 121.4691633), (31.2304194, 121.4737061), (31.2363541, 121.4802435)),
    "guangzhou": ((23.131788, 113.2590543), (23.1291146, 113.2643859), (23.135343, 113.2708188)),
    "shenzhen": ((22.5458236, 114.0527534), (22.5431014, 114.0578659), (22.5487584, 114.064418)),
    "putian": ((25.4568809, 119.0030554), (25.4540883, 119.0077789), (25.4600497, 119.0143009)),
    "quanzhou": ((24.8770487, 118.6711365), (24.8741363, 118.6756787), (24.8804872, 118.6821251)),
    # Jinhua: the prefecture of Yiwu, Zhejiang
    "jinhua": ((29.0820414, 119.6427465), (29.0790641, 119.6474509), (29.0854003, 119.6538875)),
    "kashgar": ((39.470184, 75.9868089), (39.4704064, 75.9897602), (39.4764048, 75.9962502)),
    "sanya": ((18.2545417, 109.507813), (18.2528524, 109.5119135), (18.2585878, 109.5184703)),
    "heihe": ((50.2434852, 127.5209846), (50.2451332, 127.528304), (50.2510922, 127.5347994)),
}

# wandergis/coordtransform, test/app.js (same numbers in wyxloading/coordtransform-rs,
# tests/tests.rs): every conversion applied to (lat 39.915, lon 116.404). Their inverses
# (gcj02->wgs84, bd09->gcj02, bd09->wgs84) are the one-step approximations.
CT_INPUT = (39.915, 116.404)
CT_WGS84_TO_GCJ02 = (39.91640428150164, 116.41024449916938)
CT_GCJ02_TO_BD09 = (39.92133699351021, 116.41036949371029)
CT_WGS84_TO_BD09 = (39.922699552216216, 116.41662724378733)
CT_GCJ02_TO_WGS84_APPROX = (39.91359571849836, 116.39775550083061)
CT_BD09_TO_GCJ02_APPROX = (39.90865673957631, 116.39762729119315)
CT_BD09_TO_WGS84_APPROX = (39.907253214522164, 116.3913836995125)

# hujiulong/gcoord, test/unit/transform.spec.ts and test/unit/crs/GCJ02.spec.ts: the point
# (lat 45, lon 123); its GCJ-02 -> WGS-84 is an approximate inverse, checked to 5 decimals.
GCOORD_45_123_WGS84_TO_GCJ02 = (45.00197815, 123.00607541)
GCOORD_45_123_GCJ02_TO_BD09 = (45.00636899, 123.00636499)
GCOORD_45_123_GCJ02_TO_WGS84_APPROX = (44.99804071, 122.99395597)

OUTSIDE = {  # (lat, lon) well outside the box
    "london": (51.5007, -0.1246),
    "new_york": (40.6892, -74.0445),
    "sydney": (-33.8568, 151.2153),
    "moscow": (55.7539, 37.6208),
    "sao_paulo": (-23.5505, -46.6333),
}

CONVERSIONS = [
    wgs84_to_gcj02,
    gcj02_to_wgs84,
    gcj02_to_bd09,
    bd09_to_gcj02,
    wgs84_to_bd09,
    bd09_to_wgs84,
]


def _reference_gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    """The published GCJ-02 formula, written out plainly with math.sin, one point at a time."""
    x, y = lon - 105.0, lat - 35.0
    pi = math.pi
    t_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    t_lat += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lat += (20.0 * math.sin(y * pi) + 40.0 * math.sin(y / 3.0 * pi)) * 2.0 / 3.0
    t_lat += (160.0 * math.sin(y / 12.0 * pi) + 320.0 * math.sin(y * pi / 30.0)) * 2.0 / 3.0
    t_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    t_lon += (20.0 * math.sin(6.0 * x * pi) + 20.0 * math.sin(2.0 * x * pi)) * 2.0 / 3.0
    t_lon += (20.0 * math.sin(x * pi) + 40.0 * math.sin(x / 3.0 * pi)) * 2.0 / 3.0
    t_lon += (150.0 * math.sin(x / 12.0 * pi) + 300.0 * math.sin(x / 30.0 * pi)) * 2.0 / 3.0
    a, ee = 6378245.0, 0.00669342162296594323
    rad = lat / 180.0 * pi
    magic = 1.0 - ee * math.sin(rad) ** 2
    d_lat = t_lat * 180.0 / ((a * (1.0 - ee)) / (magic * math.sqrt(magic)) * pi)
    d_lon = t_lon * 180.0 / (a / math.sqrt(magic) * math.cos(rad) * pi)
    return d_lat, d_lon


def _reference_gcj_to_bd(lat: float, lon: float) -> tuple[float, float]:
    """The published BD-09 formula, with atan2, sin and cos, one point at a time."""
    x_pi = math.pi * 3000.0 / 180.0
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * x_pi)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * x_pi)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


@pytest.fixture(scope="module")
def china_points() -> tuple[np.ndarray, np.ndarray]:
    """A 300 x 300 grid over mainland China's extent plus 200 000 random points."""
    grid_lat, grid_lon = np.meshgrid(np.linspace(18.0, 53.6, 300), np.linspace(73.5, 135.1, 300))
    rng = np.random.default_rng(20240501)
    lat = np.concatenate([grid_lat.ravel(), rng.uniform(18.0, 53.6, 200_000)])
    lon = np.concatenate([grid_lon.ravel(), rng.uniform(73.5, 135.1, 200_000)])
    return lat, lon


# --------------------------------------------------------------------------- formulas


def test_vectorised_formulas_equal_the_plain_published_ones(china_points) -> None:
    lat, lon = (v[::97] for v in china_points)  # ~3000 points, scalar loop below
    gcj_lat, gcj_lon = wgs84_to_gcj02(lat, lon)
    bd_lat, bd_lon = gcj02_to_bd09(gcj_lat, gcj_lon)
    for i in range(lat.size):
        d_lat, d_lon = _reference_gcj_offset(lat[i], lon[i])
        assert gcj_lat[i] == pytest.approx(lat[i] + d_lat, abs=1e-12)
        assert gcj_lon[i] == pytest.approx(lon[i] + d_lon, abs=1e-12)
        ref_bd = _reference_gcj_to_bd(gcj_lat[i], gcj_lon[i])
        assert (bd_lat[i], bd_lon[i]) == pytest.approx(ref_bd, abs=1e-12)


# --------------------------------------------------------------------------- references


@pytest.mark.parametrize("city", sorted(EVILTRANSFORM))
def test_eviltransform_reference_points(city: str) -> None:
    wgs_lat, wgs_lon, gcj_lat, gcj_lon = EVILTRANSFORM[city]
    # forward: published to ~15 significant digits; matches to 1e-12 degrees
    assert wgs84_to_gcj02(wgs_lat, wgs_lon) == pytest.approx((gcj_lat, gcj_lon), abs=1e-12)
    # inverse: measured error ~5e-8 m; the one-step formula would be off by centimetres
    back = gcj02_to_wgs84(gcj_lat, gcj_lon)
    assert metres(*back, wgs_lat, wgs_lon) < 1e-3


def test_gcoord_city_reference_points() -> None:
    wgs, gcj, bd = (np.array([GCOORD_CITIES[c][k] for c in GCOORD_CITIES]) for k in range(3))
    # forward WGS-84 -> GCJ-02: within 1e-5 degrees (measured max 6.8e-6; gcoord: 5e-5)
    got = np.column_stack(wgs84_to_gcj02(wgs[:, 0], wgs[:, 1]))
    assert np.abs(got - gcj).max() < 1e-5
    got = np.column_stack(wgs84_to_bd09(wgs[:, 0], wgs[:, 1]))
    assert np.abs(got - bd).max() < 1e-5
    # forward GCJ-02 -> BD-09: to the published 7-decimal rounding (inputs rounded too)
    got = np.column_stack(gcj02_to_bd09(gcj[:, 0], gcj[:, 1]))
    assert np.abs(got - bd).max() < 2e-7
    # inverses recover the published WGS-84 to <= 1 m (measured max 0.72 m: the fixture's
    # own offset from the formula) and the published GCJ-02 to the rounding
    back = gcj02_to_wgs84(gcj[:, 0], gcj[:, 1])
    assert metres(*back, wgs[:, 0], wgs[:, 1]).max() <= 1.0
    back = bd09_to_wgs84(bd[:, 0], bd[:, 1])
    assert metres(*back, wgs[:, 0], wgs[:, 1]).max() <= 1.0
    back = bd09_to_gcj02(bd[:, 0], bd[:, 1])
    assert metres(*back, gcj[:, 0], gcj[:, 1]).max() < 0.02


def test_coordtransform_reference_point() -> None:
    lat, lon = CT_INPUT
    assert wgs84_to_gcj02(lat, lon) == pytest.approx(CT_WGS84_TO_GCJ02, abs=1e-12)
    assert gcj02_to_bd09(lat, lon) == pytest.approx(CT_GCJ02_TO_BD09, abs=1e-12)
    assert wgs84_to_bd09(lat, lon) == pytest.approx(CT_WGS84_TO_BD09, abs=1e-12)
    # their inverses are one-step approximations: ours is within centimetres of them, and
    # unlike them maps back exactly onto the input
    for ours, theirs, tolerance in [
        (gcj02_to_wgs84(lat, lon), CT_GCJ02_TO_WGS84_APPROX, 0.1),
        (bd09_to_gcj02(lat, lon), CT_BD09_TO_GCJ02_APPROX, 0.1),
        (bd09_to_wgs84(lat, lon), CT_BD09_TO_WGS84_APPROX, 0.5),
    ]:
        assert metres(*ours, *theirs) < tolerance
    assert wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon)) == pytest.approx(CT_INPUT, abs=1e-9)
    assert gcj02_to_bd09(*bd09_to_gcj02(lat, lon)) == pytest.approx(CT_INPUT, abs=1e-9)
    assert wgs84_to_bd09(*bd09_to_wgs84(lat, lon)) == pytest.approx(CT_INPUT, abs=1e-9)


def test_gcoord_reference_point() -> None:
    assert wgs84_to_gcj02(45.0, 123.0) == pytest.approx(GCOORD_45_123_WGS84_TO_GCJ02, abs=1e-8)
    assert gcj02_to_bd09(45.0, 123.0) == pytest.approx(GCOORD_45_123_GCJ02_TO_BD09, abs=1e-8)
    approx = GCOORD_45_123_GCJ02_TO_WGS84_APPROX
    assert gcj02_to_wgs84(45.0, 123.0) == pytest.approx(approx, abs=5e-6)


# --------------------------------------------------------------------------- inverses


def test_round_trips_over_china_are_exact(china_points) -> None:
    lat, lon = china_points
    gcj = wgs84_to_gcj02(lat, lon)
    bd = wgs84_to_bd09(lat, lon)
    # the shifts are real (tens to hundreds of metres), the round trips are not
    assert metres(*gcj, lat, lon).min() > 10
    gcj_error = metres(*gcj02_to_wgs84(*gcj), lat, lon)
    bd_error = metres(*bd09_to_wgs84(*bd), lat, lon)
    bd_gcj_error = metres(*bd09_to_gcj02(*bd), *gcj)
    assert gcj_error.max() < 0.01
    assert bd_error.max() < 0.01
    assert bd_gcj_error.max() < 0.01
    # in fact the iteration's own target, 1e-9 degrees (about 0.1 mm), holds everywhere
    assert max(gcj_error.max(), bd_error.max()) < 1e-9 * M_PER_DEG
    print(  # reported with pytest -s
        f"\nmax round-trip error over {lat.size} points: gcj02 {gcj_error.max():.2e} m, "
        f"bd09 {bd_error.max():.2e} m, bd09->gcj02 {bd_gcj_error.max():.2e} m"
    )


def test_inverse_solves_the_forward_equation(china_points) -> None:
    # any GCJ-02 / BD-09 input (not only images of grid points) maps back onto itself
    lat, lon = china_points
    assert np.abs(np.subtract(wgs84_to_gcj02(*gcj02_to_wgs84(lat, lon)), (lat, lon))).max() < 1e-9
    assert np.abs(np.subtract(gcj02_to_bd09(*bd09_to_gcj02(lat, lon)), (lat, lon))).max() < 1e-9


def test_one_step_inverse_would_not_be_good_enough(china_points) -> None:
    # why the iteration exists: the common one-step inverse is metres off
    lat, lon = china_points
    gcj_lat, gcj_lon = wgs84_to_gcj02(lat, lon)
    d_lat, d_lon = wgs84_to_gcj02(gcj_lat, gcj_lon)
    one_step = (2 * gcj_lat - d_lat, 2 * gcj_lon - d_lon)  # gcj - (shift at gcj)
    assert metres(*one_step, lat, lon).max() > 1.0


def test_iteration_cap_warns(monkeypatch) -> None:
    monkeypatch.setattr(coords, "_MAX_ITERATIONS", 1)
    with pytest.warns(RuntimeWarning, match="iterations"):
        gcj02_to_wgs84(31.2304194, 121.4737061)


# --------------------------------------------------------------------------- box and edges


@pytest.mark.parametrize("place", sorted(OUTSIDE))
@pytest.mark.parametrize("convert", CONVERSIONS, ids=lambda f: f.__name__)
def test_identity_outside_china(place: str, convert) -> None:
    lat, lon = OUTSIDE[place]
    assert convert(lat, lon) == (lat, lon)
    assert not in_china(lat, lon)


def test_in_china_box() -> None:
    lat = [39.9, 25.45, 22.28, 25.03, 51.5, 0.8293, 55.8271, 55.83, np.nan, 30.0]
    lon = [116.4, 119.0, 114.16, 121.56, -0.12, 72.004, 137.8347, 120.0, 116.4, np.nan]
    # Beijing, Putian, Hong Kong and Taipei (inside: a documented limit of the box),
    # London, both corners (bounds included), just north of the box, NaN, NaN
    expected = [True, True, True, True, False, True, True, False, False, False]
    result = in_china(lat, lon)
    assert result.dtype == bool and result.tolist() == expected
    assert in_china(39.9, 116.4).shape == ()


@pytest.mark.parametrize("convert", CONVERSIONS, ids=lambda f: f.__name__)
def test_nan_passes_through(convert) -> None:
    lat = np.array([np.nan, 31.23, 31.23, np.nan, 31.23])
    lon = np.array([121.47, np.nan, 121.47, np.nan, 121.47])
    out_lat, out_lon = convert(lat, lon)
    # a row with a NaN is not converted: NaN stays NaN, its other coordinate is unchanged
    assert np.isnan(out_lat).tolist() == [True, False, False, True, False]
    assert np.isnan(out_lon).tolist() == [False, True, False, True, False]
    assert out_lon[0] == 121.47 and out_lat[1] == 31.23
    # valid rows are converted as if alone
    assert (out_lat[2], out_lon[2]) == pytest.approx(convert(31.23, 121.47), abs=1e-12)
    scalar_lat, scalar_lon = convert(float("nan"), 121.47)
    assert math.isnan(scalar_lat) and scalar_lon == 121.47
    assert np.isnan(convert([None, 31.23], [121.47, 121.47])[0][0])


def test_types_shapes_and_inputs_untouched() -> None:
    lat, lon = wgs84_to_gcj02(31.23, 121.47)
    assert type(lat) is float and type(lon) is float
    lat_in = np.array([[31.23, 51.5], [25.45, np.nan]])
    lon_in = np.array([[121.47, -0.12], [119.0, 1.0]])
    saved = lat_in.copy(), lon_in.copy()
    out_lat, out_lon = bd09_to_wgs84(lat_in, lon_in)
    assert out_lat.shape == (2, 2) and out_lat.dtype == np.float64
    assert np.array_equal(lat_in, saved[0], equal_nan=True) and np.array_equal(lon_in, saved[1])
    assert out_lat[0, 1] == 51.5 and out_lon[0, 1] == -0.12  # London row unchanged
    # lists, pandas Series (nullable dtype too) and a scalar broadcast against an array
    series = pd.Series([31.23, None], dtype="Float64")
    from_series = gcj02_to_wgs84(series, pd.Series([121.47, 121.47]))
    assert isinstance(from_series[0], np.ndarray) and np.isnan(from_series[0][1])
    assert gcj02_to_wgs84([31.23], [121.47])[0] == pytest.approx([from_series[0][0]])
    assert gcj02_to_wgs84(31.23, [121.47, 121.47])[0].shape == (2,)


def test_large_mixed_array_matches_rowwise_results() -> None:
    # more rows than one processing block, with outside and NaN rows interleaved
    rng = np.random.default_rng(3)
    n = 3 * coords._CHUNK + 123
    lat = rng.uniform(20.0, 45.0, n)
    lon = rng.uniform(100.0, 122.0, n)
    lon[::7] -= 150.0  # outside
    lat[::11] = np.nan
    out_lat, out_lon = bd09_to_wgs84(lat, lon)
    for i in [0, 1, 7, 11, 16383, 16384, 40000, n - 1]:
        # equal up to the iteration's tolerance (a block iterates until its worst row is done)
        expected = bd09_to_wgs84(lat[i], lon[i])
        assert (out_lat[i], out_lon[i]) == pytest.approx(expected, abs=1e-9, nan_ok=True)


# --------------------------------------------------------------------------- to_wgs84


def test_to_wgs84_mixed_systems() -> None:
    wgs = GCOORD_CITIES["putian"][0]
    gcj = wgs84_to_gcj02(*wgs)
    bd = wgs84_to_bd09(*wgs)
    lat = np.array([wgs[0], gcj[0], bd[0], 51.5, gcj[0]])
    lon = np.array([wgs[1], gcj[1], bd[1], -0.12, gcj[1]])
    systems = pd.Series(["wgs84", "gcj02", "bd09", "bd09", "高德"])
    out_lat, out_lon = to_wgs84(lat, lon, systems)
    assert (out_lat[0], out_lon[0]) == wgs  # wgs84 rows untouched, bit for bit
    assert metres(out_lat[[1, 2, 4]], out_lon[[1, 2, 4]], wgs[0], wgs[1]).max() < 1e-3
    assert (out_lat[3], out_lon[3]) == (51.5, -0.12)  # BD-09 label outside China: unchanged


def test_to_wgs84_single_system_and_synonyms() -> None:
    bd = wgs84_to_bd09(31.2323443, 121.4691633)
    assert to_wgs84(*bd, "bd09") == pytest.approx(bd09_to_wgs84(*bd), abs=0)
    assert to_wgs84(*bd, "Baidu") == pytest.approx(bd09_to_wgs84(*bd), abs=0)
    assert to_wgs84(*bd, "WGS-84") == bd
    out = to_wgs84([bd[0], bd[0]], [bd[1], bd[1]], "BD-09")
    assert isinstance(out[0], np.ndarray) and out[0].shape == (2,)
    # one system per row, broadcast against a scalar point
    assert to_wgs84(bd[0], bd[1], ["wgs84", "bd09"])[0][0] == bd[0]


@pytest.mark.parametrize("bad", ["", "utm", None, ["wgs84", ""], ["gcj02", "bd09mc"]])
def test_to_wgs84_rejects_unknown_systems(bad) -> None:
    lat = [31.23, 31.23] if isinstance(bad, list) else 31.23
    lon = [121.47, 121.47] if isinstance(bad, list) else 121.47
    with pytest.raises(InputError, match="not a known coordinate system"):
        to_wgs84(lat, lon, bad)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (
            ["WGS84", "wgs-84", "WGS 84", "EPSG:4326", "epsg 4326", "4326", "GPS", " gps "],
            "wgs84",
        ),
        (
            ["GCJ02", "GCJ-02", "gcj_02", "GCJ", "mars", "火星坐标", "火星坐标系", "国测局",
             "高德", "高德地图", "amap", "AMap", "gaode", "AutoNavi", "腾讯", "Tencent", "QQ",
             "soso", "google_cn", "Google CN", "google.cn"],
            "gcj02",
        ),
        (
            ["BD09", "BD-09", "bd_09", "bd09ll", "BD09LL", "baidu", "Baidu", "百度", "百度坐标",
             "百度坐标系"],
            "bd09",
        ),
        (["", "  ", "unknown", "bd09mc", "utm", "EPSG:3857", "4326.5"], ""),
    ],
)  # fmt: skip
def test_canonical_system_synonyms(names: list[str], expected: str) -> None:
    assert canonical_system(names).tolist() == [expected] * len(names)


def test_canonical_system_types_and_missing_values() -> None:
    values = pd.Series(["GCJ-02", None, np.nan, 4326, 4326.0, "百度", pd.NA], dtype=object)
    result = canonical_system(values)
    assert result.tolist() == ["gcj02", "", "", "wgs84", "wgs84", "bd09", ""]
    assert result.dtype.kind == "U" and result.shape == (7,)
    single = canonical_system("高德")
    assert single.shape == () and single.item() == "gcj02"
    assert canonical_system([]).shape == (0,)
    assert set(canonical_system(list(SYSTEMS)).tolist()) == set(SYSTEMS)


# --------------------------------------------------------------------------- misc


def test_module_doctests() -> None:
    assert doctest.testmod(coords).failed == 0


def test_vectorised_speed_sanity() -> None:
    # 1M points: measured and printed (pytest -s), not asserted; see the report for numbers
    rng = np.random.default_rng(1)
    lat, lon = wgs84_to_gcj02(rng.uniform(18.0, 53.0, 1_000_000), rng.uniform(74, 134, 1_000_000))
    start = time.perf_counter()
    out_lat, _ = gcj02_to_wgs84(lat, lon)
    elapsed = time.perf_counter() - start
    assert out_lat.shape == (1_000_000,) and not np.isnan(out_lat).any()
    print(f"\ngcj02_to_wgs84 on 1,000,000 points: {elapsed:.3f} s")
