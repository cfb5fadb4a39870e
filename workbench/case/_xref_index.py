"""A case's matchable identifiers and sellers as fingerprints: what a later case compares
itself with (private to ``case``).

*Matchable* means what linking would use, taken as linking took it in that case (the
options of its latest ``link sellers`` audit entry, else linking's defaults): normalised
(:func:`workbench.networks._identifiers.normalise`), not a placeholder, not on the
allow-list, not infrastructure (on more accounts than the case's ``max_accounts``, else
:func:`~workbench.networks._link.infrastructure_threshold` of its data), and not of a weak
kind unless linking included weak ones. Identifiers on a single account are matchable:
an earlier case may hold the other account.

The index is two Arrow tables (identifiers: ``h1``, ``h2``, ``seller``; sellers:
``seller_id``, ``platform``, ``network_id``, ``h1``, ``h2``), stored in the case's
``xref_index`` table as Arrow IPC blobs by its own cross-reference. It records its
*basis*: the audit entries that last wrote the sellers, identifiers and networks; a later
step that writes them makes the index stale, and a stale or missing index is rebuilt in
memory from the tables (slower, same result).
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.case._fingerprint import SCHEME, fingerprints
from workbench.case._io import read_arrow, read_frame, typed
from workbench.case._state import recorded_state

__all__ = ["BASIS_TABLES", "Index", "basis", "build_index", "link_options", "load_index"]

BASIS_TABLES = ("sellers", "identifiers", "networks", "network_links")
_CHILD_READ_ROWS = 400_000  # from here on, Arrow through ADBC in a child reads faster


@dataclass
class Index:
    """Fingerprints of one case's matchable identifiers and of its sellers.

    ``identifiers``: h1, h2 (uint64), seller (position in ``sellers``), and for the case
    being cross-referenced also kind and value_norm; ``sellers``: seller_id, platform,
    network_id, h1, h2 (zero for a seller without a platform: never matched by id).
    """

    identifiers: pd.DataFrame
    sellers: pd.DataFrame
    basis: dict[str, Any]


def _read_all(
    con: sqlite3.Connection, path: Path, queries: dict[str, str]
) -> dict[str, pd.DataFrame]:
    """Each query's result (keyed by the table it reads): big tables through ADBC in child
    processes at the same time (read-only), small ones and fallbacks on ``con``."""
    from concurrent.futures import ThreadPoolExecutor

    big = {
        table: sql
        for table, sql in queries.items()
        if con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] >= _CHILD_READ_ROWS  # noqa: S608
    }
    with ThreadPoolExecutor(max_workers=max(len(big), 1)) as pool:
        futures = {t: pool.submit(read_arrow, str(path), sql) for t, sql in big.items()}
        found = {t: f.result() for t, f in futures.items()}
    out = {}
    for table, sql in queries.items():
        frame = found.get(table)
        out[table] = typed(frame) if frame is not None else read_frame(con, sql)
    return out


def link_options(con: sqlite3.Connection) -> dict[str, Any]:
    """The options of the case's latest ``link sellers`` entry (linking's defaults if none)."""
    row = con.execute(
        "SELECT parameters FROM audit WHERE action = 'link sellers' ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    params = json.loads(row[0]) if row else {}
    return {
        "max_accounts": params.get("max_accounts"),
        "allow_list": [str(v) for v in params.get("allow_list", [])],
        "include_weak": bool(params.get("include_weak", False)),
        "region": str(params.get("region", "CN")),
    }


def basis(con: sqlite3.Connection) -> dict[str, Any]:
    """What an index of this case depends on: the entries that last wrote its inputs."""
    recorded = recorded_state(con)
    found = {t: recorded[t][0] for t in BASIS_TABLES if t in recorded}
    return {"scheme": SCHEME, "entries": found, "options": link_options(con)}


def build_index(
    con: sqlite3.Connection, path: Path, *, keep_values: bool = False
) -> tuple[Index, dict[str, Any]]:
    """The index of the case open on ``con`` at ``path``, from its tables; and the linking
    options it was built with (``max_accounts`` as used). ``keep_values``: the identifiers
    keep their kind and value_norm (for the case whose matches are explained)."""
    options = link_options(con)
    tables = _read_all(
        con,
        path,
        {
            "sellers": "SELECT seller_id, platform FROM sellers ORDER BY fid",
            "identifiers": "SELECT seller_id, kind, value FROM identifiers ORDER BY fid",
            "networks": "SELECT seller_id, network_id FROM networks WHERE network_id IS NOT NULL",
        },
    )
    return matchable(
        tables["sellers"], tables["identifiers"], tables["networks"], options,
        keep_values=keep_values,
    )  # fmt: skip


def matchable(
    sellers: pd.DataFrame,
    identifiers: pd.DataFrame,
    networks: pd.DataFrame,
    options: dict[str, Any],
    *,
    keep_values: bool = False,
) -> tuple[Index, dict[str, Any]]:
    """The index of a case's frames (see the module docstring for what is kept)."""
    from workbench.networks._identifiers import normalise
    from workbench.networks._link import WEAK_KINDS, infrastructure_threshold

    seller_ids = sellers["seller_id"].astype(str).reset_index(drop=True)
    platform = sellers["platform"].astype(object).where(sellers["platform"].notna(), "")
    platform = platform.astype(str).str.strip().reset_index(drop=True)
    # one factorize over both tables gives every account a code (as linking does); the
    # accounts of the sellers table come first, so a larger code is an unknown account
    codes, _ = pd.factorize(
        pd.concat([seller_ids, identifiers["seller_id"].astype(str)], ignore_index=True)
    )
    n_known = int(codes[: len(seller_ids)].max(initial=-1)) + 1
    position = codes[len(seller_ids) :]
    known = position < n_known
    kind_codes, kind_names = pd.factorize(identifiers["kind"].astype(str))
    kinds = pd.Index(kind_names).str.strip().str.casefold().to_numpy(dtype=object)
    ids = pd.DataFrame(
        {
            "seller": position[known].astype(np.int32),
            "kind": kinds[kind_codes[known]],
            "value": identifiers["value"][known].reset_index(drop=True),
        }
    )
    ids["value_norm"] = normalise(ids["kind"], ids["value"], region=options["region"])
    ids = ids[(ids["value_norm"] != "").to_numpy()].reset_index(drop=True)
    h1, h2 = fingerprints(ids["kind"], ids["value_norm"])
    codes, _ = pd.factorize(h1)
    pair = ids["seller"].to_numpy().astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes
    first = ~pd.Series(pair).duplicated().to_numpy()  # one row per (account, identifier)
    ids = ids[first].reset_index(drop=True)
    ids["h1"], ids["h2"], codes = h1[first], h2[first], codes[first]
    accounts = np.bincount(codes)[codes]
    weak = ids["kind"].isin(WEAK_KINDS).to_numpy()
    threshold = options["max_accounts"] or infrastructure_threshold(
        pd.Series(np.bincount(codes[~weak], minlength=int(codes.max(initial=-1)) + 1))
    )
    keep = (accounts <= threshold) & (options["include_weak"] | ~weak)
    if options["allow_list"]:
        keep &= ~np.isin(ids["h1"].to_numpy(), _allowed(ids["kind"], options))
    ids = ids[keep]
    columns = ["h1", "h2", "seller"] + (["kind", "value_norm"] if keep_values else [])
    at = pd.Index(networks["seller_id"].astype(str)).get_indexer(pd.Index(seller_ids))
    named = np.append(networks["network_id"].astype(object).to_numpy(), [None])
    network_id = named[np.where(at >= 0, at, len(named) - 1)]  # the last: no network
    s1, s2 = fingerprints("seller\x1f" + platform, seller_ids)
    without = (platform == "").to_numpy()
    s1[without], s2[without] = 0, 0
    index = Index(
        ids[columns].reset_index(drop=True),
        pd.DataFrame(
            {
                "seller_id": seller_ids,
                "platform": platform,
                "network_id": pd.Series(network_id, dtype=object),
                "h1": s1,
                "h2": s2,
            }
        ),
        {},
    )
    return index, {**options, "max_accounts": int(threshold)}


