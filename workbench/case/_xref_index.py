"""A case's matchable identifiers and sellers as fingerprints: what a later case compares
itself with (private to ``case``).

*Matchable* means what linking would use, taken as linking took it in that case (the
options of its latest ``link sellers`` audit entry, else linking's defaults): normalised
(:func:`workbench.networks._identifiers.normalise`), not a placeholder, not on the
allow-list, not infrastructure (on more accounts than the case's ``max_accounts``, else
:func:`~workbench.networks._link.infrastructure_threshold` of its data), and not of a weak
kind unless linking included weak ones. Identifiers on a single account are matchable:
an earlier case may hold the other account.

The index is Arrow tables (identifiers: ``h1``, ``h2``, ``seller``, sorted by ``h1`` so
two indexes meet in one merge; sellers: ``seller_id``, ``platform``, ``network_id``,
``h1``, ``h2``; values: the identifiers' ``kind`` and ``value_norm``, row for row), stored
in the case's ``xref_index`` table as Arrow IPC blobs when the case links its sellers and
by its own cross-reference. Earlier cases read only the first two parts; the case itself
reads the values too (its explanations name them, an exchange list hashes them), so a
case with a current index is never read and normalised again. The index records its
*basis*: the audit entries that last wrote the sellers, identifiers and networks, and the
linking options; a later step that writes them makes the index stale, and a stale or
missing index is rebuilt in memory from the tables (slower, same result).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.case._fingerprint import SCHEME, fingerprints
from workbench.case._io import read_arrow, read_frame, typed
from workbench.case._state import recorded_state

__all__ = [
    "BASIS_TABLES", "Index", "basis", "build_index", "link_options", "load_index", "options_of",
    "own_index",
]  # fmt: skip

BASIS_TABLES = ("sellers", "identifiers", "networks", "network_links")
PARTS = ("identifiers", "sellers")  # what an earlier case's index is read for
VALUES = "values"  # the part only the case itself reads
_CHILD_READ_ROWS = 400_000  # from here on, Arrow through ADBC in a child reads faster
_OPTIONS = b"workbench.options"  # the linking options as used, in the identifiers' schema


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
    options: dict[str, Any] | None = None  # as used (``max_accounts`` the threshold applied)


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
    return options_of(json.loads(row[0]) if row else {})


def options_of(params: Mapping[str, Any]) -> dict[str, Any]:
    """The options an index depends on, from a ``link sellers`` entry's parameters."""
    return {
        "max_accounts": params.get("max_accounts"),
        "allow_list": [str(v) for v in params.get("allow_list", [])],
        "include_weak": bool(params.get("include_weak", False)),
        "region": str(params.get("region", "CN")),
    }


def basis(
    con: sqlite3.Connection, *, linking: tuple[int, Mapping[str, Any]] | None = None
) -> dict[str, Any]:
    """What an index of this case depends on: the entries that last wrote its inputs.

    ``linking``: (seq, parameters) of the ``link sellers`` entry this transaction is about
    to append (it writes the networks): the basis as it will be once that entry is in."""
    recorded = recorded_state(con)
    found = {t: recorded[t][0] for t in BASIS_TABLES if t in recorded}
    options = link_options(con)
    if linking is not None:
        seq, parameters = linking
        found.update(networks=seq, network_links=seq)
        options = options_of(parameters)
    return {"scheme": SCHEME, "entries": found, "options": options}


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


def own_index(con: sqlite3.Connection, path: Path) -> tuple[Index, dict[str, Any], bool]:
    """The case's own index with its values: the stored one when it is current (no table
    is read), else rebuilt from the tables; and whether it was the stored one."""
    stored = load_index(con, values=True)
    if stored is not None and stored.options is not None:
        return stored, stored.options, True
    index, options = build_index(con, path, keep_values=True)
    return index, options, False


