"""The tip sheet's figure of a site, drawn offline with matplotlib: where, around what, when.

Three panels: the site itself (ship-from points sized by waybills, hull, radius), its
surroundings (the shipped Natural Earth basemap clipped to about 60 km, GeoNames towns named
in the report's language) and its weekly volume and declared value. Nothing is fetched: the
basemap is ``workbench/maps/static/vendor/world-atlas/countries.geojson``, the towns come from the
bundled gazetteer. Returns PNG bytes.
"""

from __future__ import annotations

import io
import json
import logging
import math
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from workbench.export._i18n import Translator

__all__ = ["REGION_HALF_KM", "site_figure"]

_BASEMAP = (
    Path(__file__).parents[1] / "maps" / "static" / "vendor" / "world-atlas" / "countries.geojson"
)
_GAZETTEER = Path(__file__).parents[1] / "data" / "gazetteer_cn.csv"
REGION_HALF_KM = 60.0
_LOCAL_MIN_HALF_M = 250.0
_M_PER_DEG = 111_320.0
_SCALES_M = (20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000)
_LAND, _SEA, _BORDER = "#f2efe9", "#cfe0ec", "#9a9a9a"
_SITE, _POINT = "#7a1d1d", "#d9480f"
_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans", "DejaVu Sans")


@lru_cache(maxsize=1)
def _countries() -> tuple[list[shapely.Geometry], np.ndarray]:
    data = json.loads(_BASEMAP.read_text(encoding="utf-8"))
    shapes = [shapely.geometry.shape(f["geometry"]) for f in data["features"] if f["geometry"]]
    return shapes, shapely.bounds(np.array(shapes, dtype=object))


@lru_cache(maxsize=1)
def _towns() -> pd.DataFrame:
    towns = pd.read_csv(_GAZETTEER, dtype={"name_zh": str, "admin1": str})
    return towns.sort_values("population", ascending=False).reset_index(drop=True)


@lru_cache(maxsize=1)
def _font_family() -> list[str]:
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in _FONTS if name in known] or ["sans-serif"]


def _box(lat: float, lon: float, half_m: float) -> tuple[float, float, float, float]:
    dlat = half_m / _M_PER_DEG
    dlon = half_m / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    return lon - dlon, lat - dlat, lon + dlon, lat + dlat


def _basemap(ax: Any, box: tuple[float, float, float, float]) -> None:
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    ax.set_facecolor(_SEA)
    shapes, bounds = _countries()
    x0, y0, x1, y1 = box
    near = (bounds[:, 0] <= x1) & (bounds[:, 2] >= x0) & (bounds[:, 1] <= y1) & (bounds[:, 3] >= y0)
    for index in np.flatnonzero(near):
        clipped = shapely.clip_by_rect(shapes[index], x0, y0, x1, y1)
        for polygon in getattr(clipped, "geoms", [clipped]):
            if polygon.is_empty or polygon.geom_type != "Polygon":
                continue
            rings = [polygon.exterior, *polygon.interiors]
            vertices = np.concatenate([np.asarray(r.coords)[:, :2] for r in rings])
            codes = np.concatenate(
                [
                    [MplPath.MOVETO] + [MplPath.LINETO] * (len(r.coords) - 2) + [MplPath.CLOSEPOLY]
                    for r in rings
                ]
            )
            ax.add_patch(
                PathPatch(MplPath(vertices, codes), fc=_LAND, ec=_BORDER, lw=0.6, zorder=0)
            )


def _scale_bar(ax: Any, box: tuple[float, float, float, float], lat: float, tr: Translator) -> None:
    x0, y0, x1, y1 = box
    m_per_deg_lon = _M_PER_DEG * max(math.cos(math.radians(lat)), 0.01)
    width_m = (x1 - x0) * m_per_deg_lon
    length = max([s for s in _SCALES_M if s <= width_m / 4] or [_SCALES_M[0]])
    sx, sy = x0 + (x1 - x0) * 0.05, y0 + (y1 - y0) * 0.06
    ax.plot([sx, sx + length / m_per_deg_lon], [sy, sy], color="black", lw=2.5, zorder=5)
    label = (
        tr("map.scale_km", km=f"{length / 1000:g}")
        if length >= 1000
        else tr("map.scale_m", m=f"{length:g}")
    )
    ax.text(sx, sy + (y1 - y0) * 0.02, label, fontsize=7, zorder=5)


def _frame(ax: Any, box: tuple[float, float, float, float], lat: float, title: str) -> None:
    x0, y0, x1, y1 = box
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect(1 / max(math.cos(math.radians(lat)), 0.01))
    ax.set_title(title, fontsize=9, loc="left")
    ax.tick_params(labelsize=6)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.3f}°E")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.3f}°N")
    ax.xaxis.set_major_locator(_locator())
    ax.yaxis.set_major_locator(_locator())


def _locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(3)


