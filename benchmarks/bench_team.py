"""Time a team case on PostgreSQL + PostGIS: push, concurrent reviewers, verify, pull.

    python benchmarks/bench_team.py [--shipments 60000] [--reviewers 8] [--reviews 1000]
                                    [--json out.json]

A throwaway cluster (workbench.team.start_server) on localhost; a demo case is made, pushed
as an ingest role, then each reviewer (its own login role and connection, one thread each)
records ``--reviews`` decisions at once; the chain is verified in the database and the case
pulled back and verified as a file. Needs PostgreSQL and PostGIS installed.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path

import psycopg

import workbench
from workbench.case._case import open_case
from workbench.intake._table import load_table
from workbench.team import migrate, open_team_case, parse_url, pull, push, record_review
from workbench.team._server import start_server

PASSWORD = "bench-pw"
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")


def _timed(label: str, timings: dict[str, float], func, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = func(*args, **kwargs)
    timings[label] = round(time.perf_counter() - start, 3)
    return value


def _make_case(root: Path, n_shipments: int) -> Path:
    demo = workbench.generate_demo(root / "data", n_shipments=n_shipments)
    with open_case(root / "case.gpkg", actor="analyst") as case:
        case.ingest([load_table(getattr(demo, t), t) for t in TABLES])
        case.find_sites(300)
    return root / "case.gpkg"


def _reviewers(urls: list[str], case_id: int, sites: list[str], n: int) -> None:
    errors: list[BaseException] = []
    start = threading.Barrier(len(urls))

    def work(url: str) -> None:
        try:
            with psycopg.connect(url) as con:
                start.wait()
                for i in range(n):
                    record_review(
                        con, case_id, sites[i % len(sites)], status="confirmed", note=str(i)
                    )
        except BaseException as error:
            errors.append(error)
            start.abort()

    threads = [threading.Thread(target=work, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]


def run(n_shipments: int, n_reviewers: int, n_reviews: int) -> dict[str, object]:
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, start_server() as server:
        root = Path(tmp)
        case_file = _timed("make case", timings, _make_case, root, n_shipments)
        with psycopg.connect(server.url()) as con:
            migrate(con)
            con.execute(f"CREATE ROLE amira LOGIN PASSWORD '{PASSWORD}' IN ROLE workbench_ingest")
            for i in range(n_reviewers):
                con.execute(
                    f"CREATE ROLE r{i} LOGIN PASSWORD '{PASSWORD}' IN ROLE workbench_review"
                )
            con.commit()
        url = server.url("amira", PASSWORD) + "?case=bench"
        _timed("push", timings, push, case_file, parse_url(url))
        with open_team_case(server.url("r0", PASSWORD) + "?case=bench") as case:
            sites, case_id = case.sites()["site_id"].tolist(), case.case_id
            urls = [server.url(f"r{i}", PASSWORD) for i in range(n_reviewers)]
            _timed("concurrent reviews", timings, _reviewers, urls, case_id, sites, n_reviews)
            check = _timed("verify in the database", timings, case.verify_audit)
            assert check.ok, str(check)
            assert len(case.reviews()) == n_reviewers * n_reviews
        back = root / "back.gpkg"
        _timed("pull", timings, pull, parse_url(url), back)
        with open_case(back, create=False) as moved:
            check = _timed("verify the pulled file", timings, moved.verify_audit)
            assert check.ok, str(check)
    total = n_reviewers * n_reviews
    return {
        "shipments": n_shipments,
        "reviewers": n_reviewers,
        "reviews": total,
        "reviews_per_s": round(total / timings["concurrent reviews"], 1),
        "timings_s": timings,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shipments", type=int, default=60_000)
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--reviews", type=int, default=1_000, help="decisions per reviewer")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args.shipments, args.reviewers, args.reviews)
    result["machine"] = {"python": sys.version.split()[0], "platform": platform.platform()}
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
