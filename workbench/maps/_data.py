"""What the map draws, as plain data: aggregation, colours, records and safe JSON.

Pure pandas, no folium: :mod:`workbench.maps._page` turns these records into Leaflet layers.
Every string that comes from the input tables stays a JSON string value here; it reaches the
page only through :func:`script_json` and is shown there only with ``textContent``.
"""

from __future__ import annotations

import colorsys
import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import shapely

UNLINKED_COLOUR = "#8c8c8c"
HUB_COLOUR = "#6e6e6e"
# (upper bound of the score class, colour): a yellow-to-red sequential ramp (ColorBrewer YlOrRd)
SCORE_RAMP: tuple[tuple[float, str], ...] = (
    (20.0, "#fed976"),
    (40.0, "#feb24c"),
    (60.0, "#fd8d3c"),
    (80.0, "#f03b20"),
    (math.inf, "#bd0026"),
)
LOCATION_COLOURS = {"warehouse": "#5e35b1", "return": "#00897b", "registered": "#6d4c41"}
# grid cell sizes in degrees tried in order when there are too many points to draw each one
GRID_STEPS_DEG = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 45.0)
UNKNOWN_SELLER = "(no seller id)"
MAX_NAMES_PER_POINT = 5
MAX_NAMES_PER_SITE = 10


def script_json(value: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">`` (and inside JavaScript).

    ``<``, ``>`` and ``&`` become ``\\u003c``-style escapes, so no ``</script>`` or ``<!--`` can
    end the element early, and U+2028 / U+2029 are escaped for old JavaScript parsers.
    ``JSON.parse`` restores the exact strings.

    >>> script_json({"name": "</script>"})
    '{"name":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return escaped_json(text)


def escaped_json(text: str) -> str:
    """JSON text made safe as :func:`script_json` makes it (for JSON that is already text)."""
    for char, escape in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def network_colour(network_id: str) -> str:
    """A stable colour for a network id: the same id gets the same colour on every map.

    >>> network_colour("N-001") == network_colour("N-001")
    True
    """
    digest = hashlib.sha256(network_id.encode("utf-8")).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    lightness = (38, 46, 54)[digest[2] % 3] / 100
    r, g, b = colorsys.hls_to_rgb(hue, lightness, 0.72)
    return f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}"


def score_colour(score: float | None) -> str:
    """Colour of a site score on the sequential ramp (missing score: the lowest class)."""
    value = 0.0 if score is None or pd.isna(score) else float(score)
    return next(colour for bound, colour in SCORE_RAMP if value < bound)


def text(value: Any) -> str | None:
    """A cell as a string, or None when missing."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def text_list(value: Any) -> list[str]:
    """A list-like cell (list, tuple, array, set) as a list of strings; a scalar as [it]."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        items = value.tolist() if isinstance(value, np.ndarray) else list(value)
        if all(type(v) is str for v in items):  # the usual case, and a site lists thousands
            return items
        return [s for s in (text(v) for v in items) if s is not None]
    single = text(value)
    return [] if single is None else [single]


