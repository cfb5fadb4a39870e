"""The GeoPackage layout of a case file: core tables, layer registration, geometry blobs.

A GeoPackage is SQLite with a few bookkeeping tables (``gpkg_spatial_ref_sys``,
``gpkg_contents``, ``gpkg_geometry_columns``) and geometries stored as "GeoPackage binary":
an 8-byte header (``GP``, version 0, flags, srs id) followed by little-endian WKB. Writing
the blobs ourselves (vectorised with numpy) keeps every table of a step inside one SQLite
transaction, which GDAL-based writers cannot offer.
"""

from __future__ import annotations

import functools
import sqlite3
import struct
from collections.abc import Iterable, Sequence

import numpy as np
import shapely

APPLICATION_ID = 0x47504B47  # "GPKG"
GPKG_VERSION = 10300  # GeoPackage 1.3: what GDAL 3.6 (Debian 12) reads without warning
WGS84 = 4326
_WGS84_WKT = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,'
    'AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,'
    'AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],'
    'AUTHORITY["EPSG","4326"]]'
)
_CORE = """
CREATE TABLE gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, description TEXT);
CREATE TABLE gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id));
CREATE TABLE gpkg_geometry_columns (
  table_name TEXT NOT NULL, column_name TEXT NOT NULL, geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT uk_gc_table_name UNIQUE (table_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id));
"""
_POINT_DTYPE = np.dtype(
    [("magic", "S2"), ("version", "u1"), ("flags", "u1"), ("srs_id", "<i4"),
     ("byte_order", "u1"), ("wkb_type", "<u4"), ("x", "<f8"), ("y", "<f8")]
)  # fmt: skip
_HEADER = struct.Struct("<2sBBi")
_FLAGS_LE_NO_ENVELOPE = 0b0000_0001
_POINT_WKB = struct.Struct("<BIdd")  # byte order, geometry type, x, y
_FLAGS_EMPTY = 0b0001_0000


def create_core(con: sqlite3.Connection) -> None:
    """Make an empty SQLite database a GeoPackage: pragmas, core tables, WGS-84."""
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {GPKG_VERSION}")
    for statement in _CORE.split(";"):  # not executescript: it would commit the transaction
        if statement.strip():
            con.execute(statement)
    con.executemany(
        "INSERT INTO gpkg_spatial_ref_sys VALUES (?, ?, ?, ?, ?, ?)",
        [
            ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", None),
            ("Undefined geographic SRS", 0, "NONE", 0, "undefined", None),
            ("WGS 84 geodetic", WGS84, "EPSG", WGS84, _WGS84_WKT, "longitude/latitude"),
        ],
    )


def register(
    con: sqlite3.Connection, table: str, description: str, geometry: str | None = None
) -> None:
    """List a table in gpkg_contents: a feature layer when ``geometry`` (POINT, POLYGON)."""
    kind = "features" if geometry else "attributes"
    con.execute(
        "INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id) "
        "VALUES (?, ?, ?, ?, ?)",
        (table, kind, table, description, WGS84 if geometry else None),
    )
    if geometry:
        con.execute(
            "INSERT INTO gpkg_geometry_columns VALUES (?, 'geom', ?, ?, 0, 0)",
            (table, geometry, WGS84),
        )


