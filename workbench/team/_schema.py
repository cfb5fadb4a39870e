"""Versioned schema of the team store on PostgreSQL + PostGIS.

Layout: every case is a row of ``cases`` and every data row carries its ``case_id``, in one
set of tables (not a schema per case). One set of tables means one migration and one set
of grants for every case the team holds (a schema per case would need both repeated for
each case, and a role granted on one case's schema would silently miss the next case),
queries and spatial indexes that span the team's cases (cross-references, a map of every
site), and a case that is one ``WHERE case_id = ...`` away.

The curated tables keep the GeoPackage's columns one for one (``fid`` included, the
GeoPackage geometry blob as ``gpkg_geom``), so a case pulled back is the same rows and the
audit log's digests of them still hold; next to them PostGIS columns (``geom``, generated
from the coordinates or the blob, with GiST indexes) serve spatial queries. Waybills are
the table ``waybills`` (bulk-loaded with COPY, a ``geometry(Point, 4326)`` column), and
the GeoParquet files they came from are kept byte for byte in ``waybill_files``.

Rights are database roles (group roles; users are granted them):
``workbench_viewer`` reads; ``workbench_review`` also inserts reviews; ``workbench_ingest``
also creates cases (a push) and writes the input tables; ``workbench_export`` reads and
records exports. Every writer appends to ``audit`` (the entry's actor must be the connected
role); nobody updates or deletes a review or an audit entry, whatever the grants; the tables
analysis derives (networks, runs, sites, ...) get rows in an open case only with its push.

Version 2 opens an open case to the analyst's steps: ``workbench_ingest`` ingests into it
(replacing keyed rows, marking replaced waybills) and stores networks and site runs, each
inside an audited step: the derived tables take rows of an open case only from a
transaction that holds the case's audit-chain lock (:func:`workbench.team._audit.lock_chain`),
which every audited step takes before it writes and keeps until its entry is in. An ingest
streams its waybill rows into ``waybills`` while the file is still being read, before
they are sorted into parts, so those rows carry their ``ingest_seq`` but no ``part_id`` /
``row_number`` (a push's rows have them): the parts' files and ``waybill_deletes`` are
what names a waybill's place, as in a case file. Loading 1M rows measured (2 cores): the
foreign key to ``cases`` 6.9 s (a statement-level check of the cases instead, 2.4 s: it
keeps every row for the check), a GiST index kept row by row 5.7 s, an index on sellers
4 s, the primary key 1.5 s, on top of 2 s for the rows; so ``waybills`` gets BRIN indexes
(its rows arrive a case and an ingest at a time, in the file's order) and no check of
its ``case_id``: only ``workbench_ingest`` writes it, and a row of no case is in none.

Version 3 lets reviewers (and the analyst) record events (raids, takedowns) in an open
case, inside an audited step; the database writes the connected role as the recorder, and
nobody updates or deletes an event. The analyst may replace the case's cross-references
(a new cross-reference against earlier cases).

Migrations are applied in order in one transaction; never edit a released one: add the next.
"""

from __future__ import annotations

from typing import Any

from workbench.errors import CaseVersionError

__all__ = ["ROLES", "SCHEMA_VERSION", "TABLES", "migrate", "schema_version"]

SCHEMA_VERSION = 3
ROLES = ("workbench_viewer", "workbench_review", "workbench_ingest", "workbench_export")
_LOCK = 1919  # advisory lock key of migrations