def _allowed(kinds: pd.Series, options: dict[str, Any]) -> np.ndarray:
    """h1 of every allow-listed value under every kind present (as linking reads them)."""
    from workbench.networks._identifiers import STRENGTH, normalise

    names = sorted(set(kinds.unique()) | set(STRENGTH))
    values = options["allow_list"]
    kind = pd.Series([k for k in names for _ in values])
    norm = normalise(kind, pd.Series(values * len(names)), region=options["region"])
    h1, _ = fingerprints(kind, norm)
    return h1


# -- stored in the case --------------------------------------------------------------------
def blobs(index: Index) -> list[tuple[str, int, bytes]]:
    """(part, rows, Arrow IPC bytes) of the index's two tables, for ``xref_index``."""
    import pyarrow as pa

    out = []
    frames = {"identifiers": index.identifiers[["h1", "h2", "seller"]], "sellers": index.sellers}
    for part, frame in frames.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append((part, len(frame), sink.getvalue().to_pybytes()))
    return out


def load_index(con: sqlite3.Connection) -> Index | None:
    """The index stored in the case, if it is there and still matches the case's tables."""
    import pyarrow as pa

    has = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'xref_index'"
    ).fetchone()
    if not has:
        return None
    rows = con.execute("SELECT part, scheme, basis, data FROM xref_index").fetchall()
    parts = {str(part): (scheme, text, data) for part, scheme, text, data in rows}
    if set(parts) != {"identifiers", "sellers"}:
        return None
    expected = basis(con)
    if any(s != SCHEME or json.loads(t) != expected for s, t, _ in parts.values()):
        return None
    frames = {}
    for part, (_, _, data) in parts.items():
        frames[part] = pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pandas()
    return Index(frames["identifiers"], frames["sellers"], expected)
