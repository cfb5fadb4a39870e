"""Eight reviewers at once, each on its own connection as its own role: nothing is lost,
the chain does not fork, and it verifies."""

from __future__ import annotations

import threading
import time
from collections import Counter

import psycopg
import pytest

from workbench.team import open_team_case, parse_url, push, record_review
from workbench.team._audit import verify

PER_REVIEWER = 200


def review_concurrently(
    url_of, reviewers: list[str], case_id: int, sites: list[str], n: int
) -> float:
    """Each reviewer writes ``n`` decisions (round the sites) from its own thread and
    connection; returns the wall time. Raises the first error a thread met."""
    errors: list[BaseException] = []
    start = threading.Barrier(len(reviewers) + 1)

    def work(who: str) -> None:
        try:
            with psycopg.connect(url_of(who)) as con:
                start.wait()
                for i in range(n):
                    status = ("confirmed", "rejected", "needs-work")[i % 3]
                    record_review(
                        con, case_id, sites[i % len(sites)], status=status, note=f"{who} {i}"
                    )
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=work, args=(who,)) for who in reviewers]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - began


def test_eight_concurrent_reviewers_lose_nothing_and_the_chain_verifies(
    store, case_file, reviewers, record_property
) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_team_case(store.url("wang", "putian")) as case:
        sites = case.sites()["site_id"].tolist()
        before = len(case.audit())
        case_id = case.case_id
    elapsed = review_concurrently(store.url, reviewers, case_id, sites, PER_REVIEWER)
    total = PER_REVIEWER * len(reviewers)
    record_property("concurrent_reviews_s", round(elapsed, 2))
    print(f"\n{total} reviews by {len(reviewers)} concurrent reviewers: {elapsed:.2f} s")

    with open_team_case(store.url("wang", "putian")) as case:
        reviews, log = case.reviews(), case.audit()
        check = case.verify_audit()
    assert check.ok, str(check)
    assert len(log) == before + total  # one entry per decision, none lost
    assert log["seq"].tolist() == list(range(1, len(log) + 1))  # one chain, no fork
    by = Counter(reviews["by"])
    assert {who: by[who] for who in reviewers} == dict.fromkeys(reviewers, PER_REVIEWER)
    assert reviews["note"].nunique() == total + 1  # every decision its own row (+ the lead's)


def test_a_review_changed_behind_the_log_is_named(store, case_file) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    with open_team_case(store.url("li", "putian")) as case:
        case.review("S002", status="rejected", note="hub")
        case_id = case.case_id
    with psycopg.connect(store.url(), autocommit=True) as con:  # the owner, triggers off
        con.execute("ALTER TABLE reviews DISABLE TRIGGER USER")
        con.execute("UPDATE reviews SET status = 'confirmed' WHERE site_id = 'S002'")
        con.execute("ALTER TABLE reviews ENABLE TRIGGER USER")
        check = verify(con, case_id)
    assert not check.ok
    assert "the review of entry 7 (S002) differs from its entry" in str(check)


@pytest.mark.parametrize("table", ["sites", "sellers", "waybill_files"])
def test_an_edit_to_a_pushed_table_is_named(store, case_file, table: str) -> None:
    push(case_file, parse_url(store.url("amira", "putian")))
    edit = {
        "sites": "UPDATE sites SET score = score + 1 WHERE site_id = 'S001'",
        "sellers": "UPDATE sellers SET name = 'x' WHERE fid = 1",
        "waybill_files": "UPDATE waybill_files SET data = data || '\\x00'::bytea",
    }[table]
    with psycopg.connect(store.url(), autocommit=True) as con:
        con.execute(edit)
        check = verify(con, 1)
    assert not check.ok
    named = "shipments" if table == "waybill_files" else table
    assert f"{named}: its content differs" in str(check)
