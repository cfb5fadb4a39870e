"""Sites and waybills for GIS tools: GeoJSON (RFC 7946), KML for Google Earth, GeoPackage.

Every string from the data goes through a real writer (``json``, ElementTree, SQLite
parameters), never through string concatenation. KML descriptions are shown by Google
Earth as HTML, so their text is HTML-escaped before the XML writer escapes it once more:
a seller called ``<img src=x onerror=alert(1)>`` shows up as exactly that text.
"""

from __future__ import annotations

import html
import json
import math
import os
import re
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from workbench.case._gpkg import create_core, geometry_blob, point_blobs, register

__all__ = ["SITE_FIELDS", "jsonable", "write_geojson", "write_gpkg", "write_kml", "xml_text"]

KML_NS = "http://www.opengis.net/kml/2.2"
SITE_FIELDS = (
    "site_id", "rank", "status", "label", "score", "lat", "lon", "radius_m", "n_shipments",
    "n_sellers", "n_networks", "n_operators", "n_counterfeit", "n_genuine", "value_cny",
    "first_shipped", "last_shipped", "brands", "networks", "sellers", "score_parts",
    "country", "country_zh", "province", "province_zh", "prefecture", "prefecture_zh",
    "district", "district_zh", "place", "place_zh", "run_id",
)  # fmt: skip
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_DECIMALS = 6  # about 0.1 m: more would claim a precision no waybill has


def xml_text(value: Any) -> str:
    """A string XML 1.0 can hold: control characters become U+FFFD."""
    return _XML_INVALID.sub("\ufffd", "" if value is None else str(value))


def jsonable(value: Any) -> Any:
    """A cell as a JSON value: numpy scalars to Python, NaN/NaT to None, dates as ISO text."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat().removesuffix("T00:00:00")
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None  # no float noise in the files
    return value


def _site_properties(row: pd.Series, fields: Sequence[str]) -> dict[str, Any]:
    return {f: jsonable(row[f]) for f in fields if f in row.index}


def _rounded(geometry: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON of ``geometry`` at the export precision, rings wound as RFC 7946 §3.1.6 asks
    (outer rings counter-clockwise, holes clockwise)."""
    rounded = shapely.set_precision(geometry, 10**-_DECIMALS)
    mapping: dict[str, Any] = shapely.geometry.mapping(shapely.orient_polygons(rounded))
    return json.loads(json.dumps(mapping))  # tuples to lists


def write_geojson(
    sites: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    extra: Mapping[str, Any] | None = None,
    fields: Sequence[str] = SITE_FIELDS,
) -> Path:
    """One Point feature per site (``feature: "site"``) and one Polygon per hull (``"area"``),
    with the site's ``fields`` (those it has) and ``extra`` as properties."""
    features = []
    for _, row in sites.iterrows():
        props = {**_site_properties(row, fields), **jsonable(dict(extra or {}))}
        point = {"type": "Point", "coordinates": [round(row["lon"], 6), round(row["lat"], 6)]}
        features.append(
            {"type": "Feature", "geometry": point, "properties": {"feature": "site", **props}}
        )
        hull = row.get("hull")
        if hull is not None and not getattr(hull, "is_empty", True):
            features.append(
                {
                    "type": "Feature",
                    "geometry": _rounded(hull),
                    "properties": {"feature": "area", "site_id": props["site_id"]},
                }
            )
    target = Path(path)
    collection = {"type": "FeatureCollection", "features": features}
    target.write_text(json.dumps(collection, ensure_ascii=False, indent=1), encoding="utf-8")
    return target


def _coords(ring: Sequence[tuple[float, ...]]) -> str:
    return " ".join(f"{x:.{_DECIMALS}f},{y:.{_DECIMALS}f},0" for x, y, *_ in ring)


def _kml_geometry(parent: ET.Element, lon: float, lat: float, hull: Any) -> None:
    multi = ET.SubElement(parent, f"{{{KML_NS}}}MultiGeometry")
    point = ET.SubElement(multi, f"{{{KML_NS}}}Point")
    ET.SubElement(point, f"{{{KML_NS}}}coordinates").text = _coords([(lon, lat)])
    polygons = getattr(hull, "geoms", [hull]) if hull is not None else []
    for polygon in polygons:
        if polygon is None or polygon.is_empty or polygon.geom_type != "Polygon":
            continue
        shape = ET.SubElement(multi, f"{{{KML_NS}}}Polygon")
        for tag, ring in [("outerBoundaryIs", polygon.exterior)] + [
            ("innerBoundaryIs", r) for r in polygon.interiors
        ]:
            boundary = ET.SubElement(shape, f"{{{KML_NS}}}{tag}")
            ring_element = ET.SubElement(boundary, f"{{{KML_NS}}}LinearRing")
            ET.SubElement(ring_element, f"{{{KML_NS}}}coordinates").text = _coords(ring.coords)