# -- version 1: the case tables, as the GeoPackage (schema 8) has them --------------------
# column: SQLite type (INTEGER, REAL, TEXT, BLOB; GEOM = the GeoPackage blob, gpkg_geom)
_V1_COLUMNS: dict[str, str] = {
    "sellers": "fid INTEGER, seller_id TEXT, name TEXT, platform TEXT, registered_address "
    "TEXT, registered_at TEXT, ingest_seq INTEGER",
    "identifiers": "fid INTEGER, seller_id TEXT, kind TEXT, value TEXT, ingest_seq INTEGER",
    "locations": "fid INTEGER, geom GEOM, seller_id TEXT, kind TEXT, address TEXT, lat REAL, "
    "lon REAL, ingest_seq INTEGER, precision TEXT, source_lat REAL, source_lon REAL, "
    "repair TEXT, coord_system TEXT",
    "evidence": "fid INTEGER, evidence_id TEXT, seller_id TEXT, brand TEXT, kind TEXT, "
    "verdict TEXT, date TEXT, file_sha256 TEXT, ingest_seq INTEGER",
    "quarantine": "fid INTEGER, table TEXT, source TEXT, source_sha256 TEXT, row_number "
    "INTEGER, raw TEXT, reason TEXT, message TEXT, ingest_seq INTEGER",
    "networks": "fid INTEGER, network_id TEXT, seller_id TEXT, network_size INTEGER",
    "network_links": "fid INTEGER, network_id TEXT, seller_id TEXT, kind TEXT, value TEXT, "
    "value_norm TEXT",
    "runs": "fid INTEGER, run_id TEXT, kind TEXT, created_at TEXT, actor TEXT, parameters "
    "TEXT, n_sites INTEGER, audit_seq INTEGER",
    "sites": "fid INTEGER, geom GEOM, run_id TEXT, site_id TEXT, rank INTEGER, lat REAL, "
    "lon REAL, radius_m REAL, score REAL, label TEXT, n_shipments INTEGER, n_points INTEGER, "
    "n_sellers INTEGER, n_networks INTEGER, n_operators INTEGER, n_counterfeit INTEGER, "
    "n_genuine INTEGER, value_cny REAL, first_shipped TEXT, last_shipped TEXT, "
    "context_shipments INTEGER, sellers TEXT, networks TEXT, brands TEXT, score_parts TEXT, "
    "country TEXT, country_zh TEXT, province TEXT, province_zh TEXT, place TEXT, place_zh "
    "TEXT, prefecture TEXT, prefecture_zh TEXT, district TEXT, district_zh TEXT, stability "
    "TEXT, stable INTEGER, precision TEXT",
    "site_areas": "fid INTEGER, geom GEOM, run_id TEXT, site_id TEXT, lat REAL, lon REAL",
    "site_points": "fid INTEGER, run_id TEXT, site_id TEXT, lat REAL, lon REAL, "
    "n_shipments INTEGER",
    "site_activity": "fid INTEGER, run_id TEXT, site_id TEXT, week TEXT, n_shipments INTEGER, "
    "value_cny REAL",
    "reviews": "fid INTEGER, run_id TEXT, site_id TEXT, status TEXT, note TEXT, by TEXT, "
    "at TEXT, audit_seq INTEGER",
    "cross_references": "fid INTEGER, match TEXT, kind TEXT, value_norm TEXT, seller_id TEXT, "
    "network_id TEXT, site_id TEXT, source TEXT, source_name TEXT, source_path TEXT, "
    "source_hash TEXT, other_seller_ids TEXT, n_other_sellers INTEGER, other_network_id "
    "TEXT, other_site_ids TEXT, review_status TEXT, brand TEXT, verdict TEXT, verdict_date "
    "TEXT, explanation TEXT, run_at TEXT, audit_seq INTEGER",
    "xref_index": "fid INTEGER, part TEXT, scheme TEXT, basis TEXT, n_rows INTEGER, data BLOB",
    "events": "fid INTEGER, event_id TEXT, kind TEXT, date TEXT, run_id TEXT, site_id TEXT, "
    "lat REAL, lon REAL, network_id TEXT, note TEXT, by TEXT, at TEXT, audit_seq INTEGER",
    "event_sellers": "fid INTEGER, event_id TEXT, seller_id TEXT",
    "waybill_parts": "part_id INTEGER, file TEXT, ingest_seq INTEGER, rows INTEGER, sha256 "
    "TEXT, min_lat REAL, min_lon REAL, max_lat REAL, max_lon REAL, created_at TEXT",
    "waybill_deletes": "part_id INTEGER, rows BLOB",
    "waybill_cells": "part_id INTEGER, file TEXT, sha256 TEXT",
    "audit": "seq INTEGER, at TEXT, actor TEXT, action TEXT, parameters TEXT, inputs TEXT, "
    "prev_hash TEXT, hash TEXT, state TEXT",
}
_PG_TYPE = {"INTEGER": "bigint", "REAL": "double precision", "TEXT": "text", "BLOB": "bytea"}
# written in an open case only by a push (while it is loading): what analysis steps derive
_PUSHED_ONLY = (
    "networks", "network_links", "runs", "sites", "site_areas", "site_points", "site_activity",
    "cross_references", "xref_index", "events", "event_sellers", "case_meta",
)  # fmt: skip


