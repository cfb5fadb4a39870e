"""Versioned schema of the case file: each migration takes a case one version up.

Data rows carry ``ingest_seq``: the audit entry of the ingest that stored them, whose
``inputs`` name the source file and its SHA-256. (A case pulled from a team store may hold
an ingest that reviews overtook: its rows carry the number it took at its start, which its
entry names as ``rows_seq``; no link or run lies between the two.)

A new case applies every migration in order; an older case applies the ones it lacks, in
one transaction. Never edit a released migration: add the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pandas as pd

from workbench.case._gpkg import create_core, register

SCHEMA_VERSION = 8

_V1_TABLES = """
CREATE TABLE workbench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sellers (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, seller_id TEXT NOT NULL UNIQUE, name TEXT,
  platform TEXT, registered_address TEXT, registered_at TEXT,
  ingest_seq INTEGER);
CREATE TABLE identifiers (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, seller_id TEXT NOT NULL, kind TEXT NOT NULL,
  value TEXT NOT NULL, ingest_seq INTEGER,
  UNIQUE (seller_id, kind, value));
CREATE TABLE shipments (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT, shipment_id TEXT NOT NULL UNIQUE,
  seller_id TEXT NOT NULL, lat REAL, lon REAL, coord_system TEXT, origin_address TEXT,
  shipped_at TEXT, items INTEGER, value_cny REAL, brand TEXT,
  ingest_seq INTEGER);
CREATE TABLE locations (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT, seller_id TEXT NOT NULL,
  kind TEXT NOT NULL, address TEXT, lat REAL, lon REAL, ingest_seq INTEGER,
  UNIQUE (seller_id, kind, address));
CREATE TABLE evidence (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, evidence_id TEXT UNIQUE, seller_id TEXT NOT NULL,
  brand TEXT, kind TEXT, verdict TEXT NOT NULL, date TEXT, file_sha256 TEXT,
  ingest_seq INTEGER);
CREATE TABLE quarantine (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, "table" TEXT NOT NULL, source TEXT NOT NULL,
  source_sha256 TEXT, row_number INTEGER, raw TEXT, reason TEXT NOT NULL, message TEXT,
  ingest_seq INTEGER);
CREATE TABLE networks (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, network_id TEXT, seller_id TEXT NOT NULL UNIQUE,
  network_size INTEGER);
CREATE TABLE network_links (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, network_id TEXT NOT NULL, seller_id TEXT NOT NULL,
  kind TEXT NOT NULL, value TEXT, value_norm TEXT NOT NULL);
CREATE TABLE runs (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  created_at TEXT NOT NULL, actor TEXT NOT NULL, parameters TEXT NOT NULL,
  n_sites INTEGER, audit_seq INTEGER);
CREATE TABLE sites (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT, run_id TEXT NOT NULL,
  site_id TEXT NOT NULL, rank INTEGER, lat REAL, lon REAL, radius_m REAL, score REAL,
  label TEXT, n_shipments INTEGER, n_points INTEGER, n_sellers INTEGER, n_networks INTEGER,
  n_operators INTEGER, n_counterfeit INTEGER, n_genuine INTEGER, value_cny REAL,
  first_shipped TEXT, last_shipped TEXT, context_shipments INTEGER, sellers TEXT,
  networks TEXT, brands TEXT, score_parts TEXT, country TEXT, country_zh TEXT,
  province TEXT, province_zh TEXT, place TEXT, place_zh TEXT,
  UNIQUE (run_id, site_id));
CREATE TABLE site_areas (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POLYGON, run_id TEXT NOT NULL,
  site_id TEXT NOT NULL, lat REAL, lon REAL, UNIQUE (run_id, site_id));
CREATE TABLE reviews (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, site_id TEXT NOT NULL,
  status TEXT NOT NULL, note TEXT, by TEXT NOT NULL, at TEXT NOT NULL, audit_seq INTEGER);
CREATE TABLE audit (
  seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
  parameters TEXT NOT NULL, inputs TEXT NOT NULL, prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL);
