"""The throwaway PostgreSQL: started on localhost with PostGIS, stopped and removed after."""

from __future__ import annotations

import os

import psycopg
import pytest

from workbench.errors import MissingDependencyError
from workbench.team import _server
from workbench.team._schema import SCHEMA_VERSION
from workbench.team._server import Server, start_server


def test_the_session_server_listens_on_localhost_with_postgis(pg_server: Server) -> None:
    assert pg_server.url().startswith("postgresql://workbench:")
    assert "@127.0.0.1:" in pg_server.url()
    with psycopg.connect(pg_server.url()) as con:
        listen, version = con.execute(
            "SELECT current_setting('listen_addresses'), postgis_lib_version()"
        ).fetchone()
    assert listen == "127.0.0.1"
    assert version.startswith("3.")


def test_a_password_is_required(pg_server: Server) -> None:
    # SCRAM for every connection: the superuser without its password is refused
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(pg_server.url(password="wrong"), connect_timeout=5)


def test_stop_removes_the_cluster_and_its_folder(pg_server: Server) -> None:
    server = start_server()
    data = server.data
    owner = data.stat().st_uid
    if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster runs as workbench-pg
        assert owner != 0
    server.stop()
    assert not server.folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url(), connect_timeout=2)


def test_without_postgresql_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(_server, "find_binaries", lambda: None)
    with pytest.raises(MissingDependencyError, match="apt-get install postgresql postgis"):
        start_server()


def test_make_db_starts_a_team_store_and_says_how_to_stop_it(pg_server: Server, capsys) -> None:
    # what `make db` runs; the session server shows PostgreSQL is there
    assert _server.main(["start"]) == 0
    out = capsys.readouterr().out
    url = next(line.removeprefix("URL: ") for line in out.splitlines() if line.startswith("URL: "))
    folder = out.split("data in ")[1].split()[0]
    try:
        with psycopg.connect(url) as con:
            assert con.execute("SELECT value FROM team_meta").fetchone() == (str(SCHEMA_VERSION),)
        assert f"-m workbench.team stop {folder}" in out
    finally:
        assert _server.main(["stop", folder]) == 0
    assert not os.path.exists(folder)
    assert _server.main([]) == 2
