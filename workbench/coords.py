"""Convert between the WGS-84, GCJ-02 and BD-09 coordinate systems used for China.

Most Chinese map data is not WGS-84 (GPS). Amap/Gaode, Tencent/QQ, google.cn and most
Chinese logistics exports use **GCJ-02** ("Mars coordinates", 火星坐标系), WGS-84 shifted
by an official obfuscation formula; Baidu uses **BD-09**, a further shift of GCJ-02. GCJ-02
is typically a few hundred metres (up to about 700 m) off WGS-84 and BD-09 about another
kilometre: enough to put a waybill in the wrong building or village. Convert to WGS-84
before clustering, measuring distances or drawing on a web map.

Every function is vectorised with numpy: pass scalars or array-likes (lists, numpy arrays,
pandas Series) of latitude and longitude in decimal degrees. Array input gives float64
arrays, scalar input gives floats. NaN (or None) in gives NaN out.

Forward conversions (WGS-84 -> GCJ-02 -> BD-09) are closed formulas. Their inverses have no
closed form: GCJ-02 -> WGS-84 and BD-09 -> GCJ-02 start from the usual one-step
approximations (off by up to about 5 m and 0.25 m) and refine them by fixed-point iteration
on the forward formula, on whole blocks of rows at once, until the error of every row is
below 1e-9 degrees (about 0.1 mm). Round trips are exact to well under a millimetre.

Where the shift applies
-----------------------
GCJ-02 equals WGS-84 outside China, and Baidu also publishes WGS-84 there, so every
conversion is the identity for points outside :func:`in_china`. That test is the rough
bounding box used by most open-source converters (e.g. eviltransform, coordtransform):
longitude 72.004 to 137.8347 E, latitude 0.8293 to 55.8271 N, bounds included, tested on
the *input* point of each conversion. Its limits:

* Every point of mainland China lies inside it, far from its edges.
* It also contains Hong Kong, Macau, Taiwan, Mongolia, the Korean peninsula, much of Japan,
  South-East Asia, Nepal, Bhutan, Bangladesh and parts of Russia, India, Pakistan and
  Central Asia. Points there are shifted as if they were in China, which is right only if
  the provider actually shifted them. Whether a provider shifted Hong Kong, Macau, Taiwan
  or border areas is not certain; check such rows against a known landmark first.
* Near the box edges (only outside China), a point and its converted position may fall on
  opposite sides of the edge, so a round trip there can be off by the full shift.

>>> lat, lon = wgs84_to_gcj02(39.9028057, 116.4011517)  # central Beijing
>>> round(lat, 5), round(lon, 5)
(39.90421, 116.40739)
>>> gcj02_to_wgs84(51.5007, -0.1246)  # London: outside China, unchanged
(51.5007, -0.1246)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from workbench.errors import InputError

__all__ = [
    "EARTH_RADIUS_M",
    "SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "canonical_system",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "haversine_m",
    "in_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

SYSTEMS = ("wgs84", "gcj02", "bd09")
"""Canonical names of the supported coordinate systems."""

EARTH_RADIUS_M = 6_371_008.8
"""The mean Earth radius (IUGG), for every great-circle distance in the package."""


def haversine_m(lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike) -> Any:
    """Great-circle distance in metres between WGS-84 points (numpy, broadcasts).

    >>> round(float(haversine_m(25.0, 119.0, 25.001, 119.0)), 1)
    111.2
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi, dlam = p2 - p1, np.radians(lon2) - np.radians(lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


FloatArray = NDArray[np.float64]
_Transform = Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]]

