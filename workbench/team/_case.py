"""A case in the team store, for reviewers: its sites, its reviews, and new decisions.

:func:`open_team_case` connects as whoever the URL (or libpq's environment) names; what
that role may do is the database's decision (:mod:`workbench.team._schema`): a viewer
reads, a reviewer also records decisions, and the reviewer recorded is the connected role.

>>> case = open_team_case("postgresql://amira@db:5432/workbench?case=putian")  # doctest: +SKIP
>>> case.review("S001", status="confirmed", note="test buy 14 matched")       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from typing import Any

import pandas as pd

from workbench.case import audit as audit_log
from workbench.errors import InputError, NotFoundError
from workbench.schema import REVIEW_STATUSES
from workbench.team import _audit
from workbench.team._digest import select_list
from workbench.team._store import TeamURL, connect, find_case, parse_url, refusals

__all__ = ["TeamCase", "open_team_case", "record_review"]


def record_review(
    con: Any,
    case_id: int,
    site_id: str,
    *,
    status: str,
    note: str = "",
    run_id: str | None = None,
) -> dict[str, Any]:
    """Record one review decision and its audit entry in one transaction (the reviewer is
    the connected role); returns the decision as stored."""
    if status not in REVIEW_STATUSES:
        raise InputError(f"status={status!r}; expected one of {', '.join(REVIEW_STATUSES)}")
    with con.transaction():
        _audit.lock_chain(con, case_id)  # from the head read to the commit: one chain
        run = run_id or _latest_run(con, case_id)
        known = con.execute(
            "SELECT 1 FROM sites WHERE case_id = %s AND run_id = %s AND site_id = %s",
            (case_id, run, site_id),
        ).fetchone()
        if not known:
            raise NotFoundError(f"site_id={site_id!r} is not in run {run}")
        latest = _audit.head(con, case_id)
        seq = (latest[0] if latest else 0) + 1
        fid = con.execute(
            "SELECT coalesce(max(fid), 0) + 1 FROM reviews WHERE case_id = %s", (case_id,)
        ).fetchone()[0]
        at = audit_log.now()
        reviewer = con.execute(
            "INSERT INTO reviews (case_id, fid, run_id, site_id, status, note, at, audit_seq) "
            'VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING "by"',
            (case_id, fid, run, site_id, status, note, at, seq),
        ).fetchone()[0]
        parameters = {"run_id": run, "site_id": site_id, "status": status, "note": note}
        _audit.append(con, case_id, action="review", parameters={**parameters, "fid": fid}, at=at)
    return {**parameters, "by": reviewer, "at": at}


def _latest_run(con: Any, case_id: int) -> str:
    row = con.execute(
        "SELECT run_id FROM runs WHERE case_id = %s ORDER BY fid DESC LIMIT 1", (case_id,)
    ).fetchone()
    if row is None:
        raise NotFoundError("this team case has no clustering run yet")
    return str(row[0])


class TeamCase:
    """An open team case. Use :func:`open_team_case`; close it (or use ``with``)."""

    def __init__(self, target: TeamURL) -> None:
        self.target = target
        self._stack = contextlib.ExitStack()
        self._con = self._stack.enter_context(connect(target))
        try:
            self.case_id = find_case(self._con, target.case)
            self._con.commit()
        except BaseException:
            self._stack.close()
            raise
        self.user = str(self._con.info.user)

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> TeamCase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TeamCase {self.target} as {self.user}>"

    def _frame(self, sql: str, params: tuple[Any, ...]) -> pd.DataFrame:
        cursor = self._con.execute(sql, params)
        names = [d.name for d in cursor.description]
        frame = pd.DataFrame(cursor.fetchall(), columns=names)
        self._con.commit()
        return frame

    def latest_run(self) -> str:
        run = _latest_run(self._con, self.case_id)
        self._con.commit()
        return run

    def reviews(self, site_id: str | None = None, *, run_id: str | None = None) -> pd.DataFrame:
        """Review history, oldest first; nothing is ever overwritten."""
        sql = f"SELECT {select_list('reviews')} FROM reviews WHERE case_id = %s"  # noqa: S608
        params: list[Any] = [self.case_id]
        for column, value in (("run_id", run_id), ("site_id", site_id)):
            if value is not None:
                sql += f" AND {column} = %s"
                params.append(value)
        frame = self._frame(sql + " ORDER BY fid", tuple(params))
        return frame.drop(columns=["fid"])

    def sites(self, run_id: str | None = None) -> pd.DataFrame:
        """Sites of a run (default: the latest), by rank, with their latest review status
        (read as Arrow through ADBC's PostgreSQL driver)."""
        run = run_id or self.latest_run()
        columns = [c for c in select_list("sites").split(", ") if "gpkg_geom" not in c]
        sql = (
            f"SELECT {', '.join(columns)}, coalesce(r.status, 'unreviewed') AS status "  # noqa: S608
            "FROM sites s LEFT JOIN LATERAL (SELECT status FROM reviews v WHERE v.case_id = "
            "s.case_id AND v.run_id = s.run_id AND v.site_id = s.site_id ORDER BY fid DESC "
            f"LIMIT 1) r ON true WHERE s.case_id = {int(self.case_id)} AND s.run_id = $1 "
            "ORDER BY rank"
        )
        frame: pd.DataFrame = _read_arrow(self.target.conninfo, sql, run).to_pandas()
        if frame.empty and run_id is not None:
            raise NotFoundError(f"run_id={run_id!r} has no sites in this team case")
        return frame.drop(columns=["fid"])

    def review(
        self, site_id: str, *, status: str, note: str = "", run_id: str | None = None
    ) -> dict[str, Any]:
        """Record a review decision as the connected role (history is kept)."""
        with refusals(self._con):
            return record_review(
                self._con, self.case_id, site_id, status=status, note=note, run_id=run_id
            )

    def audit(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        return self._frame(
            f"SELECT {select_list('audit')} FROM audit WHERE case_id = %s ORDER BY seq",  # noqa: S608
            (self.case_id,),
        )

    def verify_audit(self) -> audit_log.AuditCheck:
        """Recompute the chain and check the tables (see :func:`workbench.team._audit.verify`)."""
        check = _audit.verify(self._con, self.case_id)
        self._con.commit()
        return check

    def log(self, action: str, parameters: dict[str, Any]) -> int:
        """Append an audit entry for an action done outside the store (an export, say)."""
        with refusals(self._con), self._con.transaction():
            seq, _ = _audit.append(self._con, self.case_id, action=action, parameters=parameters)
        return seq


def _read_arrow(conninfo: str, sql: str, *params: Any) -> Any:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(conninfo) as con, con.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetch_arrow_table()


def open_team_case(url: str) -> TeamCase:
    """Open the team case named by ``postgresql://USER@HOST:PORT/DB?case=NAME``."""
    return TeamCase(parse_url(url))
