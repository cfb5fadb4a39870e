"""Where a team case lives: its URL, the connection, the case's row, and errors people read.

A team case is named by a libpq URL with the case as a query parameter::

    postgresql://amira@db.internal:5432/workbench?case=putian-2026

The user and password come from the URL, ``PGPASSWORD`` or ``~/.pgpass`` as libpq reads
them; identity and rights are the database's (roles ``workbench_*``, see
:mod:`workbench.team._schema`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from workbench.errors import CaseError, InputError, NotFoundError, TeamAccessError

__all__ = [
    "TeamAccessError",
    "TeamURL",
    "connect",
    "find_case",
    "is_team_url",
    "next_fid",
    "parse_url",
    "refusals",
    "require_right",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_EXAMPLE = "postgresql://USER@HOST:PORT/DATABASE?case=NAME"


@dataclass(frozen=True)
class TeamURL:
    """A parsed team-case URL: the libpq URL of the database and the case's name."""

    conninfo: str
    case: str

    def __str__(self) -> str:  # never shows a password
        parts = urlsplit(self.conninfo)
        host = parts.hostname or ""
        netloc = f"{parts.username + '@' if parts.username else ''}{host}"
        netloc += f":{parts.port}" if parts.port else ""
        return urlunsplit((parts.scheme, netloc, parts.path, f"case={self.case}", ""))


def is_team_url(value: object) -> bool:
    """Whether ``value`` names a team case (a ``postgresql://`` or ``postgres://`` URL)
    rather than a case file."""
    return str(value).lower().startswith(("postgresql://", "postgres://"))


def parse_url(url: str, *, need_case: bool = True) -> TeamURL:
    """Split ``postgresql://...?case=NAME`` into the database URL and the case name."""
    parts = urlsplit(str(url))
    if parts.scheme not in ("postgresql", "postgres") or not parts.netloc:
        raise InputError(f"url={_safe(url)!r} is not a PostgreSQL URL; expected {_EXAMPLE}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    cases = [v for k, v in query if k == "case"]
    rest = [(k, v) for k, v in query if k != "case"]
    case = cases[-1] if cases else ""
    if need_case and not case:
        raise InputError(f"url {_safe(url)!r} names no case; add ?case=NAME ({_EXAMPLE})")
    if case and not _NAME.match(case):
        raise InputError(
            f"case={case!r} in the URL: use 1-100 letters, digits, '.', '_' or '-', starting "
            "with a letter or digit"
        )
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(rest), ""))
    return TeamURL(conninfo, case)


def _safe(url: str) -> str:
    """The URL with any password masked, for messages."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", str(url))


@contextlib.contextmanager
def connect(target: TeamURL) -> Iterator[Any]:
    """A psycopg connection to the team store (a clear error when it cannot be made)."""
    import psycopg

    from workbench.team._schema import SCHEMA_VERSION, schema_version

    try:
        con = psycopg.connect(target.conninfo, connect_timeout=10)
    except psycopg.OperationalError as error:
        first = str(error).strip().splitlines()[-1] if str(error).strip() else repr(error)
        raise CaseError(f"cannot connect to the team store {target}: {first}") from error
    try:
        with refusals(con):
            version = schema_version(con)
            if version != SCHEMA_VERSION:
                raise CaseError(
                    f"{target} is not a team store of schema {SCHEMA_VERSION} (found "
                    f"{version}); its owner sets it up with workbench.team.migrate"
                )
            con.commit()
            yield con
    finally:
        con.close()


@contextlib.contextmanager
def refusals(con: Any) -> Iterator[None]:
    """Turn the database's "permission denied" into a :class:`TeamAccessError` that names
    the role and what was refused."""
    import psycopg

    try:
        yield
    except psycopg.errors.InsufficientPrivilege as error:
        raise TeamAccessError(
            f"the team store refused role {con.info.user!r}: {error.diag.message_primary}; "
            "ask its owner to grant the right workbench_* role"
        ) from error


def find_case(con: Any, name: str, *, open_only: bool = True) -> int:
    """The case_id of case ``name``; NotFoundError naming the cases there are."""
    row = con.execute("SELECT case_id, status FROM cases WHERE name = %s", (name,)).fetchone()
    if row is None or (open_only and row[1] != "open"):
        names = [r[0] for r in con.execute("SELECT name FROM cases WHERE status = 'open'")]
        listed = ", ".join(sorted(names)) or "none yet"
        raise NotFoundError(f"no case {name!r} in this team store (cases: {listed})")
    return int(row[0])


def next_fid(con: Any, case_id: int, table: str) -> int:
    """The next ``fid`` of ``table`` in a case (fids count per case, as a case file's)."""
    found = con.execute(
        f'SELECT coalesce(max(fid), 0) FROM "{table}" WHERE case_id = %s',  # noqa: S608
        (case_id,),
    ).fetchone()[0]
    return int(found) + 1


def require_right(con: Any, privilege: str, table: str, *, step: str, role: str) -> None:
    """Refuse ``step`` before it starts when the connected role lacks ``privilege`` on
    ``table`` (the database would refuse it at the end; a million rows read for nothing)."""
    allowed = con.execute("SELECT has_table_privilege(%s, %s)", (table, privilege)).fetchone()[0]
    con.commit()
    if not allowed:
        raise TeamAccessError(
            f"the team store refused role {con.info.user!r}: {step} needs the {role} role "
            f"(no {privilege} on {table}); ask its owner: workbench team grant URL "
            f"{role.removeprefix('workbench_')} {con.info.user}"
        )