"""

_V1_LAYERS: dict[str, tuple[str, str | None]] = {
    "sellers": ("Seller accounts", None),
    "identifiers": ("Identifiers seen on accounts (raw)", None),
    "shipments": ("Waybills at their ship-from point (WGS-84)", "POINT"),
    "locations": ("Warehouse, return and registered addresses", "POINT"),
    "evidence": ("Test buys, complaints and takedowns", None),
    "quarantine": ("Rejected input rows with their reasons", None),
    "networks": ("Seller accounts in linked networks", None),
    "network_links": ("Shared identifiers that link networks", None),
    "runs": ("Clustering runs and their parameters", None),
    "sites": ("Candidate production sites (medoid)", "POINT"),
    "site_areas": ("Candidate production sites (hull)", "POLYGON"),
    "reviews": ("Review decisions on sites (history)", None),
    "audit": ("Append-only audit log, hash-chained", None),
}
_V3_LAYERS: dict[str, tuple[str, str | None]] = {
    "site_points": ("Unique ship-from points of each site, with their waybill counts", None),
    "site_activity": ("Waybills and declared value per site and week", None),
}
_V7_LAYERS: dict[str, tuple[str, str | None]] = {
    "cross_references": ("Matches with earlier cases and partners' lists, explained", None),
}
_V8_LAYERS: dict[str, tuple[str, str | None]] = {
    "events": ("Raids, takedowns and test-buy campaigns, dated, with what they concern", None),
    "event_sellers": ("Seller accounts an event concerns", None),
}
LAYERS = {**_V1_LAYERS, **_V3_LAYERS, **_V7_LAYERS, **_V8_LAYERS}


def _v1(con: sqlite3.Connection) -> None:
    """The first case layout."""
    create_core(con)
    for statement in _V1_TABLES.split(";"):
        if statement.strip():
            con.execute(statement)
    for table, (description, geometry) in _V1_LAYERS.items():
        register(con, table, description, geometry)


def _v2(con: sqlite3.Connection) -> None:
    """Geocoding precision per point (exact, street, district, city, province)."""
    con.execute("ALTER TABLE shipments ADD COLUMN precision TEXT NOT NULL DEFAULT 'exact'")
    con.execute("ALTER TABLE locations ADD COLUMN precision TEXT NOT NULL DEFAULT 'exact'")


def _v3(con: sqlite3.Connection) -> None:
    """Coordinates as given and the repair made per row; site levels, stability, points."""
    for table in ("shipments", "locations"):
        for column in ("source_lat REAL", "source_lon REAL", "repair TEXT"):
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column}")
    con.execute("ALTER TABLE locations ADD COLUMN coord_system TEXT")
    for column in (
        "prefecture TEXT",
        "prefecture_zh TEXT",
        "district TEXT",
        "district_zh TEXT",
        "stability TEXT",
        "stable INTEGER",
        "precision TEXT",
    ):
        con.execute(f"ALTER TABLE sites ADD COLUMN {column}")
    con.execute(
        "CREATE TABLE site_points (fid INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, "
        "site_id TEXT NOT NULL, lat REAL NOT NULL, lon REAL NOT NULL, n_shipments INTEGER)"
    )
    con.execute("CREATE INDEX site_points_site ON site_points (run_id, site_id)")
    con.execute(
        "CREATE TABLE site_activity (fid INTEGER PRIMARY KEY AUTOINCREMENT, "
        "run_id TEXT NOT NULL, site_id TEXT NOT NULL, week TEXT NOT NULL, "
        "n_shipments INTEGER NOT NULL, value_cny REAL)"
    )
    con.execute("CREATE INDEX site_activity_site ON site_activity (run_id, site_id)")
    for table, (description, geometry) in _V3_LAYERS.items():
        register(con, table, description, geometry)


def _v4(con: sqlite3.Connection) -> None:
    """Audit entries record the state (SHA-256) of the tables their step wrote; the input
    tables are hashed per ingest, found through an index on ``ingest_seq``."""
    con.execute("ALTER TABLE audit ADD COLUMN state TEXT")
    # a migration names its tables itself: it must do the same thing whatever comes later
    for table in ("sellers", "identifiers", "shipments", "evidence", "locations", "quarantine"):
        con.execute(f'CREATE INDEX "{table}_ingest_seq" ON "{table}" (ingest_seq)')


_V5_TABLES = """
CREATE TABLE waybill_parts (
  part_id INTEGER PRIMARY KEY AUTOINCREMENT, file TEXT NOT NULL UNIQUE, ingest_seq INTEGER,
  rows INTEGER NOT NULL, sha256 TEXT NOT NULL, min_lat REAL, min_lon REAL, max_lat REAL,
  max_lon REAL, created_at TEXT NOT NULL);