# Krasovsky 1940 ellipsoid, as used by the GCJ-02 formula
_A = 6378245.0
_EE = 0.00669342162296594323
# BD-09 constant: pi * 3000 / 180
_X_PI = math.pi * 3000.0 / 180.0
# rough bounding box of China (see the module docstring)
_LON_MIN, _LON_MAX = 72.004, 137.8347
_LAT_MIN, _LAT_MAX = 0.8293, 55.8271
# inverse iteration (see _invert): stop when every row's error is below this many degrees
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 20
# bounds on the Jacobian max-norm of the GCJ-02 and BD-09 shifts over the box; the maxima
# measured on a 1500 x 1500 grid are 0.0073 and 0.022
_GCJ_LIPSCHITZ = 0.01
_BD_LIPSCHITZ = 0.03
# rows per block of vectorised work (see _chunked)
_CHUNK = 16384

_SYNONYMS: dict[str, str] = {
    **dict.fromkeys(
        ("wgs84", "wgs1984", "wgs", "epsg:4326", "epsg4326", "4326", "gps", "地球坐标",
         "地球坐标系"),
        "wgs84",
    ),
    **dict.fromkeys(
        ("gcj02", "gcj", "gcj2", "mars", "火星坐标", "火星坐标系", "国测局", "国测局坐标",
         "国测局坐标系", "高德", "高德地图", "amap", "gaode", "autonavi", "腾讯", "腾讯地图",
         "tencent", "qq", "soso", "googlecn", "google.cn"),
        "gcj02",
    ),
    **dict.fromkeys(
        ("bd09", "bd09ll", "bd", "baidu", "百度", "百度地图", "百度坐标", "百度坐标系"), "bd09"
    ),
}  # fmt: skip


# --------------------------------------------------------------------------- helpers


def _prepare(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray, bool]:
    """Broadcast to writable float64 arrays; also say whether both inputs were scalars."""
    lat_a = np.asarray(lat, dtype=np.float64)
    lon_a = np.asarray(lon, dtype=np.float64)
    scalar = lat_a.ndim == 0 and lon_a.ndim == 0
    lat_b, lon_b = np.broadcast_arrays(lat_a, lon_a)
    return np.array(lat_b, dtype=np.float64), np.array(lon_b, dtype=np.float64), scalar


def _finish(lat: FloatArray, lon: FloatArray, scalar: bool) -> tuple[Any, Any]:
    if scalar:
        return float(lat), float(lon)
    return lat, lon


def _in_box(lat: FloatArray, lon: FloatArray) -> NDArray[np.bool_]:
    # NaN compares False, so NaN rows are "outside" and pass through unchanged
    return (lon >= _LON_MIN) & (lon <= _LON_MAX) & (lat >= _LAT_MIN) & (lat <= _LAT_MAX)


def _chunked(transform: _Transform, lat: FloatArray, lon: FloatArray) -> None:
    """Apply ``transform`` to 1-D arrays in place, in blocks that stay in the CPU cache.

    The formulas chain dozens of element-wise operations; on blocks of a few ten thousand
    rows the temporaries stay in cache, which is about twice as fast as whole-array numpy.
    """
    for start in range(0, lat.size, _CHUNK):
        stop = start + _CHUNK
        lat[start:stop], lon[start:stop] = transform(lat[start:stop], lon[start:stop])


def _convert(lat: ArrayLike, lon: ArrayLike, transform: _Transform) -> tuple[Any, Any]:
    """Apply ``transform`` to the rows inside China; leave the others unchanged."""
    lat_a, lon_a, scalar = _prepare(lat, lon)
    inside = _in_box(lat_a, lon_a)
    if inside.all():
        _chunked(transform, lat_a.reshape(-1), lon_a.reshape(-1))
    elif inside.any():
        lat_in, lon_in = lat_a[inside], lon_a[inside]
        _chunked(transform, lat_in, lon_in)
        lat_a[inside], lon_a[inside] = lat_in, lon_in
    return _finish(lat_a, lon_a, scalar)