def matchable(
    sellers: pd.DataFrame,
    identifiers: pd.DataFrame,
    networks: pd.DataFrame,
    options: dict[str, Any],
    *,
    keep_values: bool = False,
) -> tuple[Index, dict[str, Any]]:
    """The index of a case's frames (see the module docstring for what is kept)."""
    from workbench.networks._link import WEAK_KINDS, infrastructure_threshold

    seller_ids = sellers["seller_id"].astype(str).reset_index(drop=True)
    ids = _normalised(seller_ids, identifiers, options)
    h1, h2 = fingerprints(ids["kind"], ids["value_norm"])
    codes, _ = pd.factorize(h1)
    pair = ids["seller"].to_numpy().astype(np.int64) * (int(codes.max(initial=0)) + 1) + codes
    first = np.flatnonzero(~pd.Series(pair).duplicated().to_numpy())  # per (account, value)
    codes = codes[first]
    weak = ids["kind"].take(first).isin(WEAK_KINDS).to_numpy()
    threshold = options["max_accounts"] or infrastructure_threshold(
        pd.Series(np.bincount(codes[~weak], minlength=int(codes.max(initial=-1)) + 1))
    )
    used = {**options, "max_accounts": int(threshold)}
    frame = _kept(
        ids, first, h1[first], h2[first], np.bincount(codes)[codes], weak, used,
        keep_values=keep_values,
    )  # fmt: skip
    return Index(frame, _seller_part(sellers, networks), {}, used), used


def linked(
    sellers: pd.DataFrame,
    networks: pd.DataFrame,
    identifiers: pd.DataFrame,
    options: dict[str, Any],
) -> Index:
    """The index (with values) from what linking computed of the case's tables:
    ``identifiers`` one row per (account, normalised value) as linking kept them, with
    ``seller`` (the account's code), ``kind``, ``value_norm`` and ``n_accounts``; nothing
    is normalised or counted again. ``options``: the linking's (``max_accounts`` as used)."""
    from workbench.networks._link import WEAK_KINDS

    ids = pd.DataFrame(
        {
            "seller": identifiers["seller"].to_numpy().astype(np.int32),
            "kind": pd.Categorical(identifiers["kind"].astype(str)),
            "value_norm": identifiers["value_norm"].reset_index(drop=True),
        }
    )
    h1, h2 = fingerprints(ids["kind"], ids["value_norm"])
    weak = ids["kind"].isin(WEAK_KINDS).to_numpy()
    rows = np.arange(len(ids))
    accounts = identifiers["n_accounts"].to_numpy()
    frame = _kept(ids, rows, h1, h2, accounts, weak, options, keep_values=True)
    return Index(frame, _seller_part(sellers, networks), {}, options)


def _kept(
    ids: pd.DataFrame,
    rows: np.ndarray,
    h1: np.ndarray,
    h2: np.ndarray,
    accounts: np.ndarray,
    weak: np.ndarray,
    options: dict[str, Any],
    *,
    keep_values: bool,
) -> pd.DataFrame:
    """The matchable ones of ``ids`` (seller, kind, value_norm) at ``rows`` (one per account
    and value; fingerprints, accounts holding each and weakness given for those rows):
    on no more accounts than ``max_accounts``, weak only if included, not allow-listed;
    sorted by h1 (two indexes then meet in one merge)."""
    keep = (accounts <= options["max_accounts"]) & (options["include_weak"] | ~weak)
    if options["allow_list"]:
        kinds = pd.Series(ids["kind"].take(rows).unique()).astype(str)
        keep &= ~np.isin(h1, _allowed(kinds, options))
    at = np.flatnonzero(keep)
    at = at[np.argsort(h1[at], kind="stable")]
    frame = pd.DataFrame({"h1": h1[at], "h2": h2[at], "seller": ids["seller"].to_numpy()[rows[at]]})
    if keep_values:
        frame["kind"] = ids["kind"].take(rows[at]).reset_index(drop=True)  # categorical
        frame["value_norm"] = ids["value_norm"].take(rows[at]).reset_index(drop=True)
    return frame


def _normalised(
    seller_ids: pd.Series, identifiers: pd.DataFrame, options: dict[str, Any]
) -> pd.DataFrame:
    """seller (the account's code: its position among the sellers), kind (categorical),
    value_norm of the identifiers of known accounts, placeholders and values that
    normalise to nothing left out."""
    from workbench.networks._identifiers import normalise

    # one factorize over both tables gives every account a code (as linking does); the
    # accounts of the sellers table come first, so a larger code is an unknown account
    codes, _ = pd.factorize(
        pd.concat([seller_ids, identifiers["seller_id"].astype(str)], ignore_index=True)
    )
    n_known = int(codes[: len(seller_ids)].max(initial=-1)) + 1
    position = codes[len(seller_ids) :]
    known = position < n_known
    kind_codes, kind_names = pd.factorize(identifiers["kind"].astype(str))
    kinds = pd.Index(kind_names).str.strip().str.casefold()
    names = pd.Index(kinds.unique())
    ids = pd.DataFrame(
        {
            "seller": position[known].astype(np.int32),
            "kind": pd.Categorical.from_codes(
                names.get_indexer(kinds)[kind_codes[known]], categories=names
            ),
            "value": identifiers["value"][known].reset_index(drop=True),
        }
    )
    ids["value_norm"] = normalise(ids["kind"].astype(str), ids["value"], region=options["region"])
    return ids[(ids["value_norm"] != "").to_numpy()].reset_index(drop=True)


