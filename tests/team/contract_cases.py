"""Both kinds of case made the same way, for the case contract (test_case_contract.py).

A case file (``NAME.case``) and a team case (a database made from the migrated template on
the session's server) go through the same steps, each as the person whose part it is
(tests/team/conftest.py: amira ingests, li reviews, wang views, zhao exports; a case file
is opened with the same names as its actor, so the audit logs can be compared):

1. amira ingests the demo's five exports (an ingest of sellers links them again);
2. amira ingests a waybill file repeating 40 of those waybills (changed) and 10 new ones;
3. amira links the sellers, finds sites (300 m) and logs a note of her own;
4. li reviews S001 twice (needs-work, then confirmed);
5. zhao exports a police tip sheet of S001 (no PDF: the comparison is the files' list).

What each step returned is kept in :class:`Built`; tests read the rest from the cases.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

ANALYST, REVIEWER, VIEWER, EXPORTER = "amira", "li", "wang", "zhao"
CASE = "contract"
N_REPEATED, N_NEW = 40, 10  # the second waybill file: 40 waybills again, 10 never seen
ORG = {"organisation": "Acme Brand Protection", "contact": "ip-team@acme.example"}
# the audit log both kinds keep after the steps above, (action, actor) in order
STEPS = [
    ("create case", ANALYST),
    ("ingest", ANALYST),
    ("link sellers", ANALYST),  # the ingest brought sellers and identifiers: linked again
    ("ingest", ANALYST),  # waybills only: nothing to link
    ("link sellers", ANALYST),
    ("find sites", ANALYST),
    ("note", ANALYST),  # case.log: an action done outside the case
    ("review", REVIEWER),
    ("review", REVIEWER),
    ("export tip sheet", EXPORTER),
]

Opener = Callable[..., Any]  # (person, **open_case options) -> an open Case or TeamCase


@dataclass
class Built:
    """One kind of case after the steps, with what each step returned."""

    kind: str
    open: Opener
    first: list[dict[str, Any]]  # the first ingest's per-file reports
    n_after_first: int
    again: dict[str, Any]  # the second waybill file's report
    networks: Any  # what link_sellers returned
    run: str
    logged: int  # the note's audit entry
    reviews: list[dict[str, Any]]  # what the two reviews returned
    bundle: Path
    # an opener on a case one test may write to: a case file's copy; the team case itself
    # (the tests that use it expect a team case to refuse and write nothing)
    scratch: Callable[[Path], Opener]


def export_files(demo: Any) -> dict[str, Path]:
    """{table: file} of a demo's exports, as ``ingest_files`` takes them."""
    return {
        t: getattr(demo, t)
        for t in ("sellers", "identifiers", "shipments", "evidence", "locations")
    }


def waybills_again(demo: Any, path: Path) -> Path:
    """A waybill file of the demo's first 40 waybills with more items, and 10 new ones
    (copies of the next 10 under new ids): 40 replaced, 10 new."""
    ships = pd.read_csv(demo.shipments, dtype=str, keep_default_na=False)
    ships = ships[ships["shipment_id"].str.len() > 0]
    repeated = ships.head(N_REPEATED).assign(items="99")
    new = ships.iloc[N_REPEATED : N_REPEATED + N_NEW].copy()
    new["shipment_id"] = [f"AGAIN{i:04d}" for i in range(N_NEW)]
    pd.concat([repeated, new]).to_csv(path, index=False)
    return path


def build(kind: str, opener: Opener, demo: Any, again: Path, out: Path, keys: Path) -> Built:
    """Take one case through the steps (see the module's docstring)."""
    from workbench.export._bundle import export_tip_sheet

    with opener(ANALYST) as case:
        first = case.ingest_files(export_files(demo))
        n_after_first = case.n_waybills()
        second = case.ingest_files({"shipments": again})[0]
        networks = case.link_sellers()
        run = case.find_sites(300)
        logged = case.log("note", {"text": "test buy 14 ordered"})
    with opener(REVIEWER) as case:
        reviews = [
            case.review("S001", status="needs-work", note="one test buy is not enough"),
            case.review("S001", status="confirmed", note="test buy 14 matched"),
        ]
    with opener(EXPORTER) as case:
        bundle = export_tip_sheet(case, ["S001"], out=out, keys_dir=keys, pdf=False, **ORG)
    return Built(
        kind, opener, first, n_after_first, second, networks, run, logged, reviews, bundle,
        scratch=lambda _: opener,
    )  # fmt: skip


def file_opener(path: Path) -> Opener:
    """Open the case file at ``path`` as ``person`` (its actor)."""
    from workbench.opening import open_case

    def opener(person: str, **options: Any) -> Any:
        return open_case(path, **{"actor": person, **options})

    return opener


def file_scratch(path: Path) -> Callable[[Path], Opener]:
    """An opener on a copy of the case folder at ``path``, made in a test's folder."""

    def scratch(folder: Path) -> Opener:
        copy = folder / path.name
        shutil.copytree(path, copy)
        return file_opener(copy)

    return scratch
