"""Rights come from the database: each role can do its part and PostgreSQL refuses the rest.

The people (tests/team/conftest.py): amira ingests (workbench_ingest), li and chen review
(workbench_review), wang views (workbench_viewer), zhao exports (workbench_export).
"""

from __future__ import annotations

import psycopg
import pytest

from workbench.team import TeamAccessError, open_team_case, parse_url, push
from workbench.team._store import connect


@pytest.fixture
def team(store, case_file):
    push(case_file, parse_url(store.url("amira", "putian")))
    return store


def _as(team, user: str) -> psycopg.Connection:
    return psycopg.connect(team.url(user), autocommit=True)


def test_a_viewer_reads_sites_and_reviews_but_cannot_review(team) -> None:
    with open_team_case(team.url("wang", "putian")) as case:
        sites = case.sites()
        assert sites.loc[sites["site_id"] == "S001", "status"].item() == "confirmed"
        assert len(case.reviews()) == 1
        with pytest.raises(TeamAccessError, match="refused role 'wang': permission denied"):
            case.review("S002", status="rejected")
        with pytest.raises(TeamAccessError, match="permission denied for table audit"):
            case.log("export", {"bundle": "x.zip"})


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO sites (case_id, fid, run_id, site_id) VALUES (1, 999, 'r', 'S9')",
        "UPDATE sites SET score = 0",
        "DELETE FROM sellers",
        "INSERT INTO reviews (case_id, fid, run_id, site_id, status, at) "
        "VALUES (1, 99, 'r', 'S001', 'rejected', 'now')",
    ],
)
def test_a_viewer_cannot_write_anything(team, statement: str) -> None:
    with _as(team, "wang") as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute(statement)


def test_a_reviewer_records_decisions_as_the_connected_role(team) -> None:
    with open_team_case(team.url("li", "putian")) as case:
        decision = case.review("S002", status="rejected", note="a courier hub")
        assert decision["by"] == "li"
        latest = case.reviews("S002").iloc[-1]
        assert (latest["status"], latest["by"]) == ("rejected", "li")
        entry = case.audit().iloc[-1]
        assert (entry["action"], entry["actor"]) == ("review", "li")
        assert case.verify_audit().ok


def test_a_name_the_client_sends_as_reviewer_is_replaced_by_the_role(team) -> None:
    with _as(team, "li") as con:
        by = con.execute(
            'INSERT INTO reviews (case_id, fid, run_id, site_id, status, note, "by", at) '
            "VALUES (1, 50, 'r', 'S001', 'rejected', '', 'lead', 'now') RETURNING \"by\""
        ).fetchone()[0]
    assert by == "li"
    # and a review written past the audit log is named by verify
    with open_team_case(team.url("wang", "putian")) as case:
        check = case.verify_audit()
    assert not check.ok
    assert "reviews: its content differs" in str(check)


@pytest.mark.parametrize(
    "statement", ["UPDATE reviews SET status = 'rejected'", "DELETE FROM reviews"]
)
def test_a_reviewer_never_changes_or_removes_a_decision(team, statement: str) -> None:
    with _as(team, "li") as con, pytest.raises(psycopg.errors.InsufficientPrivilege):
        con.execute(statement)


def test_a_reviewer_cannot_write_sites_or_input_tables(team) -> None:
    with (
        _as(team, "chen") as con,
        pytest.raises(
            psycopg.errors.InsufficientPrivilege, match="permission denied for table sellers"
        ),
    ):
        con.execute("INSERT INTO sellers (case_id, fid, seller_id) VALUES (1, 9999, 'X')")