def _columns(spec: str) -> list[tuple[str, str]]:
    return [tuple(part.split()) for part in spec.split(", ")]  # type: ignore[misc]


def _table_sql(table: str, spec: str) -> str:
    lines = ["case_id bigint NOT NULL REFERENCES cases (case_id)"]
    for name, kind in _columns(spec):
        if kind == "GEOM":
            lines.append("gpkg_geom bytea")
        else:
            lines.append(f'"{name}" {_PG_TYPE[kind]}')
    key = "seq" if table == "audit" else "part_id" if table.startswith("waybill_") else "fid"
    lines.append(f'PRIMARY KEY (case_id, "{key}")')
    return f'CREATE TABLE "{table}" ({", ".join(lines)});'


_V1_BEFORE = """
CREATE TABLE team_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE cases (
  case_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name text NOT NULL UNIQUE,
  status text NOT NULL DEFAULT 'loading' CHECK (status IN ('loading', 'open')),
  case_schema integer NOT NULL, source text,
  created_by text NOT NULL DEFAULT current_user, created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'));
CREATE TABLE case_meta (
  case_id bigint NOT NULL REFERENCES cases (case_id), key text NOT NULL, value text NOT NULL,
  PRIMARY KEY (case_id, key));
"""

_V1_AFTER = """
-- the GeoPackage blob's geometry: an 8-byte header, an envelope its flags size, then WKB
CREATE FUNCTION workbench_gpkg_geometry(blob bytea) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN blob IS NULL OR (get_byte(blob, 3) & 16) <> 0 THEN NULL
    ELSE ST_SetSRID(ST_GeomFromWKB(substring(blob FROM 9 + (ARRAY[0, 32, 48, 48, 64])[
      ((get_byte(blob, 3) >> 1) & 7) + 1])), 4326) END $$;
ALTER TABLE sites ADD COLUMN geom geometry(Point, 4326)
  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
ALTER TABLE locations ADD COLUMN geom geometry(Point, 4326)
  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
ALTER TABLE events ADD COLUMN geom geometry(Point, 4326)
  GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
ALTER TABLE site_areas ADD COLUMN geom geometry(Geometry, 4326)
  GENERATED ALWAYS AS (workbench_gpkg_geometry(gpkg_geom)) STORED;
CREATE INDEX sites_geom ON sites USING gist (geom);
CREATE INDEX locations_geom ON locations USING gist (geom);
CREATE INDEX site_areas_geom ON site_areas USING gist (geom);
CREATE INDEX sites_run ON sites (case_id, run_id, site_id);
CREATE INDEX reviews_site ON reviews (case_id, run_id, site_id);
CREATE TABLE waybills (
  case_id bigint NOT NULL REFERENCES cases (case_id), part_id bigint NOT NULL,
  row_number bigint NOT NULL, shipment_id text NOT NULL, seller_id text, lat double precision,
  lon double precision, coord_system text, origin_address text, shipped_at timestamp,
  items bigint, value_cny double precision, brand text, precision text,
  source_lat double precision, source_lon double precision, repair text, ingest_seq bigint,
  geom geometry(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326))
    STORED,
  PRIMARY KEY (case_id, part_id, row_number));
CREATE INDEX waybills_geom ON waybills USING gist (geom);
CREATE INDEX waybills_seller ON waybills (case_id, seller_id);
CREATE TABLE waybill_files (
  case_id bigint NOT NULL REFERENCES cases (case_id), file text NOT NULL, chunk integer NOT NULL,
  data bytea NOT NULL, PRIMARY KEY (case_id, file, chunk));
ALTER TABLE reviews ALTER COLUMN "by" SET DEFAULT current_user;

-- a case's status only goes from loading to open
CREATE FUNCTION workbench_case_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.case_id <> OLD.case_id OR NEW.name <> OLD.name OR NEW.created_by <> OLD.created_by
     OR NOT (OLD.status = 'loading' AND NEW.status = 'open') THEN
    RAISE EXCEPTION 'case %: only its status may change, from loading to open', OLD.name
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER cases_status BEFORE UPDATE ON cases
  FOR EACH ROW EXECUTE FUNCTION workbench_case_status();

-- append-only: no role, the owner included, rewrites a review or an audit entry
CREATE FUNCTION workbench_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: rows are never updated or deleted', TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews
  FOR EACH ROW EXECUTE FUNCTION workbench_append_only();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit
  FOR EACH ROW EXECUTE FUNCTION workbench_append_only();

-- in an open case the reviewer is who is connected, whatever the client sent
CREATE FUNCTION workbench_reviewer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT status FROM cases WHERE case_id = NEW.case_id) = 'open' THEN
    NEW."by" := current_user;
  END IF;
  RETURN NEW;
END $$;
CREATE FUNCTION workbench_pushed_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT status FROM cases WHERE case_id = NEW.case_id) IS DISTINCT FROM 'loading' THEN
    RAISE EXCEPTION '%: rows of an open case come only with its push', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER reviews_reviewer BEFORE INSERT ON reviews
  FOR EACH ROW EXECUTE FUNCTION workbench_reviewer();

-- an entry follows the chain's head; in an open case its actor is who is connected
CREATE FUNCTION workbench_audit_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  head_seq bigint;
  head_hash text;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit
   WHERE case_id = NEW.case_id ORDER BY seq DESC LIMIT 1;
  IF NEW.seq <> coalesce(head_seq, 0) + 1
     OR NEW.prev_hash <> coalesce(head_hash, repeat('0', 64)) THEN
    RAISE EXCEPTION 'audit entry % of case % does not follow the chain head (entry %)',
      NEW.seq, NEW.case_id, coalesce(head_seq, 0) USING ERRCODE = 'integrity_constraint_violation';
  END IF;
  IF (SELECT status FROM cases WHERE case_id = NEW.case_id) = 'open'
     AND NEW.actor <> current_user THEN
    RAISE EXCEPTION 'audit entry % of case %: actor % is not the connected role %',
      NEW.seq, NEW.case_id, NEW.actor, current_user USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER audit_link BEFORE INSERT ON audit
  FOR EACH ROW EXECUTE FUNCTION workbench_audit_link();
"""


