"""The team's people: login roles granted the store's group roles, by its owner.

A person is a PostgreSQL login role granted one or more of the group roles of
:mod:`workbench.team._schema` (``workbench_viewer``, ``workbench_review``,
``workbench_ingest``, ``workbench_export``); what they may do is what those grant.
:func:`grant` makes the login when it is missing (with a password when one is given) and
grants it the role; :func:`revoke` takes a role back. Both run as a role that may create
roles (the store's owner); names go to the database as identifiers, passwords as literals,
never spliced into the statement's text.

>>> grant("postgresql://owner@db/cases", "review", "li", password="...")  # doctest: +SKIP
{'login': 'li', 'role': 'workbench_review', 'created': True, 'roles': ['workbench_review']}
"""

from __future__ import annotations

import re
from typing import Any

from workbench.errors import InputError, NotFoundError
from workbench.team._schema import ROLES, migrate
from workbench.team._store import parse_url, refusals

__all__ = ["grant", "init_store", "revoke", "roles_of"]

_LOGIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,62}$")


def _role(role: str) -> str:
    name = role if role.startswith("workbench_") else f"workbench_{role}"
    if name not in ROLES:
        listed = ", ".join(r.removeprefix("workbench_") for r in ROLES)
        raise InputError(f"role={role!r} is not a team role; expected one of {listed}")
    return name


def _login(login: str) -> str:
    if not _LOGIN.match(login) or login.startswith("workbench_") or login.startswith("pg_"):
        raise InputError(
            f"login={login!r}: use 1-63 letters, digits, '_', '.' or '-', starting with a "
            "letter or '_' (not workbench_* or pg_*: those are the store's and PostgreSQL's)"
        )
    return login


def _connect(url: str) -> Any:
    import psycopg

    from workbench.errors import CaseError

    target = parse_url(url, need_case=False)
    try:
        return psycopg.connect(target.conninfo, connect_timeout=10)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise CaseError(f"cannot connect to the team store {target}: {first}") from error


def roles_of(con: Any, login: str) -> list[str]:
    """The team roles ``login`` is granted directly, sorted."""
    rows = con.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s AND g.rolname = ANY(%s)",
        (login, list(ROLES)),
    )
    return sorted(r[0] for r in rows)


def init_store(url: str) -> dict[str, int]:
    """Set up (or upgrade) the team store in the database ``url`` names, as its owner."""
    from workbench.team._schema import SCHEMA_VERSION

    con = _connect(url)
    try:
        with refusals(con):
            before = migrate(con)
    finally:
        con.close()
    return {"from": before, "to": SCHEMA_VERSION}


def grant(url: str, role: str, login: str, *, password: str | None = None) -> dict[str, Any]:
    """Grant team role ``role`` (viewer, review, ingest or export) to ``login``, making the
    login role first when it does not exist (with ``password`` when given)."""
    from psycopg import sql

    name, login = _role(role), _login(login)
    con = _connect(url)
    try:
        with refusals(con), con.transaction():
            if not con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone():
                raise NotFoundError(
                    f"{name} does not exist: this database has no team store yet; set it "
                    "up first: workbench team init URL"
                )
            exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
            if not exists:
                statement = sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login))
                if password:
                    statement += sql.SQL(" PASSWORD {}").format(sql.Literal(password))
                con.execute(statement)
            elif password:
                con.execute(
                    sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                        sql.Identifier(login), sql.Literal(password)
                    )
                )
            con.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(name), sql.Identifier(login))
            )
            granted = roles_of(con, login)
    finally:
        con.close()
    return {"login": login, "role": name, "created": not exists, "roles": granted}


def revoke(url: str, role: str, login: str) -> dict[str, Any]:
    """Take team role ``role`` back from ``login`` (the login role itself stays)."""
    from psycopg import sql

    name, login = _role(role), _login(login)
    con = _connect(url)
    try:
        with refusals(con), con.transaction():
            if not con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone():
                raise NotFoundError(f"login={login!r} is not a role of this database")
            con.execute(
                sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(name), sql.Identifier(login))
            )
            left = roles_of(con, login)
    finally:
        con.close()
    return {"login": login, "role": name, "roles": left}