def test_not_even_the_owner_rewrites_the_audit_log_or_a_review(team) -> None:
    with psycopg.connect(team.url(), autocommit=True) as con:
        for statement in ("UPDATE audit SET actor = 'x'", "DELETE FROM reviews"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                con.execute(statement)


def test_an_entry_must_follow_the_head_and_name_the_connected_role(team) -> None:
    with _as(team, "li") as con:
        head = con.execute(
            "SELECT max(seq), (array_agg(hash ORDER BY seq DESC))[1] FROM audit"
        ).fetchone()
        forged = "INSERT INTO audit VALUES (1, %s, 'now', %s, 'review', '{}', '[]', %s, 'h', NULL)"
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="does not follow"):
            con.execute(forged, (head[0] + 1, "li", "0" * 64))  # a fork from the start
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="actor lead is not"):
            con.execute(forged, (head[0] + 1, "lead", head[1]))


def test_the_export_role_records_an_export_but_cannot_review(team) -> None:
    with open_team_case(team.url("zhao", "putian")) as case:
        seq = case.log("export tip sheet", {"sites": ["S001"], "bundle": "S001.zip"})
        assert case.audit().iloc[-1][["seq", "actor"]].tolist() == [seq, "zhao"]
        with pytest.raises(TeamAccessError, match="permission denied for table reviews"):
            case.review("S001", status="rejected")
        assert case.verify_audit().ok


def test_only_the_ingest_role_creates_cases(team, case_file) -> None:
    with pytest.raises(TeamAccessError, match=r"refused role 'li'.*cases"):
        push(case_file, parse_url(team.url("li", "other")))


def test_a_role_without_a_workbench_role_reads_nothing(team) -> None:
    with psycopg.connect(team.url(), autocommit=True) as con:
        con.execute("DROP ROLE IF EXISTS outsider")
        con.execute("CREATE ROLE outsider LOGIN PASSWORD 'team-test-pw'")
    try:
        with (
            pytest.raises(TeamAccessError, match="refused role 'outsider'"),
            connect(parse_url(team.url("outsider", "putian"))),
        ):
            pass
    finally:
        with psycopg.connect(team.url(), autocommit=True) as con:
            con.execute("DROP ROLE outsider")


def test_the_ingest_role_cannot_add_sites_to_an_open_case(team) -> None:
    # amira may create cases and write input tables; derived tables come only with a push
    with (
        _as(team, "amira") as con,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="only with its push"),
    ):
        con.execute("INSERT INTO sites (case_id, fid, run_id, site_id) VALUES (1, 999, 'r', 'X')")
    with _as(team, "amira") as con:  # an input table: allowed
        con.execute("INSERT INTO sellers (case_id, fid, seller_id) VALUES (1, 99999, 'NEW')")


def test_two_writers_that_skip_the_lock_still_cannot_fork_the_chain(team) -> None:
    # both extend the same head; the database lets the first in and refuses the second
    with psycopg.connect(team.url("li")) as first, psycopg.connect(team.url("chen")) as second:
        seq, prev = first.execute(
            "SELECT seq, hash FROM audit WHERE case_id = 1 ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        entry = "INSERT INTO audit VALUES (1, %s, 'now', %s, 'note', '{}', '[]', %s, %s, NULL)"
        first.execute(entry, (seq + 1, "li", prev, "a" * 64))  # not committed yet
        second.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            second.execute(entry, (seq + 1, "chen", prev, "b" * 64))  # waits on the first
        second.rollback()
        first.commit()
        with pytest.raises(psycopg.errors.IntegrityConstraintViolation, match="does not follow"):
            second.execute(entry, (seq + 1, "chen", prev, "b" * 64))


def test_unknown_cases_sites_and_statuses_are_named(team) -> None:
    from workbench.errors import InputError, NotFoundError

    with pytest.raises(NotFoundError, match=r"no case 'yiwu' in this team store \(cases: putian\)"):
        open_team_case(team.url("li", "yiwu"))
    with open_team_case(team.url("li", "putian")) as case:
        with pytest.raises(NotFoundError, match="site_id='S999' is not in run"):
            case.review("S999", status="rejected")
        with pytest.raises(InputError, match="status='maybe'; expected one of confirmed"):
            case.review("S001", status="maybe")
        assert len(case.reviews()) == 1  # nothing was written