def write_kml(
    sites: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    title: str,
    names: Mapping[str, str],
    descriptions: Mapping[str, Sequence[tuple[str, str]]],
) -> Path:
    """A KML document with one Placemark per site: name, description, point and hull.

    ``names`` maps site_id to the Placemark name; ``descriptions`` to (label, text) lines
    shown in the Google Earth balloon (escaped here) and kept as ExtendedData.
    """
    ET.register_namespace("", KML_NS)
    root = ET.Element(f"{{{KML_NS}}}kml")
    doc = ET.SubElement(root, f"{{{KML_NS}}}Document")
    ET.SubElement(doc, f"{{{KML_NS}}}name").text = xml_text(title)
    style = ET.SubElement(doc, f"{{{KML_NS}}}Style", id="site")
    line = ET.SubElement(style, f"{{{KML_NS}}}LineStyle")
    ET.SubElement(line, f"{{{KML_NS}}}color").text = "ff1d1d7a"  # aabbggrr
    ET.SubElement(line, f"{{{KML_NS}}}width").text = "2"
    poly = ET.SubElement(style, f"{{{KML_NS}}}PolyStyle")
    ET.SubElement(poly, f"{{{KML_NS}}}color").text = "401d1d7a"
    for _, row in sites.iterrows():
        site_id = str(row["site_id"])
        mark = ET.SubElement(doc, f"{{{KML_NS}}}Placemark", id=f"site-{_xml_id(site_id)}")
        ET.SubElement(mark, f"{{{KML_NS}}}name").text = xml_text(names.get(site_id, site_id))
        lines = descriptions.get(site_id, ())
        balloon = "<br>".join(
            f"<b>{html.escape(xml_text(k))}</b>: {html.escape(xml_text(v))}" for k, v in lines
        )
        ET.SubElement(mark, f"{{{KML_NS}}}description").text = balloon
        ET.SubElement(mark, f"{{{KML_NS}}}styleUrl").text = "#site"
        data = ET.SubElement(mark, f"{{{KML_NS}}}ExtendedData")
        for key, value in _site_properties(row, SITE_FIELDS).items():
            item = ET.SubElement(data, f"{{{KML_NS}}}Data", name=key)
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            ET.SubElement(item, f"{{{KML_NS}}}value").text = xml_text(text)
        _kml_geometry(mark, float(row["lon"]), float(row["lat"]), row.get("hull"))
    target = Path(path)
    ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)
    return target


def _xml_id(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value) or "site"


# -- GeoPackage ------------------------------------------------------------------------------
def _sql_type(column: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_integer_dtype(column):
        return "INTEGER"
    if pd.api.types.is_float_dtype(column):
        return "REAL"
    return "TEXT"


def _sql_values(column: pd.Series) -> list[Any]:
    if pd.api.types.is_datetime64_any_dtype(column):
        column = column.dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
    out = []
    for value in column.astype(object):
        value = jsonable(value)
        if isinstance(value, (dict, list)):
            value = json.dumps(value, ensure_ascii=False)
        out.append(value)
    return out


def _write_layer(
    con: sqlite3.Connection,
    name: str,
    frame: pd.DataFrame,
    description: str,
    geometry: str | None,
    blobs: list[bytes | None] | None,
    bounds: tuple[float, float, float, float] | None,
) -> None:
    columns = [c for c in frame.columns if c not in {"geometry", "hull", "geom", "fid"}]
    decl = ", ".join(f'"{c}" {_sql_type(frame[c])}' for c in columns)
    geom_decl = f"geom {geometry}, " if geometry else ""
    con.execute(f'CREATE TABLE "{name}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, {geom_decl}{decl})')
    register(con, name, description, geometry)
    names = (['"geom"'] if geometry else []) + [f'"{c}"' for c in columns]
    values = [_sql_values(frame[c]) for c in columns]
    if geometry:
        values.insert(0, blobs or [None] * len(frame))
    marks = ", ".join("?" for _ in names)
    con.executemany(
        f'INSERT INTO "{name}" ({", ".join(names)}) VALUES ({marks})',  # noqa: S608
        list(zip(*values, strict=True)) if values else [],
    )
    if bounds is not None:
        con.execute(
            "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? "
            "WHERE table_name = ?",
            (*bounds, name),
        )


def _points(frame: pd.DataFrame) -> tuple[list[bytes | None], tuple[float, ...] | None]:
    lon, lat = frame["lon"].to_numpy(float), frame["lat"].to_numpy(float)
    ok = ~(np.isnan(lon) | np.isnan(lat))
    bounds = (lon[ok].min(), lat[ok].min(), lon[ok].max(), lat[ok].max()) if ok.any() else None
    return point_blobs(lon, lat), tuple(float(b) for b in bounds) if bounds else None


def write_gpkg(
    path: str | os.PathLike[str], layers: Mapping[str, tuple[pd.DataFrame, str, str | None]]
) -> Path:
    """A GeoPackage with the given layers: name -> (frame, description, geometry kind).

    Geometry kind ``POINT`` takes ``lon``/``lat`` columns, ``POLYGON`` a ``hull`` column of
    shapely geometries, None makes an attribute table. Written in one SQLite transaction.
    """
    target = Path(path)
    con = sqlite3.connect(target, isolation_level=None)
    try:
        con.execute("BEGIN")
        create_core(con)
        for name, (frame, description, geometry) in layers.items():
            blobs: list[bytes | None] | None = None
            bounds: tuple[float, ...] | None = None
            if geometry == "POINT":
                blobs, bounds = _points(frame)
            elif geometry is not None:
                hulls = list(frame["hull"])
                blobs = [geometry_blob(h) for h in hulls]
                good = [h for h in hulls if h is not None and not h.is_empty]
                bounds = tuple(shapely.total_bounds(good)) if good else None
            _write_layer(
                con,
                name,
                frame,
                description,
                geometry,
                blobs,
                bounds,  # type: ignore[arg-type]
            )
        con.execute("COMMIT")
    finally:
        con.close()
    return target