def _roles_sql() -> list[str]:
    exists = "SELECT 1 FROM pg_roles WHERE rolname = '{0}'"
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS ({exists.format(role)}) THEN CREATE ROLE {role} NOLOGIN; "
        "END IF; END $$"
        for role in ROLES
    ]
    everything = ["team_meta", "cases", "case_meta", *_V1_COLUMNS, "waybills", "waybill_files"]
    listed = ", ".join(f'"{t}"' for t in everything)
    statements += [
        f"GRANT USAGE ON SCHEMA public TO {', '.join(ROLES)}",
        f"GRANT SELECT ON {listed} TO {', '.join(ROLES)}",
        "GRANT INSERT ON reviews, audit TO workbench_review",
        "GRANT INSERT ON audit TO workbench_export",
        f"GRANT INSERT ON {listed} TO workbench_ingest",
        "REVOKE INSERT ON team_meta FROM workbench_ingest",
        "GRANT UPDATE (status) ON cases TO workbench_ingest",
    ]
    return statements


def _v1(con: Any) -> None:
    """The case tables, waybills with their files, the roles and what each may do."""
    for statement in _V1_BEFORE.split(";"):
        if statement.strip():
            con.execute(statement)
    for table, spec in _V1_COLUMNS.items():
        con.execute(_table_sql(table, spec))
    con.execute(_V1_AFTER)
    for table in _PUSHED_ONLY:
        con.execute(
            f'CREATE TRIGGER "{table}_pushed_only" BEFORE INSERT ON "{table}" '
            "FOR EACH ROW EXECUTE FUNCTION workbench_pushed_only()"
        )
    for statement in _roles_sql():
        con.execute(statement)