def _harmonics(
    base: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """sin(2b), sin(5b), sin(20b), sin(60b) and cos(60b) for ``b = base``, from one sin/cos.

    The GCJ-02 formula needs sines of u*pi/30, u*pi/12, u*pi/3 and u*pi (and multiples);
    with b = u*pi/60 these are sin(2b), sin(5b), sin(20b), sin(60b). Angle-addition
    identities give them from sin(b) and cos(b), which is several times faster than calling
    np.sin for each; the rounding difference is below 1e-12 of the terms.
    """
    s1, c1 = np.sin(base), np.cos(base)
    s2, c2 = 2.0 * s1 * c1, (c1 - s1) * (c1 + s1)
    s4, c4 = 2.0 * s2 * c2, (c2 - s2) * (c2 + s2)
    s5, c5 = s4 * c1 + c4 * s1, c4 * c1 - s4 * s1
    s10, c10 = 2.0 * s5 * c5, (c5 - s5) * (c5 + s5)
    s20, c20 = 2.0 * s10 * c10, (c10 - s10) * (c10 + s10)
    s60 = s20 * (3.0 - 4.0 * s20 * s20)
    c60 = c20 * (4.0 * c20 * c20 - 3.0)
    return s2, s5, s20, s60, c60


def _gcj_offset(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """GCJ-02 minus WGS-84, in degrees, at WGS-84 point (lat, lon); no box test.

    The published formula, with x = lon - 105 and y = lat - 35 (sines of multiples of
    x*pi and y*pi computed by :func:`_harmonics`)::

        t_lat = -100 + 2x + 3y + 0.2y^2 + 0.1xy + 0.2 sqrt|x|
                + 2/3 (20 sin 6x pi + 20 sin 2x pi) + 2/3 (20 sin y pi + 40 sin(y pi/3))
                + 2/3 (160 sin(y pi/12) + 320 sin(y pi/30))
        t_lon = 300 + x + 2y + 0.1x^2 + 0.1xy + 0.1 sqrt|x|
                + 2/3 (20 sin 6x pi + 20 sin 2x pi) + 2/3 (20 sin x pi + 40 sin(x pi/3))
                + 2/3 (150 sin(x pi/12) + 300 sin(x pi/30))

    scaled from metres to degrees on the Krasovsky ellipsoid at latitude ``lat``.
    """
    x = lon - 105.0
    y = lat - 35.0
    # sx_30 = sin(x pi / 30), ..., sx_1 = sin(x pi), cx_1 = cos(x pi); likewise for y
    sx_30, sx_12, sx_3, sx_1, cx_1 = _harmonics(x * (math.pi / 60.0))
    sy_30, sy_12, sy_3, sy_1, _ = _harmonics(y * (math.pi / 60.0))
    sx_x2 = 2.0 * sx_1 * cx_1  # sin(2 x pi)
    sx_x6 = sx_x2 * (3.0 - 4.0 * sx_x2 * sx_x2)  # sin(6 x pi)
    common = (2.0 / 3.0 * 20.0) * (sx_x6 + sx_x2)
    sqrt_abs_x = np.sqrt(np.abs(x))
    xy = x * y
    t_lat = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * xy + 0.2 * sqrt_abs_x + common
        + (2.0 / 3.0) * (20.0 * sy_1 + 40.0 * sy_3 + 160.0 * sy_12 + 320.0 * sy_30)
    )  # fmt: skip
    t_lon = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * xy + 0.1 * sqrt_abs_x + common
        + (2.0 / 3.0) * (20.0 * sx_1 + 40.0 * sx_3 + 150.0 * sx_12 + 300.0 * sx_30)
    )  # fmt: skip
    sin_lat = np.sin(np.radians(lat))
    magic = 1.0 - _EE * sin_lat * sin_lat
    sqrt_magic = np.sqrt(magic)
    cos_lat = np.sqrt(1.0 - sin_lat * sin_lat)  # latitude is within +-90 degrees
    d_lat = t_lat * (magic * sqrt_magic) * (180.0 / (_A * (1.0 - _EE) * math.pi))
    d_lon = t_lon * sqrt_magic / cos_lat * (180.0 / (_A * math.pi))
    return d_lat, d_lon


