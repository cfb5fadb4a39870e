"""One case step in a child process, for ``test_case_reliability.py`` to kill or race.

    python tests/case/case_worker.py STEP CASE [--data FILE] [--pause-at TEXT] [--pause-s S] ...

STEP is ``ingest`` (the waybills of a Parquet file, plus three quarantined rows),
``networks`` (link the case's sellers again), ``sites`` (cluster the case's waybills
again) or ``reviews`` (``--n`` review decisions ``--gap-s`` apart, started by a line on stdin).

The worker prints one line per milestone, flushed at once, as ``<time.monotonic()>
<marker>``: ``ready`` (case open, input loaded), ``staging`` / ``staged`` (the scratch
file of an ingest), ``writing parts`` / ``sorting parts`` (the waybills' new GeoParquet
part, in its incoming folder), ``sql <first words>`` whenever the case's connection starts a SQL
statement (SQLite's trace hook), and ``done`` when the step has returned. The monotonic
clock is the machine's, so the test can compare it with its own. With ``--pause-at`` the
worker prints ``paused`` and sleeps ``--pause-s`` seconds the first time a marker starts
with that text: the test kills it there, or lets it hold the write lock that long.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import pandas as pd

import workbench.case._case
import workbench.case._part_write
from workbench.case._case import Case, open_case
from workbench.intake._table import IntakeResult


class Markers:
    """Prints milestones (each once in a row) and pauses at the one asked for."""

    def __init__(self, pause_at: str | None, pause_s: float) -> None:
        self.pause_at = pause_at
        self.pause_s = pause_s
        self.last = ""

    def __call__(self, marker: str) -> None:
        if marker == self.last:  # executemany traces every row: one line is enough
            return
        self.last = marker
        print(f"{time.monotonic():.6f} {marker}", flush=True)
        if self.pause_at and marker.startswith(self.pause_at):
            self.pause_at = None
            print(f"{time.monotonic():.6f} paused", flush=True)
            time.sleep(self.pause_s)

    def trace(self, statement: str) -> None:
        self("sql " + " ".join(statement.replace('"', "").split()[:3]))


def shipments_result(path: str) -> IntakeResult:
    """The waybills of a Parquet file as intake returns them, with a small quarantine."""
    frame = pd.read_parquet(path)
    quarantine = pd.DataFrame(
        {
            "source": path,
            "row_number": [2, 3, 4],
            "raw": ["{}", "{}", "{}"],
            "reason": "missing_seller",
            "message": "seller_id is empty",
        }
    )
    report = {
        "table": "shipments",
        "source": path,
        "sha256": "1" * 64,
        "rows_read": len(frame) + len(quarantine),
        "rows_stored": len(frame),
        "rows_quarantined": len(quarantine),
    }
    return IntakeResult("shipments", frame, quarantine, report)


def prepare(case: Case, args: argparse.Namespace) -> Any:
    """Everything the step needs, loaded before ``ready``."""
    if args.step == "ingest":
        return [shipments_result(args.data)]
    if args.step == "networks":
        from workbench.networks._link import link_sellers

        return link_sellers(
            case.table("sellers"), case.table("identifiers"), max_accounts=args.max_accounts
        )
    if args.step == "sites":
        from workbench.sites._finder import SiteFinder  # scikit-learn: imported only when needed

        return SiteFinder(radius_m=args.radius_m).fit(
            case.table("shipments"),
            networks=case.table("networks"),
            evidence=case.table("evidence"),
        )
    # the site ids through the case's own connection, not case.sites(): that reads through
    # ADBC, whose bundled SQLite drops this process's locks on the case file (see
    # test_a_review_survives_another_process_after_a_table_read)
    rows = case._con.execute("SELECT site_id FROM sites WHERE run_id = ?", (case.latest_run(),))
    return [site_id for (site_id,) in rows]


def run(case: Case, args: argparse.Namespace, prepared: Any) -> None:
    if args.step == "ingest":
        case.ingest(prepared)
    elif args.step == "networks":
        case.save_networks(prepared)
    elif args.step == "sites":
        case.save_sites(prepared)
    else:
        sys.stdin.readline()  # the test starts every reviewer at once
        for i in range(args.n):
            case.review(prepared[i % len(prepared)], status="needs-work", note=f"{i}")
            time.sleep(args.gap_s)  # a reviewer reads a little between two decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=["ingest", "networks", "sites", "reviews"])
    parser.add_argument("case")
    parser.add_argument("--data", help="Parquet file of waybills (ingest)")
    parser.add_argument("--max-accounts", type=int, default=20, help="networks")
    parser.add_argument("--radius-m", type=float, default=500.0, help="sites")
    parser.add_argument("--n", type=int, default=20, help="reviews")
    parser.add_argument("--gap-s", type=float, default=0.0, help="reviews: pause between")
    parser.add_argument("--actor", default="worker")
    parser.add_argument("--timeout-s", type=float, default=30.0)
    parser.add_argument("--pause-at")
    parser.add_argument("--pause-s", type=float, default=60.0)
    args = parser.parse_args()

    mark = Markers(args.pause_at, args.pause_s)
    real_stage = workbench.case._staging.stage

    def stage(path: str, tables: dict[str, Any], **kwargs: Any) -> None:
        mark("staging")
        real_stage(path, tables, **kwargs)
        mark("staged")

    workbench.case._staging.stage = stage
    writer = workbench.case._part_write.PartsWriter
    real_add, real_finish = writer.add, writer.finish

    def add(self: Any, frame: pd.DataFrame) -> None:
        mark("writing parts")
        real_add(self, frame)

    def finish(self: Any) -> Any:
        mark("sorting parts")
        return real_finish(self)

    writer.add, writer.finish = add, finish  # type: ignore[method-assign]
    with open_case(args.case, actor=args.actor, timeout_s=args.timeout_s) as case:
        prepared = prepare(case, args)
        case._con.set_trace_callback(mark.trace)
        mark("ready")
        run(case, args, prepared)
        mark("done")


if __name__ == "__main__":
    main()