_V2 = """
ALTER TABLE waybills DROP CONSTRAINT waybills_case_id_fkey;
ALTER TABLE waybills DROP CONSTRAINT waybills_pkey;
ALTER TABLE waybills ALTER COLUMN part_id DROP NOT NULL,
  ALTER COLUMN row_number DROP NOT NULL;
DROP INDEX waybills_geom;
DROP INDEX waybills_seller;
CREATE INDEX waybills_geom ON waybills USING brin (geom);
CREATE INDEX waybills_case ON waybills USING brin (case_id, ingest_seq);
-- derived rows of an open case: only with its push or inside an audited step, which holds
-- the case's audit-chain lock (pg_advisory_xact_lock(19, case_id): 19 is
-- workbench.team._audit._LOCK_CLASS) until its entry is in
CREATE FUNCTION workbench_in_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (
    SELECT 1 FROM (SELECT DISTINCT case_id FROM added) a JOIN cases c USING (case_id)
     WHERE c.status <> 'loading' AND NOT EXISTS (
       SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted
          AND l.pid = pg_backend_pid() AND l.classid = 19 AND l.objid = a.case_id::oid
          AND l.objsubid = 2)) THEN
    RAISE EXCEPTION '%: rows of an open case come only with its push or inside an audited '
      'step (holding the case''s audit lock)', TG_TABLE_NAME
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NULL;
END $$;
"""
# what an ingest replaces (keyed rows, a file's earlier quarantine, waybills) and what a
# new linking replaces (the networks): the analyst's role only
_V2_GRANTS = (
    "GRANT UPDATE ON sellers, evidence TO workbench_ingest",
    "GRANT DELETE ON quarantine, waybills, waybill_parts, waybill_deletes, waybill_cells, "
    "waybill_files, networks, network_links TO workbench_ingest",
)


def _v2(con: Any) -> None:
    """Ingest and analysis in an open case (the ingest role), BRIN-indexed waybills."""
    con.execute(_V2)
    for table in _PUSHED_ONLY:
        con.execute(f'DROP TRIGGER "{table}_pushed_only" ON "{table}"')
        con.execute(
            f'CREATE TRIGGER "{table}_in_step" AFTER INSERT ON "{table}" REFERENCING NEW '
            "TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION workbench_in_step()"
        )
    for statement in _V2_GRANTS:
        con.execute(statement)


_V3 = """
GRANT INSERT ON events, event_sellers TO workbench_review;
-- a cross-reference replaces the case's earlier matches from cases: the analyst's role
GRANT DELETE ON cross_references TO workbench_ingest;
-- in an open case the recorder of an event is who is connected, whatever the client sent
CREATE TRIGGER events_recorder BEFORE INSERT ON events
  FOR EACH ROW EXECUTE FUNCTION workbench_reviewer();
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION workbench_append_only();
CREATE TRIGGER event_sellers_append_only BEFORE UPDATE OR DELETE ON event_sellers
  FOR EACH ROW EXECUTE FUNCTION workbench_append_only()
"""


def _v3(con: Any) -> None:
    """Events recorded in an open case, by a reviewer or the analyst, as the connected
    role (inside an audited step, as every derived row), never rewritten."""
    for statement in _V3.split(";"):
        if statement.strip():
            con.execute(statement)


MIGRATIONS = {1: _v1, 2: _v2, 3: _v3}
assert max(MIGRATIONS) == SCHEMA_VERSION
TABLES = {table: [name for name, _ in _columns(spec)] for table, spec in _V1_COLUMNS.items()}


def schema_version(con: Any) -> int:
    """The team store's schema version; 0 for a database without one."""
    found = con.execute("SELECT to_regclass('team_meta') IS NOT NULL").fetchone()[0]
    if not found:
        return 0
    row = con.execute("SELECT value FROM team_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(con: Any, target: int = SCHEMA_VERSION) -> int:
    """Bring the team store on ``con`` (a psycopg connection of its owner) up to ``target``
    in one transaction; returns the version it was at. PostGIS must be available."""
    with con.transaction():
        con.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        current = schema_version(con)
        if current > SCHEMA_VERSION:
            raise CaseVersionError(
                f"the team store uses schema {current}; this workbench knows up to "
                f"{SCHEMA_VERSION}. Upgrade counterfeit-workbench to use it."
            )
        if current < target:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        for version in range(current + 1, target + 1):
            MIGRATIONS[version](con)
            con.execute(
                "INSERT INTO team_meta VALUES ('schema_version', %s) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(version),),
            )
    return current
