"""Earlier cases for a cross-reference: found in folders, opened read-only, read once
(private to ``case``).

An earlier case is opened through SQLite's read-only mode (``mode=ro``): nothing is
written to it, not even a migration or the write-ahead-log setting, so its file keeps its
bytes. What is read: its audit head (which names exactly the state it was in), its index
(:mod:`workbench.case._xref_index`; rebuilt in memory when missing or stale), and the
sites of its latest clustering run with each site's latest review.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from workbench.case._paths import CASE_FOLDER_FILE, resolve_case_path
from workbench.case._schema import SCHEMA_VERSION, schema_version
from workbench.case._xref_index import Index, build_index, load_index
from workbench.errors import CaseVersionError, InputError, NotFoundError

__all__ = ["Earlier", "case_name", "case_paths", "read_earlier", "read_only"]

STATUS_RANK = {"confirmed": 3, "needs-work": 2, "rejected": 1, "unreviewed": 0}


@dataclass
class Earlier:
    """What a cross-reference needs of one earlier case."""

    path: Path | str  # a case file, or a team case's URL (without a password)
    name: str
    head_seq: int
    head_hash: str
    index: Index
    index_stored: bool
    sites: pd.DataFrame  # site_id, lat, lon, radius_m, status (latest run; empty if none)
    seller_sites: pd.DataFrame  # seller_id, site_id, status


def case_name(path: Path) -> str:
    """``putian-2025.case/case.gpkg`` -> ``putian-2025``; ``putian.gpkg`` -> ``putian``."""
    if path.name == CASE_FOLDER_FILE and path.parent.suffix.lower() == ".case":
        return path.parent.stem
    return path.stem


def case_paths(against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The case files named by ``against``: a folder of cases, or a list of case paths
    (folders among them are searched one level deep: ``*.case`` folders, ``*.gpkg``)."""
    if isinstance(against, str | os.PathLike):
        items = [Path(against)]
    else:
        items = [Path(p) for p in against]
    if not items:
        raise InputError("against: no earlier cases given; pass a folder of cases or case paths")
    found: list[Path] = []
    for item in items:
        if item.is_dir() and item.suffix.lower() != ".case":
            inside = sorted(
                p
                for p in item.iterdir()
                if (p.suffix.lower() == ".case" and p.is_dir())
                or (p.suffix.lower() == ".gpkg" and p.is_file())
            )
            if not inside:
                raise InputError(
                    f"against: {item} holds no cases (NAME.case folders or .gpkg files); "
                    "pass the folder the earlier cases are in"
                )
            found += [resolve_case_path(p) for p in inside]
            continue
        if not item.exists():
            raise NotFoundError(f"against: {item} does not exist; pass a folder of cases or a case")
        try:
            found.append(resolve_case_path(item))
        except InputError as error:
            raise InputError(f"against: {item} is not a case ({error})") from error
    unique = list(dict.fromkeys(p.resolve() for p in found))
    missing = [p for p in unique if not p.is_file()]
    if missing:
        raise InputError(f"against: {missing[0].parent} is a .case folder without its case file")
    return unique


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[sqlite3.Connection]:
    """The case at ``path`` opened read-only, after checking that it is a workbench case."""
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise InputError(f"{path}: cannot be opened as a case ({error})") from error
    try:
        try:
            version = schema_version(con)
        except sqlite3.DatabaseError as error:
            raise InputError(f"{path} is not a case file (not SQLite: {error})") from error
        if version == 0:
            raise InputError(f"{path} is not a workbench case (no workbench schema in it)")
        if version > SCHEMA_VERSION:
            raise CaseVersionError(
                f"case {path} uses schema {version}; this workbench reads up to "
                f"{SCHEMA_VERSION}. Upgrade counterfeit-workbench to cross-reference it."
            )
        yield con
    finally:
        con.close()


def read_earlier(path: Path) -> Earlier:
    """One earlier case, read-only: its head, index, sites and their reviews."""
    with read_only(path) as con:
        head = con.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if head is None:
            raise InputError(f"{path}: its audit log is empty; it is not a usable case")
        index = load_index(con)
        stored = index is not None
        if index is None:
            index, _ = build_index(con, path)
        sites, seller_sites = _sites(con)
    return Earlier(
        path, case_name(path), int(head[0]), str(head[1]), index, stored, sites, seller_sites
    )


def _sites(con: sqlite3.Connection) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sites of the latest run with their latest review status, and seller -> site."""
    empty = pd.DataFrame(columns=["site_id", "lat", "lon", "radius_m", "status"])
    pairs = pd.DataFrame(columns=["seller_id", "site_id", "status"])
    run = con.execute("SELECT run_id FROM runs ORDER BY fid DESC LIMIT 1").fetchone()
    if run is None:
        return empty, pairs
    rows = con.execute(
        "SELECT site_id, lat, lon, radius_m, sellers FROM sites WHERE run_id = ? ORDER BY rank",
        (run[0],),
    ).fetchall()
    status = dict(
        con.execute(
            "SELECT site_id, status FROM reviews WHERE fid IN (SELECT max(fid) FROM reviews "
            "WHERE run_id = ? GROUP BY site_id)",
            (run[0],),
        ).fetchall()
    )
    sites = pd.DataFrame(
        [(s, lat, lon, r, status.get(s, "unreviewed")) for s, lat, lon, r, _ in rows],
        columns=empty.columns,
    )
    texts = [t if isinstance(t, str) else "[]" for *_, t in rows]
    lists = json.loads("[" + ",".join(texts) + "]") if texts else []
    seller = [str(s) for lst in lists for s in lst]
    site = [row[0] for row, lst in zip(rows, lists, strict=True) for _ in lst]
    pairs = pd.DataFrame({"seller_id": seller, "site_id": site})
    pairs["status"] = pairs["site_id"].map(status).fillna("unreviewed")
    return sites, pairs