def _seller_part(sellers: pd.DataFrame, networks: pd.DataFrame) -> pd.DataFrame:
    """seller_id, platform, network_id and the fingerprint of (platform, seller_id) of each
    account, in the sellers table's order (zero: no platform, never matched by id)."""
    seller_ids = sellers["seller_id"].astype(str).reset_index(drop=True)
    platform = sellers["platform"].astype(object).where(sellers["platform"].notna(), "")
    platform = platform.astype(str).str.strip().reset_index(drop=True)
    at = pd.Index(networks["seller_id"].astype(str)).get_indexer(pd.Index(seller_ids))
    named = np.append(networks["network_id"].astype(object).to_numpy(), [None])
    network_id = named[np.where(at >= 0, at, len(named) - 1)]  # the last: no network
    s1, s2 = fingerprints("seller\x1f" + platform, seller_ids)
    without = (platform == "").to_numpy()
    s1[without], s2[without] = 0, 0
    return pd.DataFrame(
        {
            "seller_id": seller_ids,
            "platform": platform,
            "network_id": pd.Series(network_id, dtype=object),
            "h1": s1,
            "h2": s2,
        }
    )


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
def blobs(index: Index) -> Iterator[tuple[str, int, bytes]]:
    """(part, rows, Arrow IPC bytes) of the index's tables, for ``xref_index``: the
    identifiers (with the options as used), the sellers, and the values if it has them."""
    import pyarrow as pa

    ids = index.identifiers
    frames = {"identifiers": ids[["h1", "h2", "seller"]], "sellers": index.sellers}
    if "value_norm" in ids:
        frames[VALUES] = ids[["kind", "value_norm"]]
    for part, frame in frames.items():
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if part == VALUES and not pa.types.is_dictionary(table.schema.field("kind").type):
            table = table.set_column(0, "kind", table["kind"].dictionary_encode())  # few kinds
        if part == "identifiers" and index.options is not None:
            table = table.replace_schema_metadata(
                {_OPTIONS: json.dumps(index.options, sort_keys=True)}
            )
        yield part, len(frame), _ipc(table)


def _ipc(table: Any) -> bytes:
    import pyarrow as pa

    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    data: bytes = sink.getvalue().to_pybytes()
    return data


def load_index(con: sqlite3.Connection, *, values: bool = False) -> Index | None:
    """The index stored in the case, if it is there and still matches the case's tables.

    ``values``: with the identifiers' kind and value_norm (None if they were not stored).
    An index stored before it was kept sorted is sorted here."""
    import pyarrow as pa

    has = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'xref_index'"
    ).fetchone()
    if not has:
        return None
    wanted = (*PARTS, VALUES) if values else PARTS
    marks = ", ".join("?" for _ in wanted)
    rows = con.execute(
        f"SELECT part, scheme, basis FROM xref_index WHERE part IN ({marks})",  # noqa: S608
        wanted,
    ).fetchall()
    if {str(part) for part, _, _ in rows} != set(wanted):
        return None
    expected = basis(con)
    if any(s != SCHEME or json.loads(t) != expected for _, s, t in rows):
        return None
    tables = {}
    for part in wanted:  # one blob at a time: each is read, decoded and let go
        (data,) = con.execute("SELECT data FROM xref_index WHERE part = ?", (part,)).fetchone()
        tables[part] = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        del data
    ids = tables["identifiers"]
    meta = ids.schema.metadata or {}
    options = json.loads(meta[_OPTIONS]) if _OPTIONS in meta else None
    frame = ids.to_pandas(split_blocks=True)  # the Arrow buffers as they are: no copy
    if values:
        frame["kind"] = tables[VALUES]["kind"].to_pandas()  # categorical: a few kinds
        frame["value_norm"] = tables[VALUES]["value_norm"].to_pandas()
    h1 = frame["h1"].to_numpy()
    if len(h1) > 1 and bool((h1[1:] < h1[:-1]).any()):
        frame = frame.iloc[np.argsort(h1, kind="stable")].reset_index(drop=True)
    return Index(frame, tables["sellers"].to_pandas(split_blocks=True), expected, options)