CREATE INDEX waybill_parts_ingest_seq ON waybill_parts (ingest_seq);
CREATE TABLE waybill_deletes (part_id INTEGER PRIMARY KEY, rows BLOB NOT NULL);
"""
_MOVE_ROWS = 250_000


def _v5(con: sqlite3.Connection) -> None:
    """Waybills move out of the GeoPackage into GeoParquet parts beside it (listed in
    ``waybill_parts``, replaced rows in ``waybill_deletes``); the other point and polygon
    layers get the GeoPackage R-tree spatial index."""
    from workbench.case import _parts
    from workbench.case._gpkg import add_rtree
    from workbench.case._io import read_frame

    for statement in _V5_TABLES.split(";"):
        if statement.strip():
            con.execute(statement)
    register(con, "waybill_parts", "Waybill files (GeoParquet) beside the case", None)
    columns = [r[1] for r in con.execute('PRAGMA table_info("shipments")')]
    listed = ", ".join(f'"{c}"' for c in columns if c not in {"geom"})

    def chunks():  # type: ignore[no-untyped-def]
        last = 0
        while True:
            frame = read_frame(
                con,
                f"SELECT {listed} FROM shipments WHERE fid > ? ORDER BY fid LIMIT ?",  # noqa: S608
                (last, _MOVE_ROWS),
            )
            if frame.empty:
                return
            last = int(frame["fid"].iloc[-1])
            for seq, group in frame.groupby("ingest_seq", dropna=False, sort=False):
                yield (None if pd.isna(seq) else int(seq)), group

    _parts.move_rows_in(con, chunks())
    con.execute("DROP TABLE shipments")
    for meta in ("gpkg_geometry_columns", "gpkg_contents"):
        con.execute(f"DELETE FROM {meta} WHERE table_name = 'shipments'")  # noqa: S608
    for table, column in (("locations", "geom"), ("sites", "geom"), ("site_areas", "geom")):
        add_rtree(con, table, column)


def _v6(con: sqlite3.Connection) -> None:
    """Each waybill part gets a companion of counts per place, seller, brand and day
    (``waybill_cells``), written here for the parts already stored."""
    from workbench.case import _parts

    con.execute(
        "CREATE TABLE waybill_cells (part_id INTEGER PRIMARY KEY, file TEXT NOT NULL UNIQUE, "
        "sha256 TEXT NOT NULL)"
    )
    _parts.add_companions(con)


_V7_TABLES = """
CREATE TABLE cross_references (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, match TEXT NOT NULL, kind TEXT, value_norm TEXT,
  seller_id TEXT, network_id TEXT, site_id TEXT, source TEXT NOT NULL,
  source_name TEXT NOT NULL, source_path TEXT, source_hash TEXT, other_seller_ids TEXT,
  n_other_sellers INTEGER, other_network_id TEXT, other_site_ids TEXT, review_status TEXT,
  brand TEXT, verdict TEXT, verdict_date TEXT, explanation TEXT NOT NULL,
  run_at TEXT NOT NULL, audit_seq INTEGER);
CREATE INDEX cross_references_seller ON cross_references (seller_id);
CREATE INDEX cross_references_source ON cross_references (source, source_name);
CREATE TABLE xref_index (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, part TEXT NOT NULL UNIQUE, scheme TEXT NOT NULL,
  basis TEXT NOT NULL, n_rows INTEGER NOT NULL, data BLOB NOT NULL);
"""


def _v7(con: sqlite3.Connection) -> None:
    """Matches with earlier cases and partners' exchange lists (``cross_references``), and
    the case's own identifiers as fingerprints (``xref_index``: Arrow IPC blobs, read by
    later cases that cross-reference against this one)."""
    for statement in _V7_TABLES.split(";"):
        if statement.strip():
            con.execute(statement)
    for table, (description, geometry) in _V7_LAYERS.items():
        register(con, table, description, geometry)


_V8_TABLES = """
CREATE TABLE events (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  date TEXT NOT NULL, run_id TEXT, site_id TEXT, lat REAL, lon REAL, network_id TEXT,
  note TEXT NOT NULL, by TEXT NOT NULL, at TEXT NOT NULL, audit_seq INTEGER);
CREATE TABLE event_sellers (
  fid INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, seller_id TEXT NOT NULL,
  UNIQUE (event_id, seller_id));
"""


def _v8(con: sqlite3.Connection) -> None:
    """Dated events of the investigation (``events``: raids, takedowns, test-buy campaigns),
    each with the site (and where it was), the network and the accounts
    (``event_sellers``) it concerns."""
    for statement in _V8_TABLES.split(";"):
        if statement.strip():
            con.execute(statement)
    for table, (description, geometry) in _V8_LAYERS.items():
        register(con, table, description, geometry)


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _v1, 2: _v2, 3: _v3, 4: _v4, 5: _v5, 6: _v6, 7: _v7, 8: _v8,
}  # fmt: skip
assert max(MIGRATIONS) == SCHEMA_VERSION


def schema_version(con: sqlite3.Connection) -> int:
    """The case's schema version; 0 for an empty database."""
    has_meta = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'workbench_meta'"
    ).fetchone()
    if not has_meta:
        return 0
    row = con.execute("SELECT value FROM workbench_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: sqlite3.Connection, current: int, target: int = SCHEMA_VERSION) -> None:
    """Apply migrations ``current + 1 .. target`` (caller holds the write transaction)."""
    for version in range(current + 1, target + 1):
        MIGRATIONS[version](con)
        con.execute(
            "INSERT OR REPLACE INTO workbench_meta VALUES ('schema_version', ?)", (str(version),)
        )
