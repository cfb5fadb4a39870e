"""Relocations of every network of a stored case (issue 20 target: 10M waybills over a year
in <= 5 s); fresh processes, the Python API and the CLI.

    python benchmarks/bench_relocations.py [--scale 1] [--weekly 40] [--folder DIR]

The case is made the user's way from :func:`workbench.demo.generate_relocations` (a year of
waybills with planted moves, parallel sites, pauses; ``--scale`` multiplies its rings,
``--weekly`` is each workshop's waybills per week): ingested, its sites found, the demo's
raids recorded on the sites at the raided places and its takedowns on their accounts. Then
``relocations(case)`` runs in a fresh process (imports included) and ``workbench
relocations CASE --json`` in another. The default run is short (about 70,000 waybills);
``--scale 5 --weekly 1590`` makes about 10M (minutes to make; reused with ``--folder``).
Detection is only as large as the run's weekly activity per site, not the waybills.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.case._case import open_case
from workbench.case._events import record_event
from workbench.coords import haversine_m
from workbench.demo._moves import generate_relocations

_API = """
import sys, time
start = time.perf_counter()
from workbench.case import open_case
from workbench.case._events import relocations
with open_case(sys.argv[1], create=False) as case:
    found = relocations(case)
print(f"{time.perf_counter() - start:.2f}", len(found.relocations), len(found.operations))
"""


def _run(command: list[str]) -> tuple[float, str]:
    """Wall time and output of a fresh process."""
    start = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return time.perf_counter() - start, out


def record_demo_events(case, events_csv: Path) -> int:  # type: ignore[no-untyped-def]
    """The demo's raids on the site nearest the raided place, takedowns on their accounts."""
    sites = case.sites()
    rows = pd.read_csv(events_csv, keep_default_na=False).to_dict("records")
    for row in rows:
        if row["kind"] == "raid":
            lat, lon = float(row["lat"]), float(row["lon"])
            dist = haversine_m(sites["lat"].to_numpy(), sites["lon"].to_numpy(), lat, lon)
            site = str(sites["site_id"].iloc[int(np.argmin(dist))])
            record_event(case, "raid", row["date"], site_id=site, note=row["note"])
        else:
            sellers = row["seller_ids"].split(";")
            record_event(case, row["kind"], row["date"], seller_ids=sellers, note=row["note"])
    return len(rows)


def make_case(folder: Path, scale: int, weekly: int) -> Path:
    """The stored case (made once per folder)."""
    path = folder / "moves.gpkg"
    if path.exists():
        return path
    start = time.perf_counter()
    demo = generate_relocations(
        folder / "data", seed=7, n_moves=10 * scale, n_parallel=4 * scale, n_pauses=4 * scale,
        n_steady=3 * scale, n_closed=3 * scale, n_new=3 * scale, weekly_shipments=weekly,
        n_background_sellers=200 * scale,
    )  # fmt: skip
    print(f"# generated in {time.perf_counter() - start:.0f} s")
    made = folder / "made.gpkg"
    with open_case(made, actor="bench") as case:
        start = time.perf_counter()
        case.ingest_files(
            {t: getattr(demo, t) for t in ("sellers", "identifiers", "shipments")},
            progress=False,
        )
        print(f"# ingested in {time.perf_counter() - start:.0f} s")
        start = time.perf_counter()
        case.find_sites(300)
        print(f"# sites found in {time.perf_counter() - start:.0f} s")
        n_events = record_demo_events(case, demo.events)
        print(f"# {n_events} events recorded")
    for suffix in ("", ".audit-head.json"):
        made.with_name(made.name + suffix).rename(path.with_name(path.name + suffix))
    made.with_suffix(".waybills").rename(path.with_suffix(".waybills"))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=1, help="Multiply the demo's rings.")
    parser.add_argument("--weekly", type=int, default=40, help="Waybills a workshop a week.")
    parser.add_argument("--folder", type=Path, default=None, help="Keep (and reuse) the case.")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-relocations-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = make_case(folder, args.scale, args.weekly)
    with open_case(path, create=False) as case:
        n_waybills, run = case.n_waybills(), case.latest_run()
        n_sites, n_weeks = len(case.sites(run)), len(case.site_activity(run))
        n_sellers = len(case.table("sellers"))
    print(
        f"# {platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
        f"{n_waybills:,} waybills, {n_sellers:,} sellers, {n_sites:,} sites, "
        f"{n_weeks:,} site-weeks"
    )
    wall, out = _run([sys.executable, "-c", _API, str(path)])
    inner, n_moves, n_ops = out.split()
    print(
        f"API  relocations(case): {wall:.2f} s wall ({inner} s after start, imports "
        f"included); {n_moves} relocations, {n_ops} operations"
    )
    wall, out = _run([sys.executable, "-m", "workbench", "-q", "relocations", str(path), "--json"])
    found = json.loads(out)
    print(f"CLI  workbench relocations --json: {wall:.2f} s wall; "
          f"{len(found['relocations'])} relocations")  # fmt: skip


if __name__ == "__main__":
    main()