def touch(con: sqlite3.Connection, tables: Iterable[str]) -> None:
    """Refresh last_change and the extent of layers after a write."""
    for table in tables:
        extent = None
        is_layer = con.execute(
            "SELECT 1 FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
        if is_layer:
            extent = con.execute(
                f'SELECT min(lon), min(lat), max(lon), max(lat) FROM "{table}"'  # noqa: S608
            ).fetchone()
        con.execute(
            "UPDATE gpkg_contents SET last_change = strftime('%Y-%m-%dT%H:%M:%fZ','now'), "
            "min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
            (*(extent or (None,) * 4), table),
        )


def point_records(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """GeoPackage binary points as fixed-size numpy records (29 bytes each)."""
    rows = np.zeros(len(lon), dtype=_POINT_DTYPE)
    rows["magic"] = b"GP"
    rows["flags"] = _FLAGS_LE_NO_ENVELOPE
    rows["srs_id"] = WGS84
    rows["byte_order"] = 1
    rows["wkb_type"] = 1  # Point
    rows["x"], rows["y"] = lon, lat
    return rows


def point_blobs(lon: np.ndarray, lat: np.ndarray) -> list[bytes | None]:
    """GeoPackage binary points for WGS-84 coordinates; None where a coordinate is NaN."""
    n = len(lon)
    buffer = memoryview(point_records(lon, lat).tobytes())
    size = _POINT_DTYPE.itemsize
    blobs: list[bytes | None] = [bytes(buffer[i * size : (i + 1) * size]) for i in range(n)]
    missing = np.flatnonzero(np.isnan(lon) | np.isnan(lat))
    for i in missing:
        blobs[i] = None
    return blobs


def geometry_blob(geometry: shapely.Geometry | None) -> bytes | None:
    """GeoPackage binary of any shapely geometry (used for the few site polygons)."""
    if geometry is None:
        return None
    flags = _FLAGS_LE_NO_ENVELOPE | (_FLAGS_EMPTY if geometry.is_empty else 0)
    wkb: bytes = shapely.to_wkb(geometry, byte_order=1)
    return _HEADER.pack(b"GP", 0, flags, WGS84) + wkb


def parse_geometry(blob: bytes | None) -> shapely.Geometry | None:
    """Shapely geometry from GeoPackage binary (any envelope, either byte order)."""
    if blob is None:
        return None
    flags = blob[3]
    envelope_doubles = _ENVELOPE_DOUBLES[(flags >> 1) & 0b111]
    geometry: shapely.Geometry = shapely.from_wkb(blob[8 + 8 * envelope_doubles :])
    return geometry


def parse_geometries(blobs: Sequence[bytes | None]) -> np.ndarray:
    """:func:`parse_geometry` of many blobs, in one call to shapely (an array of objects)."""
    wkb = [
        None if b is None else b[8 + 8 * _ENVELOPE_DOUBLES[(b[3] >> 1) & 0b111] :] for b in blobs
    ]
    geometries: np.ndarray = shapely.from_wkb(np.array(wkb, dtype=object))
    return geometries


_ENVELOPE_DOUBLES = {0: 0, 1: 4, 2: 6, 3: 6, 4: 8}


# -- the R-tree spatial index (GeoPackage extension gpkg_rtree_index) ---------------------
_RTREE_EXTENSION = "http://www.geopackage.org/spec130/#extension_rtree"
_EXTENSIONS = """
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT, column_name TEXT, extension_name TEXT NOT NULL, definition TEXT NOT NULL,
  scope TEXT NOT NULL, CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name))
"""
# the trigger set of GeoPackage 1.3 (the version the case declares), with {t}, {c}, {i}
_RTREE_TRIGGERS = (
    """CREATE TRIGGER "rtree_{t}_{c}_insert" AFTER INSERT ON "{t}"
WHEN (new."{c}" NOT NULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update1" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update2" AFTER UPDATE OF "{c}" ON "{t}"
WHEN OLD."{i}" = NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update3" AFTER UPDATE ON "{t}"
WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" NOTNULL AND NOT ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}";
  INSERT OR REPLACE INTO "rtree_{t}_{c}" VALUES (NEW."{i}", ST_MinX(NEW."{c}"),
  ST_MaxX(NEW."{c}"), ST_MinY(NEW."{c}"), ST_MaxY(NEW."{c}")); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_update4" AFTER UPDATE ON "{t}"
WHEN OLD."{i}" != NEW."{i}" AND (NEW."{c}" ISNULL OR ST_IsEmpty(NEW."{c}"))
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id IN (OLD."{i}", NEW."{i}"); END""",
    """CREATE TRIGGER "rtree_{t}_{c}_delete" AFTER DELETE ON "{t}" WHEN old."{c}" NOT NULL
BEGIN DELETE FROM "rtree_{t}_{c}" WHERE id = OLD."{i}"; END""",
)


@functools.lru_cache(maxsize=8)  # the R-tree triggers ask five times about each new row
def _bounds(blob: bytes | None) -> tuple[float, float, float, float] | None:
    """(min x, max x, min y, max y) of a GeoPackage binary geometry; None when empty."""
    if blob is None or blob[3] & _FLAGS_EMPTY:
        return None
    if len(blob) == _POINT_DTYPE.itemsize and blob[3] == _FLAGS_LE_NO_ENVELOPE:
        order, kind, x, y = _POINT_WKB.unpack_from(blob, _HEADER.size)
        if order == 1 and kind == 1 and x == x and y == y:  # a point as point_records writes it
            return x, x, y, y
    geometry = parse_geometry(blob)
    if geometry is None or geometry.is_empty:
        return None
    min_x, min_y, max_x, max_y = shapely.bounds(geometry).tolist()
    return min_x, max_x, min_y, max_y


def register_functions(con: sqlite3.Connection) -> None:
    """The SQL functions the R-tree triggers call (as GDAL and SpatiaLite provide them)."""
    con.create_function("ST_IsEmpty", 1, lambda b: int(_bounds(b) is None), deterministic=True)
    for name, k in (("ST_MinX", 0), ("ST_MaxX", 1), ("ST_MinY", 2), ("ST_MaxY", 3)):
        con.create_function(
            name, 1, lambda b, k=k: None if (e := _bounds(b)) is None else e[k], deterministic=True
        )


def add_rtree(con: sqlite3.Connection, table: str, column: str, id_column: str = "fid") -> None:
    """Give a layer the standard R-tree spatial index, filled and kept up by triggers."""
    con.execute(_EXTENSIONS)
    con.execute(
        f'CREATE VIRTUAL TABLE "rtree_{table}_{column}" USING rtree(id, minx, maxx, miny, maxy)'
    )
    con.execute(
        f'INSERT INTO "rtree_{table}_{column}" SELECT "{id_column}", ST_MinX("{column}"), '  # noqa: S608
        f'ST_MaxX("{column}"), ST_MinY("{column}"), ST_MaxY("{column}") FROM "{table}" '
        f'WHERE "{column}" NOT NULL AND NOT ST_IsEmpty("{column}")'
    )
    for trigger in _RTREE_TRIGGERS:
        con.execute(trigger.format(t=table, c=column, i=id_column))
    con.execute(
        "INSERT INTO gpkg_extensions VALUES (?, ?, 'gpkg_rtree_index', ?, 'write-only')",
        (table, column, _RTREE_EXTENSION),
    )
