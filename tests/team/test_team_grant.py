"""The team's people from the command line: ``workbench team init|grant|revoke`` as the
store's owner; the roles granted are what the database then enforces."""

from __future__ import annotations

import psycopg
import pytest
from click.testing import CliRunner

from workbench.errors import InputError, TeamAccessError
from workbench.team import SCHEMA_VERSION, grant, open_team_case, parse_url, push, revoke
from workbench.team._roles import roles_of

PW = "team-test-pw"


@pytest.fixture
def newcomer(store):
    """A login name no test made yet; dropped afterwards."""
    name = f"hu_{store.db}"
    yield name
    with psycopg.connect(store.url(), autocommit=True) as con:
        con.execute(f'DROP ROLE IF EXISTS "{name}"')


def test_grant_makes_the_login_and_it_can_then_do_its_part(store, case_file, newcomer) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    result = CliRunner().invoke(
        cli_main(), ["team", "grant", store.url(), "review", newcomer, "--password-stdin"],
        input=PW + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"made login role {newcomer}: now workbench_review" in result.output
    with open_team_case(store.server.url(newcomer, PW, store.db) + "?case=putian") as case:
        assert case.review("S002", status="rejected")["by"] == newcomer
        with pytest.raises(TeamAccessError, match="ingesting needs the workbench_ingest role"):
            case.ingest_files({"sellers": case_file})  # refused before the file is read


def test_grant_again_adds_a_role_and_revoke_takes_it_back(store, newcomer) -> None:
    grant(store.url(), "viewer", newcomer, password=PW)
    done = grant(store.url(), "ingest", newcomer)
    assert (done["created"], done["roles"]) == (False, ["workbench_ingest", "workbench_viewer"])
    result = CliRunner().invoke(cli_main(), ["team", "revoke", store.url(), "ingest", newcomer])
    assert result.exit_code == 0, result.output
    with psycopg.connect(store.url()) as con:
        assert roles_of(con, newcomer) == ["workbench_viewer"]
    assert revoke(store.url(), "viewer", newcomer)["roles"] == []


@pytest.mark.parametrize(
    ("role", "login", "message"),
    [
        ("owner", "li", "role='owner' is not a team role; expected one of viewer"),
        ("viewer", 'li"; DROP ROLE amira; --', "login='li\"; DROP ROLE amira; --': use 1-63"),
        ("viewer", "workbench_ingest", "not workbench_"),
    ],
)
def test_bad_roles_and_logins_are_refused_before_the_database(store, role, login, message) -> None:
    with pytest.raises(InputError, match=message):
        grant(store.url(), role, login)
    with psycopg.connect(store.url()) as con:
        assert con.execute("SELECT 1 FROM pg_roles WHERE rolname = 'amira'").fetchone()


def test_only_a_role_that_may_create_roles_grants(store, newcomer) -> None:
    result = CliRunner().invoke(
        cli_main(), ["team", "grant", store.url("amira"), "ingest", newcomer]
    )
    assert result.exit_code == 77, result.output
    assert "refused role 'amira'" in result.output and "Traceback" not in result.output


def test_init_sets_up_a_new_store_once(store) -> None:
    with psycopg.connect(store.server.url(db="postgres"), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {store.db}_new TEMPLATE workbench")
    try:
        url = store.server.url(db=f"{store.db}_new")
        first = CliRunner().invoke(cli_main(), ["team", "init", url])
        assert first.exit_code == 0 and f"schema 0 -> {SCHEMA_VERSION}" in first.output, (
            first.output
        )
        again = CliRunner().invoke(cli_main(), ["team", "init", url])
        assert "nothing to do" in again.output
    finally:
        with psycopg.connect(store.server.url(db="postgres"), autocommit=True) as con:
            con.execute(f"DROP DATABASE {store.db}_new WITH (FORCE)")


def cli_main():  # the command group, imported where it is used
    from workbench.cli._main import cli

    return cli