def number(value: Any) -> float | None:
    """A finite float, or None."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def count(value: Any) -> int | float | None:
    """A count as an int when it is whole (3.0 -> 3), else the float, or None."""
    out = number(value)
    return int(out) if out is not None and out.is_integer() else out


def coordinates(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series, pd.Series]:
    """(lat, lon, valid) with lat/lon as floats; valid is False for missing or out-of-range."""
    lat = pd.to_numeric(frame["lat"], errors="coerce").astype("float64")
    lon = pd.to_numeric(frame["lon"], errors="coerce").astype("float64")
    valid = lat.between(-90, 90) & lon.between(-180, 180)
    return lat, lon, valid


# -- ship-from points -------------------------------------------------------------------------


@dataclass(frozen=True)
class PointSummary:
    """Ship-from points ready to draw.

    ``points`` has one row per marker: lat, lon, shipments, sellers, networks, network (the
    network with most shipments there, or None), names (up to five seller names, most
    shipments first) and more (sellers not named). ``cell_deg`` is None when each unique
    coordinate is its own marker, else the grid cell size the points were binned to.
    """

    points: pd.DataFrame
    n_locations: int
    n_skipped: int
    cell_deg: float | None


def grid_cell(lat: np.ndarray, lon: np.ndarray, max_points: int) -> float:
    """The smallest cell size in GRID_STEPS_DEG that bins the points into <= max_points cells."""
    for cell in GRID_STEPS_DEG:
        y, x = np.floor(lat / cell).astype(np.int64), np.floor(lon / cell).astype(np.int64)
        if len(pd.unique(y * 1_000_000_000 + x)) <= max_points:  # hashing: no sort
            return cell
    return GRID_STEPS_DEG[-1]


def points_payload(summary: PointSummary) -> dict[str, Any]:
    """Column-wise JSON payload for the points layer (names and networks as table indexes)."""
    pts = summary.points
    network_ids = sorted({n for n in pts["network"] if n is not None})
    network_index = {n: i for i, n in enumerate(network_ids)}
    name_list = sorted({name for names in pts["names"] for name in names})
    name_index = {n: i for i, n in enumerate(name_list)}
    return {
        "networks": network_ids,
        "colours": [network_colour(n) for n in network_ids],
        "unlinked": UNLINKED_COLOUR,
        "names": name_list,
        "grid": summary.cell_deg,
        "lat": pts["lat"].tolist(),
        "lon": pts["lon"].tolist(),
        "shipments": [int(v) for v in pts["shipments"]],
        "sellers": [int(v) for v in pts["sellers"]],
        "nnet": [int(v) for v in pts["networks"]],
        "net": [-1 if n is None else network_index[n] for n in pts["network"]],
        "who": [[name_index[n] for n in names] for names in pts["names"]],
        "more": [int(v) for v in pts["more"]],
    }


# -- sites and locations ----------------------------------------------------------------------


def hull_rings(hull: Any) -> list[list[list[list[float]]]]:
    """A shapely Polygon / MultiPolygon as Leaflet polygons ([[lat, lon], ...] rings)."""
    kind = getattr(hull, "geom_type", None)
    if kind == "Polygon":
        polygons = [hull]
    elif kind == "MultiPolygon":
        polygons = list(hull.geoms)
    else:  # None, NaN, a point or a line: the radius circle stands alone
        return []
    out = []
    for polygon in polygons:
        if polygon.is_empty:
            continue
        rings = [polygon.exterior, *polygon.interiors]
        # [lat, lon] to 1e-6 degree, a whole ring at once
        out.append([np.round(shapely.get_coordinates(r)[:, ::-1], 6).tolist() for r in rings])
    return out


# the columns a site record is made of (those after n_sellers may be missing)
SITE_FIELDS = ("site_id", "rank", "score", "label", "radius_m", "sellers", "n_shipments",
               "n_sellers", "hull", "n_networks", "place", "province", "brands")  # fmt: skip


def site_records(sites: pd.DataFrame, names: dict[str, str]) -> list[dict[str, Any]]:
    """One JSON-ready record per site with a valid position, in rank order."""
    lat, lon, valid = coordinates(sites)
    keep = valid.to_numpy()
    rows = sites.loc[keep, [c for c in SITE_FIELDS if c in sites]].to_dict("records")
    records = []
    for row, y, x in zip(rows, _rounded(lat[keep]), _rounded(lon[keep]), strict=True):
        rank = number(row["rank"])
        score = number(row["score"])
        label = text(row["label"])
        hub = label == "hub"
        seller_names = [names.get(s, s) for s in text_list(row["sellers"])]
        records.append(
            {
                "id": text(row["site_id"]),
                "rank": None if rank is None else int(rank),
                "label": label,
                "score": None if score is None else round(score, 1),
                "colour": HUB_COLOUR if hub else score_colour(score),
                "hub": hub,
                "lat": y,
                "lon": x,
                "radius_m": number(row["radius_m"]) or 0.0,
                "hull": hull_rings(row.get("hull")),
                "shipments": count(row["n_shipments"]),
                "sellers": count(row["n_sellers"]),
                "networks": count(row.get("n_networks")),
                "place": text(row.get("place")),
                "province": text(row.get("province")),
                "brands": text_list(row.get("brands")),
                "names": seller_names[:MAX_NAMES_PER_SITE],
                "more": max(0, len(seller_names) - MAX_NAMES_PER_SITE),
            }
        )
    records.sort(key=lambda r: (r["rank"] is None, r["rank"] or 0, r["id"] or ""))
    return records


def _rounded(values: pd.Series) -> list[float]:
    return [round(v, 6) for v in values.tolist()]


def location_payload(locations: pd.DataFrame, names: dict[str, str]) -> dict[str, Any]:
    """Column-wise JSON payload of the located warehouse / return / registered addresses.

    Kinds and sellers are indexes into their tables (tens of thousands of addresses share a
    few kinds and their sellers); ``cls``, the CSS class of each kind, comes from a fixed
    list, never from the data itself."""
    lat, lon, valid = coordinates(locations)
    keep = valid.to_numpy()
    rows = locations[keep]
    kind = [text(k) or "" for k in rows["kind"].tolist()]
    seller = [text(s) or "" for s in rows["seller_id"].tolist()]
    kinds = list(dict.fromkeys(kind))
    sellers = list(dict.fromkeys(seller))
    kind_index = {k: i for i, k in enumerate(kinds)}
    seller_index = {s: i for i, s in enumerate(sellers)}
    return {
        "kinds": kinds,
        "grid": None,  # one ring per address (see workbench.maps._addresses for cells)
        "cls": [k if k in LOCATION_COLOURS else "other" for k in kinds],
        "colours": [LOCATION_COLOURS.get(k, UNLINKED_COLOUR) for k in kinds],
        "seller_ids": sellers,
        "seller_names": [names.get(s, s) for s in sellers],
        "lat": _rounded(lat[keep]),
        "lon": _rounded(lon[keep]),
        "kind": [kind_index[k] for k in kind],
        "seller": [seller_index[s] for s in seller],
        "address": [text(a) for a in rows["address"].tolist()],
    }


def bounds(
    points: pd.DataFrame, sites: list[dict[str, Any]], locations: dict[str, Any] | None
) -> list[list[float]] | None:
    """[[south, west], [north, east]] around everything drawn (site circles included);
    ``locations`` is a :func:`location_payload`."""
    lats: list[float] = [*points["lat"], *(locations["lat"] if locations else [])]
    lons: list[float] = [*points["lon"], *(locations["lon"] if locations else [])]
    for site in sites:
        dlat = site["radius_m"] / 111_320
        dlon = dlat / max(math.cos(math.radians(site["lat"])), 0.01)
        lats += [site["lat"] - dlat, site["lat"] + dlat]
        lons += [site["lon"] - dlon, site["lon"] + dlon]
    if not lats:
        return None
    return [
        [max(min(lats), -85.0), max(min(lons), -180.0)],
        [min(max(lats), 85.0), min(max(lons), 180.0)],
    ]


# -- legend -----------------------------------------------------------------------------------


def legend_sections(
    points: pd.DataFrame,
    has_sites: bool,
    locations: dict[str, Any] | None,
    max_networks: int = 8,
) -> list[dict[str, Any]]:
    """Legend content: titled sections of {label, colour, shape} items and an optional note
    (``locations``: a :func:`location_payload`)."""
    sections: list[dict[str, Any]] = []
    if has_sites:
        low = 0
        items = []
        for bound, colour in SCORE_RAMP:
            label = f"score {low}–{int(bound)}" if math.isfinite(bound) else f"score {low}–100"
            items.append({"label": label, "colour": colour, "shape": "ring"})
            low = int(bound) if math.isfinite(bound) else low
        items.append({"label": "logistics hub", "colour": HUB_COLOUR, "shape": "dash"})
        sections.append({"title": "Candidate sites", "items": items, "note": None})
    if len(points):
        linked = points.dropna(subset=["network"])
        by_network = (linked.groupby("network")["shipments"].sum().reset_index()).sort_values(
            ["shipments", "network"], ascending=[False, True]
        )
        shown = by_network["network"].head(max_networks).tolist()
        items = [{"label": n, "colour": network_colour(n), "shape": "dot"} for n in shown]
        items.append({"label": "unlinked seller", "colour": UNLINKED_COLOUR, "shape": "dot"})
        hidden = len(by_network) - len(shown)
        note = "Circle size: shipments (log scale)."
        if hidden > 0:
            note = f"+{hidden} more networks. " + note
        sections.append({"title": "Ship-from points by network", "items": items, "note": note})
    kinds = sorted(set(locations["cls"])) if locations else []
    if kinds:
        titles = {"warehouse": "warehouse", "return": "return address"}
        titles |= {"registered": "registered address", "other": "other address"}
        items = [
            {
                "label": titles[k],
                "colour": LOCATION_COLOURS.get(k, UNLINKED_COLOUR),
                "shape": "ring",
            }
            for k in kinds
        ]
        sections.append({"title": "Seller addresses", "items": items, "note": None})
    return sections