def _wgs_to_gcj(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lat, d_lon = _gcj_offset(lat, lon)
    return lat + d_lat, lon + d_lon


def _rotate_scale(
    lat: FloatArray, lon: FloatArray, d_radius: FloatArray, d_angle: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Polar shift of (lon, lat) about (0, 0): radius + ``d_radius``, angle + ``d_angle``.

    Same as ``z * sin(theta)``, ``z * cos(theta)`` with ``z = hypot + d_radius`` and
    ``theta = atan2 + d_angle``, but with a rotation matrix instead of atan2, sin and cos:
    ``d_angle`` is below 3e-6 rad, so the truncated series are exact in float64.
    """
    radius = np.hypot(lon, lat)
    scale = (radius + d_radius) / radius
    d_squared = d_angle * d_angle
    sin_d = d_angle * (1.0 - d_squared / 6.0)
    cos_d = 1.0 - d_squared / 2.0
    return scale * (lat * cos_d + lon * sin_d), scale * (lon * cos_d - lat * sin_d)


def _gcj_to_bd(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The published BD-09 formula: a small polar shift, then an offset."""
    b_lat, b_lon = _rotate_scale(
        lat, lon, 0.00002 * np.sin(lat * _X_PI), 0.000003 * np.cos(lon * _X_PI)
    )
    return b_lat + 0.006, b_lon + 0.0065


def _bd_to_gcj_approx(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The well-known closed-form inverse of :func:`_gcj_to_bd`; off by up to 0.25 m."""
    x = lon - 0.0065
    y = lat - 0.006
    return _rotate_scale(y, x, -0.00002 * np.sin(y * _X_PI), -0.000003 * np.cos(x * _X_PI))


def _invert(
    forward: _Transform,
    lat: FloatArray,
    lon: FloatArray,
    guess: tuple[FloatArray, FloatArray],
    lipschitz: float,
) -> tuple[FloatArray, FloatArray]:
    """Solve ``forward(p) == (lat, lon)`` for p by fixed-point iteration from ``guess``.

    ``forward(p) - p`` is a shift that barely changes over the distances involved: its
    Jacobian norm is at most ``lipschitz`` (max-norm, deg/deg). So subtracting the residual
    ``r = forward(p) - (lat, lon)`` from p shrinks the error by that factor, and after the
    update the error is at most ``lipschitz / (1 - lipschitz) * |r|``. Iterate until that
    bound is below ``_TOLERANCE_DEG`` for every row.
    """
    p_lat, p_lon = guess
    factor = lipschitz / (1.0 - lipschitz)
    bound = math.inf
    for _ in range(_MAX_ITERATIONS):
        f_lat, f_lon = forward(p_lat, p_lon)
        r_lat = f_lat - lat
        r_lon = f_lon - lon
        p_lat = p_lat - r_lat
        p_lon = p_lon - r_lon
        worst = max(np.max(np.abs(r_lat), initial=0.0), np.max(np.abs(r_lon), initial=0.0))
        bound = factor * float(worst)
        if bound < _TOLERANCE_DEG:
            break
    else:
        warnings.warn(
            f"coordinate inversion stopped after {_MAX_ITERATIONS} iterations with an error "
            f"of up to {bound:.3g} degrees",
            RuntimeWarning,
            stacklevel=2,
        )
    return p_lat, p_lon


def _gcj_to_wgs(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    d_lat, d_lon = _gcj_offset(lat, lon)
    return _invert(_wgs_to_gcj, lat, lon, (lat - d_lat, lon - d_lon), _GCJ_LIPSCHITZ)


def _bd_to_gcj(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _invert(_gcj_to_bd, lat, lon, _bd_to_gcj_approx(lat, lon), _BD_LIPSCHITZ)


def _wgs_to_bd(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_bd(*_wgs_to_gcj(lat, lon))


def _bd_to_wgs(lat: FloatArray, lon: FloatArray) -> tuple[FloatArray, FloatArray]:
    return _gcj_to_wgs(*_bd_to_gcj(lat, lon))


# --------------------------------------------------------------------------- public API


def in_china(lat: ArrayLike, lon: ArrayLike) -> NDArray[np.bool_]:
    """Whether points lie in the rough China bounding box where the shifts apply.

    Parameters
    ----------
    lat, lon
        Latitude and longitude in decimal degrees; scalars or array-likes that broadcast.

    Returns
    -------
    numpy.ndarray of bool
        True inside longitude 72.004-137.8347 E, latitude 0.8293-55.8271 N (bounds included);
        False outside and for NaN. A 0-d array for scalar input. The box is generous: see the
        module docstring for what else it contains.
    """
    lat_a, lon_a, _ = _prepare(lat, lon)
    return _in_box(lat_a, lon_a)


@overload
def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 (GPS) to GCJ-02 (Amap, Tencent, google.cn).

    Parameters
    ----------
    lat, lon
        WGS-84 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        GCJ-02 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china`; NaN stays NaN.
    """
    return _convert(lat, lon, _wgs_to_gcj)


@overload
def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 (Amap, Tencent, google.cn) to WGS-84, exactly.

    Iterates the forward formula until the error of every row is below 1e-9 degrees, so
    the result is exact to well under a millimetre (the common one-step formula is off by
    up to about 5 m).

    Parameters
    ----------
    lat, lon
        GCJ-02 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        WGS-84 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china` (tested on the GCJ-02 input); NaN stays NaN.
    """
    return _convert(lat, lon, _gcj_to_wgs)


@overload
def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert GCJ-02 to BD-09 (Baidu).

    Parameters
    ----------
    lat, lon
        GCJ-02 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        BD-09 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china`; NaN stays NaN.
    """
    return _convert(lat, lon, _gcj_to_bd)


@overload
def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_gcj02(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 (Baidu) to GCJ-02, exactly.

    Starts from the well-known closed-form inverse (off by up to about 0.25 m) and
    iterates the forward formula until the error is below 1e-9 degrees.

    Parameters
    ----------
    lat, lon
        BD-09 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        GCJ-02 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china`; NaN stays NaN.
    """
    return _convert(lat, lon, _bd_to_gcj)


@overload
def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_bd09(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert WGS-84 (GPS) to BD-09 (Baidu), through GCJ-02.

    Parameters
    ----------
    lat, lon
        WGS-84 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        BD-09 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china`; NaN stays NaN.
    """
    return _convert(lat, lon, _wgs_to_bd)


@overload
def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_wgs84(lat: ArrayLike, lon: ArrayLike) -> tuple[Any, Any]:
    """Convert BD-09 (Baidu) to WGS-84, exactly, through GCJ-02.

    Parameters
    ----------
    lat, lon
        BD-09 latitude and longitude in decimal degrees; scalars or array-likes.

    Returns
    -------
    (lat, lon)
        WGS-84 coordinates: floats for scalar input, else float64 arrays. Unchanged outside
        :func:`in_china` (tested on the BD-09 input); NaN stays NaN.
    """
    return _convert(lat, lon, _bd_to_wgs)


def _normalise_name(value: Any) -> str:
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        number = float(value)
        return str(int(number)) if number.is_integer() else str(number)
    text = str(value).strip().lower()
    for char in " \t\n\r\u3000-_–—":
        text = text.replace(char, "")
    return text


def canonical_system(values: Any) -> NDArray[np.str_]:
    """Map free-text coordinate-system names to ``"wgs84"``, ``"gcj02"``, ``"bd09"`` or ``""``.

    Matching ignores case, spaces, dashes and underscores. Recognised names:

    * ``"wgs84"``: WGS84, WGS-84, WGS 84, EPSG:4326, 4326, GPS, 地球坐标(系).
    * ``"gcj02"``: GCJ02, GCJ-02, GCJ, Mars, 火星坐标(系), 国测局(坐标/坐标系), 高德(地图), Amap,
      Gaode, AutoNavi, 腾讯(地图), Tencent, QQ, SOSO, google_cn / google.cn.
    * ``"bd09"``: BD09, BD-09, BD09LL, BD, Baidu, 百度, 百度地图, 百度坐标(系).

    Anything else, including empty strings, None and NaN, gives ``""``: the caller decides
    the default. Note that Baidu Mercator (``bd09mc``, metres, not degrees) is deliberately
    not recognised.

    Parameters
    ----------
    values
        One name or an array-like of names (e.g. a pandas Series, one per row).

    Returns
    -------
    numpy.ndarray of str
        Same shape as ``values`` (0-d for a single name; use ``.item()`` for a str).
    """
    array = np.asarray(values, dtype=object)
    codes, uniques = pd.factorize(pd.Series(array.ravel(), dtype=object))
    mapped = np.array(
        [_SYNONYMS.get(_normalise_name(value), "") for value in uniques] + [""], dtype="<U5"
    )
    # code -1 (None / NaN) picks the trailing ""
    return mapped[codes].reshape(array.shape)


@overload
def to_wgs84(lat: float, lon: float, system: str) -> tuple[float, float]: ...
@overload
def to_wgs84(lat: ArrayLike, lon: ArrayLike, system: Any) -> tuple[FloatArray, FloatArray]: ...
def to_wgs84(lat: ArrayLike, lon: ArrayLike, system: Any) -> tuple[Any, Any]:
    """Convert coordinates in any supported system to WGS-84, row by row.

    Parameters
    ----------
    lat, lon
        Latitude and longitude in decimal degrees; scalars or array-likes.
    system
        One system name for all rows, or an array-like with one name per row (files that mix
        systems). Canonical names (:data:`SYSTEMS`) or any synonym that
        :func:`canonical_system` recognises; rows in ``"wgs84"`` are returned unchanged.

    Returns
    -------
    (lat, lon)
        WGS-84 coordinates: floats for scalar input, else float64 arrays.

    Raises
    ------
    InputError
        If a system name is empty or unknown; fill such rows with a default first, e.g.
        ``np.where(canonical_system(s) == "", "wgs84", canonical_system(s))``.
    """
    systems = canonical_system(system)
    unknown = systems == ""
    if unknown.any():
        bad = np.asarray(system, dtype=object).ravel()[unknown.ravel()]
        examples = ", ".join(sorted({repr(v) for v in bad})[:5])
        raise InputError(
            f"system: {int(unknown.sum())} value(s) are not a known coordinate system "
            f"({examples}); expected one of {', '.join(SYSTEMS)} or a synonym such as "
            "'GCJ-02', '高德' or 'baidu'. Fill unknown rows with a default first."
        )
    converters: dict[str, _Transform] = {"gcj02": _gcj_to_wgs, "bd09": _bd_to_wgs}
    if systems.ndim == 0:
        name = str(systems.item())
        if name in converters:
            return _convert(lat, lon, converters[name])
        lat_a, lon_a, scalar = _prepare(lat, lon)
        return _finish(lat_a, lon_a, scalar)
    lat_a, lon_a, _ = _prepare(lat, lon)
    lat_a, lon_a, systems = np.broadcast_arrays(lat_a, lon_a, systems)
    out_lat = np.array(lat_a, dtype=np.float64)
    out_lon = np.array(lon_a, dtype=np.float64)
    for name, converter in converters.items():
        rows = systems == name
        if rows.any():
            out_lat[rows], out_lon[rows] = _convert(lat_a[rows], lon_a[rows], converter)
    return out_lat, out_lon
