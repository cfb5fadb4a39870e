"""The team store's schema: ordered migrations in one transaction, PostGIS columns, roles."""

from __future__ import annotations

import psycopg
import pytest

from workbench.case._state import STATE_TABLES
from workbench.errors import CaseVersionError
from workbench.team import _schema
from workbench.team._schema import SCHEMA_VERSION, TABLES, migrate, schema_version


@pytest.fixture
def empty_db(store):  # a database with PostGIS and no team schema
    with psycopg.connect(store.server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {store.db}_empty TEMPLATE workbench")
    yield store.server.url(db=f"{store.db}_empty")
    with psycopg.connect(store.server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"DROP DATABASE {store.db}_empty WITH (FORCE)")


def test_a_new_store_applies_every_migration_once(empty_db: str) -> None:
    with psycopg.connect(empty_db) as con:
        assert schema_version(con) == 0
        assert migrate(con) == 0
        assert schema_version(con) == SCHEMA_VERSION
        assert migrate(con) == SCHEMA_VERSION  # nothing left to do


def test_a_failing_migration_leaves_the_store_as_it_was(empty_db: str, monkeypatch) -> None:
    def broken(con) -> None:
        _schema._v1(con)
        raise RuntimeError("disk full in the middle")

    monkeypatch.setitem(_schema.MIGRATIONS, 1, broken)
    with psycopg.connect(empty_db) as con:
        with pytest.raises(RuntimeError, match="disk full"):
            migrate(con)
        con.rollback()
        assert schema_version(con) == 0
        assert con.execute("SELECT to_regclass('sites')").fetchone()[0] is None


def test_a_store_from_a_newer_workbench_is_refused(store) -> None:
    with psycopg.connect(store.url()) as con:
        con.execute("UPDATE team_meta SET value = '99' WHERE key = 'schema_version'")
        with pytest.raises(
            CaseVersionError, match=f"schema 99; this workbench knows up to {SCHEMA_VERSION}"
        ):
            migrate(con)


def test_every_table_the_audit_log_records_is_in_the_store() -> None:
    # settings live in case_meta, the waybills' state in waybill_parts and their files
    assert set(STATE_TABLES) - {"settings", "shipments"} <= set(TABLES)


def test_every_data_row_carries_its_case(store) -> None:
    with psycopg.connect(store.url()) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "'public' AND table_type = 'BASE TABLE' AND table_name NOT IN "
                "('spatial_ref_sys', 'team_meta', 'cases')"
            )
        ]
        with_case = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'case_id'"
            )
        }
    assert set(tables) >= {*TABLES, "waybills", "waybill_files", "case_meta"}
    assert set(tables) <= with_case


@pytest.mark.parametrize(
    ("table", "kind", "method"),
    [
        ("sites", "Point", "gist"),
        ("locations", "Point", "gist"),
        ("site_areas", "Geometry", "gist"),
        # bulk-loaded a million at a time: BRIN, kept up as rows come (schema 2)
        ("waybills", "Point", "brin"),
    ],
)
def test_geometry_columns_are_wgs84_and_indexed(store, table: str, kind: str, method) -> None:
    with psycopg.connect(store.url()) as con:
        found = con.execute(
            "SELECT type, srid FROM geometry_columns WHERE f_table_name = %s", (table,)
        ).fetchone()
        index = con.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = %s AND indexdef LIKE %s",
            (table, f"%USING {method} (geom)%"),
        ).fetchone()
    assert found == (kind.upper(), 4326)
    assert index is not None


def test_the_four_group_roles_exist_and_cannot_log_in(store) -> None:
    with psycopg.connect(store.url()) as con:
        rows = con.execute(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'workbench\\_%%'"
        ).fetchall()
    assert sorted(rows) == sorted((role, False) for role in _schema.ROLES)


def test_a_store_of_schema_1_moves_to_2_with_its_waybills(empty_db: str) -> None:
    with psycopg.connect(empty_db) as con:
        migrate(con, target=1)
        con.execute("INSERT INTO cases (name, case_schema) VALUES ('putian', 8)")
        con.execute(
            "INSERT INTO waybills (case_id, part_id, row_number, shipment_id, lat, lon) "
            "VALUES (1, 1, 0, 'W1', 25.4, 119.0)"
        )
        con.commit()
        assert migrate(con, target=2) == 1
        assert schema_version(con) == 2
        row = con.execute("SELECT shipment_id, ST_AsText(geom) FROM waybills").fetchone()
        assert row == ("W1", "POINT(119 25.4)")
        # schema 2: an ingest's rows carry no part_id / row_number (see _schema)
        con.execute("INSERT INTO waybills (case_id, shipment_id, ingest_seq) VALUES (1, 'W2', 2)")


def test_a_store_of_schema_2_moves_to_3_and_reviewers_record_events(empty_db: str) -> None:
    with psycopg.connect(empty_db) as con:
        migrate(con, target=2)
        con.execute("INSERT INTO cases (name, case_schema, status) VALUES ('putian', 8, 'loading')")
        con.execute(  # an event pushed with the case under schema 2 stays as it was
            'INSERT INTO events (case_id, fid, event_id, kind, date, note, "by", at) '
            "VALUES (1, 1, 'EV0001', 'raid', '2026-05-01', 'n', 'lead', 'then')"
        )
        con.execute("UPDATE cases SET status = 'open'")
        con.commit()
        review = "workbench_review"
        assert not con.execute(
            f"SELECT has_table_privilege('{review}', 'events', 'INSERT')"
        ).fetchone()[0]
        assert migrate(con) == 2
        assert schema_version(con) == SCHEMA_VERSION == 3
        assert con.execute(
            f"SELECT has_table_privilege('{review}', 'events', 'INSERT')"
        ).fetchone()[0]
        assert con.execute('SELECT "by" FROM events').fetchone() == ("lead",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            con.execute("UPDATE events SET note = 'changed'")