def _local_panel(ax: Any, site: Mapping[str, Any], waybills: pd.DataFrame, tr: Translator) -> Any:
    lat, lon, radius = float(site["lat"]), float(site["lon"]), float(site["radius_m"])
    box = _box(lat, lon, max(3 * radius, _LOCAL_MIN_HALF_M))
    _basemap(ax, box)
    hull = site.get("hull")
    if hull is not None and not hull.is_empty and hull.geom_type == "Polygon":
        xs, ys = hull.exterior.xy
        ax.fill(xs, ys, fc=_SITE, alpha=0.15, ec=_SITE, lw=1.2, zorder=2, label=tr("map.hull"))
    angle = np.linspace(0, 2 * np.pi, 90)
    dlat = radius / _M_PER_DEG
    dlon = radius / (_M_PER_DEG * max(math.cos(math.radians(lat)), 0.01))
    ax.plot(lon + dlon * np.cos(angle), lat + dlat * np.sin(angle), ls="--", lw=0.9,
            color=_SITE, zorder=3, label=tr("map.radius", m=f"{radius:,.0f}"))  # fmt: skip
    if len(waybills):
        points = waybills.groupby(["lon", "lat"]).size().reset_index(name="n")
        size = 12 + 60 * np.sqrt(points["n"] / points["n"].max())
        ax.scatter(points["lon"], points["lat"], s=size, c=_POINT, alpha=0.75, ec="white",
                   lw=0.5, zorder=4, label=tr("map.points"))  # fmt: skip
    ax.plot([lon], [lat], marker="*", ms=13, color=_SITE, mec="white", zorder=6)
    _scale_bar(ax, box, lat, tr)
    _frame(ax, box, lat, tr("map.local"))
    ax.legend(loc="upper right", fontsize=6, framealpha=0.85)
    return box


def _region_panel(ax: Any, site: Mapping[str, Any], local: Any, tr: Translator) -> None:
    lat, lon = float(site["lat"]), float(site["lon"])
    box = _box(lat, lon, REGION_HALF_KM * 1000)
    _basemap(ax, box)
    towns = _towns()
    x0, y0, x1, y1 = box
    inside = towns[towns["lon"].between(x0, x1) & towns["lat"].between(y0, y1)]
    zh = tr.lang.startswith("zh")
    for town in _spread(inside, (x1 - x0) * 0.14, 10).itertuples():
        name = town.name_zh if zh and isinstance(town.name_zh, str) else town.name
        ax.plot([town.lon], [town.lat], "o", ms=2.5, color="#333333", zorder=3)
        ax.annotate(str(name), (town.lon, town.lat), xytext=(3, 2), textcoords="offset points",
                    fontsize=6.5, color="#333333", zorder=3)  # fmt: skip
    lx0, ly0, lx1, ly1 = local
    ax.plot([lx0, lx1, lx1, lx0, lx0], [ly0, ly0, ly1, ly1, ly0], color=_SITE, lw=1, zorder=4)
    ax.plot([lon], [lat], marker="*", ms=12, color=_SITE, mec="white", zorder=6)
    _scale_bar(ax, box, lat, tr)
    _frame(ax, box, lat, tr("map.region", km=f"{REGION_HALF_KM:g}"))


def _spread(towns: pd.DataFrame, min_deg: float, limit: int) -> pd.DataFrame:
    """The biggest towns, skipping any closer than ``min_deg`` to one already kept."""
    kept: list[int] = []
    lon, lat = towns["lon"].to_numpy(), towns["lat"].to_numpy()
    for i in range(len(towns)):
        if all(math.hypot(lon[i] - lon[j], lat[i] - lat[j]) >= min_deg for j in kept):
            kept.append(i)
            if len(kept) == limit:
                break
    return towns.iloc[kept]


def _activity_panel(ax: Any, waybills: pd.DataFrame, tr: Translator) -> None:
    ax.set_title(tr("chart.weekly"), fontsize=9, loc="left")
    ax.tick_params(labelsize=6)
    if waybills.empty or "shipped_at" not in waybills.columns:
        ax.text(0.5, 0.5, tr("chart.none"), ha="center", va="center", transform=ax.transAxes)
        return
    shipped = pd.to_datetime(waybills["shipped_at"])
    week = (shipped - pd.to_timedelta(shipped.dt.day_of_week, unit="D")).dt.normalize()
    value = (
        waybills["value_cny"] if "value_cny" in waybills.columns else pd.Series(0.0, waybills.index)
    )
    weekly = (
        pd.DataFrame({"week": week, "value": value})
        .groupby("week")
        .agg(n=("value", "size"), value=("value", "sum"))
    )
    ax.bar(weekly.index, weekly["n"], width=6, color=_POINT, alpha=0.8, label=tr("chart.waybills"))
    ax.set_ylabel(tr("chart.waybills"), fontsize=7)
    twin = ax.twinx()
    twin.plot(weekly.index, weekly["value"], color=_SITE, lw=1.2, label=tr("chart.value"))
    twin.set_ylabel(tr("chart.value"), fontsize=7)
    twin.tick_params(labelsize=6)
    twin.yaxis.set_major_formatter(lambda v, _: f"{v:,.0f}")


def site_figure(site: Mapping[str, Any], waybills: pd.DataFrame, tr: Translator) -> bytes:
    """PNG of the site's map, its surroundings and its weekly activity (about 100 KB).

    ``site`` needs lat, lon, radius_m and optionally hull; ``waybills`` lat, lon and, for
    the chart, shipped_at and value_cny.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import matplotlib as mpl

    with mpl.rc_context({"font.family": _font_family(), "axes.unicode_minus": False}):
        fig = Figure(figsize=(7.4, 4.9), dpi=120)
        FigureCanvasAgg(fig)
        grid = fig.add_gridspec(
            2, 2, height_ratios=[3, 1.3], left=0.09, right=0.92, top=0.95, bottom=0.07,
            wspace=0.28, hspace=0.22,
        )  # fmt: skip
        local = _local_panel(fig.add_subplot(grid[0, 0]), site, waybills, tr)
        _region_panel(fig.add_subplot(grid[0, 1]), site, local, tr)
        _activity_panel(fig.add_subplot(grid[1, :]), waybills, tr)
        fig.text(0.005, 0.002, tr("map.credit"), fontsize=5.5, color="#555555")
        out = io.BytesIO()
        fig.savefig(out, format="png")
    return out.getvalue()
