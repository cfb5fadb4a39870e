"""Cross-reference a case against earlier cases: every seller, identifier, network and site
of this case that appeared before, with the earlier case, its network and its review.

>>> found = cross_reference(case, "cases/2025")        # doctest: +SKIP
>>> found[["match", "explanation"]].head()               # doctest: +SKIP

What matches (see :mod:`workbench.case._xref_index` for which identifiers are matchable):

* ``identifier``: a matchable identifier of this case (kind and normalised value) that was
  matchable in the earlier case too: one row per account of this case holding it and
  earlier network (or earlier account outside any network);
* ``seller``: an account with the same ``seller_id`` on the same ``platform`` (accounts
  without a platform never match by id: ids such as ``S0001`` repeat across exports);
* ``network``: a network of this case with an account matched (by id or identifier) to an
  account of an earlier network: one row per pair of networks;
* ``site``: a site of this case's latest run whose circle (``radius_m``) overlaps the
  circle of a site of the earlier case's latest run.

Each row names the earlier case (name, path, audit head hash), its accounts, network and
sites (of its latest run, with the latest review of each) and an explanation a reader
understands. The rows are stored in the case's ``cross_references`` table (source
``case``), replacing those of the previous cross-reference, in one transaction with an
audit entry whose inputs are the earlier cases' audit heads. The case's own index (stored
when it linked its sellers, or by an earlier cross-reference) is used when it is current;
otherwise it is rebuilt from the tables and stored with the rows, so later cases (and the
next cross-reference) read it fast. Earlier cases are only read.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.case._fingerprint import load_ahead
from workbench.case._xref_index import Index, own_index
from workbench.case._xref_sources import (
    STATUS_RANK,
    Earlier,
    case_paths,
    read_earlier,
    read_only,
)
from workbench.case._xref_store import XREF_COLUMNS, cross_references, store_index, store_matches
from workbench.errors import InputError, NotFoundError

if TYPE_CHECKING:
    from workbench.case._case import Case

__all__ = [
    "XREF_COLUMNS", "cross_reference", "cross_references", "entry_parameters", "matches_in",
    "store_index", "store_matches", "this_case",
]  # fmt: skip

KIND_LABELS = {
    "bank_card": "bank card",
    "id_document": "ID document",
    "payment_account": "payment account",
    "email": "e-mail",
}
STATUS_WORDS = {
    "confirmed": "confirmed counterfeit",
    "rejected": "rejected on review",
    "needs-work": "under review",
    "unreviewed": "not reviewed",
}
_AHEAD = 3  # earlier cases read ahead of the matching (each ~60 MB at 1M accounts)
_BITS = 26  # a 64 MiB table of seen fingerprints screens out most rows before the lookup


class _Matcher:
    """Finds the rows of this case whose fingerprint (h1, h2) an earlier case also has."""

    def __init__(self, h1: np.ndarray, h2: np.ndarray) -> None:
        self.h2 = h2
        codes, unique = pd.factorize(h1)
        self.lookup = pd.Index(unique)
        self.order = np.argsort(codes, kind="stable")
        self.count = np.bincount(codes, minlength=len(unique))
        self.start = np.cumsum(self.count) - self.count
        self.seen = np.zeros(1 << _BITS, dtype=bool)
        self.seen[self._slot(np.asarray(unique, dtype=np.uint64))] = True

    @staticmethod
    def _slot(h1: np.ndarray) -> np.ndarray:
        return (h1 >> np.uint64(64 - _BITS)).astype(np.intp)

    def pairs(self, h1: np.ndarray, h2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows of this case, rows of the other) with equal fingerprints."""
        candidates = np.flatnonzero(self.seen[self._slot(h1)])
        code = self.lookup.get_indexer(h1[candidates])
        other = candidates[code >= 0]
        code = code[code >= 0]
        n = self.count[code]
        other = np.repeat(other, n)
        offset = np.arange(len(other)) - np.repeat(np.cumsum(n) - n, n)
        mine = self.order[np.repeat(self.start[code], n) + offset]
        same = self.h2[mine] == h2[other]
        return mine[same], other[same]


def _identifier_pairs(this: Index, other: Index) -> tuple[np.ndarray, np.ndarray]:
    """(rows of this index, rows of the other) with equal fingerprints: one merge of the
    two identifier tables, both sorted by h1."""
    from workbench.case._fingerprint_jit import join_sorted

    mine, theirs = join_sorted(
        this.identifiers["h1"].to_numpy(), other.identifiers["h1"].to_numpy()
    )
    same = this.identifiers["h2"].to_numpy()[mine] == other.identifiers["h2"].to_numpy()[theirs]
    return mine[same], theirs[same]


@dataclass
class _This:
    """The case being cross-referenced: its index (with values), a matcher of its sellers."""

    index: Index
    stored: bool  # the index is the one stored in the case (current): not stored again
    sellers: _Matcher
    seller_rows: np.ndarray  # rows of index.sellers with a platform
    sites: pd.DataFrame


def _contiguous(column: pd.Series) -> pd.Series:
    """A column as one block: taking a few rows from a chunked Arrow column of millions
    costs a pass over its chunks each time (twenty earlier cases, several columns)."""
    import pyarrow as pa

    if not isinstance(column.dtype, pd.StringDtype | pd.ArrowDtype):
        return column
    array = pa.array(column)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return pd.Series(pd.arrays.ArrowExtensionArray(array), index=column.index)


def _this(case: Case) -> tuple[_This, dict[str, Any]]:
    index, options, stored = own_index(case._con, case.path)
    return this_case(index, stored, case), options


def this_case(index: Index, stored: bool, case: Any) -> _This:
    """The case being cross-referenced, from its own index (``stored``: the one the case
    keeps) and the sites of its latest run (``case.sites()``; none before a run)."""
    ids, sellers = index.identifiers, index.sellers
    for frame, columns in ((ids, ("kind", "value_norm")), (sellers, ("seller_id", "network_id"))):
        for column in columns:
            frame[column] = _contiguous(frame[column])
    with_platform = np.flatnonzero(sellers["h1"].to_numpy() != 0)
    try:
        sites = pd.DataFrame(case.sites())[["site_id", "lat", "lon", "radius_m"]]
    except (KeyError, NotFoundError):  # no clustering run yet: no site can match
        sites = pd.DataFrame(columns=["site_id", "lat", "lon", "radius_m"])
    return _This(
        index,
        stored,
        _Matcher(sellers["h1"].to_numpy()[with_platform], sellers["h2"].to_numpy()[with_platform]),
        with_platform,
        sites,
    )


def _take(column: pd.Series, rows: np.ndarray) -> np.ndarray:
    """``column[rows]`` as Python objects (NaN for missing), converting only those rows
    (a whole Arrow string column would be converted again for every earlier case)."""
    return column.take(rows).to_numpy(dtype=object, na_value=np.nan)


def _joined(frame: pd.DataFrame, key: str, column: str, sep: str) -> pd.Series:
    """Per ``key`` (in order of first appearance): its ``column`` values joined by ``sep``
    (a few thousand rows: a plain loop beats grouping them)."""
    groups: dict[Any, list[str]] = {}
    for k, value in zip(frame[key].tolist(), frame[column].tolist(), strict=True):
        groups.setdefault(k, []).append(value)
    return pd.Series(
        [sep.join(values) for values in groups.values()],
        index=pd.Index(list(groups), name=key),
        dtype=object,
    )


def _site_texts(pairs: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per ``key``: the earlier sites (``S002;S007``), their most serious review and a
    phrase naming each site with its review."""
    if pairs.empty:
        return pd.DataFrame(columns=[key, "other_site_ids", "review_status", "sites_text"])
    pairs = pairs.drop_duplicates([key, "site_id"]).sort_values([key, "site_id"])
    pairs = pairs.assign(
        rank=pairs["status"].map(STATUS_RANK).fillna(0),
        phrase="site " + pairs["site_id"] + " " + pairs["status"].map(STATUS_WORDS),
    )
    out = pd.DataFrame(
        {
            "other_site_ids": _joined(pairs, key, "site_id", ";"),
            "sites_text": _joined(pairs, key, "phrase", ", "),
        }
    )
    top = pairs.sort_values([key, "rank"], ascending=[True, False], kind="stable")
    out["review_status"] = top.drop_duplicates(key).set_index(key)["status"].reindex(out.index)
    return out.rename_axis(key).reset_index()


def _with_sites(frame: pd.DataFrame, key: str, pairs: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with other_site_ids, review_status and sites_text joined on ``key``."""
    texts = _site_texts(pairs, key)
    out = frame.merge(texts, on=key, how="left")
    out["sites_text"] = (", " + out["sites_text"]).fillna(", at no site of its latest run")
    return out


def _identifier_rows(this: _This, earlier: Earlier) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Identifier matches with one earlier case, and the (network, seller) pairs behind them."""
    other = earlier.index
    mine, theirs = _identifier_pairs(this.index, other)
    ids, sellers = this.index.identifiers, this.index.sellers
    at = ids["seller"].to_numpy()[mine]
    other_at = other.identifiers["seller"].to_numpy()[theirs]
    pairs = pd.DataFrame(
        {
            "seller_id": _take(sellers["seller_id"], at),
            "network_id": _take(sellers["network_id"], at),
            "kind": _take(ids["kind"], mine),
            "value_norm": _take(ids["value_norm"], mine),
            "other_seller": _take(other.sellers["seller_id"], other_at),
            "other_network_id": _take(other.sellers["network_id"], other_at),
        }
    )
    if pairs.empty:
        return pd.DataFrame(columns=[*XREF_COLUMNS]), pairs
    group = pairs["other_network_id"].where(
        pairs["other_network_id"].notna(), "\x00" + pairs["other_seller"]
    )
    pairs["key"] = (
        pairs["seller_id"] + "\x1f" + pairs["kind"] + "\x1f" + pairs["value_norm"] + "\x1f" + group
    )
    unique = pairs.drop_duplicates(["key", "other_seller"]).sort_values(["key", "other_seller"])
    columns = ["key", "seller_id", "network_id", "kind", "value_norm", "other_network_id"]
    rows = unique.drop_duplicates("key")[columns].set_index("key")
    rows["other_seller_ids"] = _joined(unique, "key", "other_seller", ";")
    rows["n_other_sellers"] = unique.groupby("key", sort=False).size()
    rows = rows.reset_index()
    site_pairs = unique[["key", "other_seller"]].merge(
        earlier.seller_sites, left_on="other_seller", right_on="seller_id"
    )
    rows = _with_sites(rows, "key", site_pairs[["key", "site_id", "status"]])
    label = rows["kind"].map(KIND_LABELS).fillna(rows["kind"].str.replace("_", " "))
    n = rows["n_other_sellers"]
    where = np.where(
        rows["other_network_id"].notna(),
        " of network " + rows["other_network_id"].astype(str),
        " (in no network)",
    )
    accounts = np.where(n == 1, "1 account", n.astype(str) + " accounts")
    rows["explanation"] = (
        "this " + label + " was on " + accounts + where + " in case " + earlier.name
        + rows["sites_text"]
    )  # fmt: skip
    rows["match"] = "identifier"
    return rows.drop(columns=["key", "sites_text"]), pairs


def _seller_rows(this: _This, earlier: Earlier) -> pd.DataFrame:
    """Accounts of this case with the same id on the same platform in the earlier case."""
    other = earlier.index.sellers
    has = np.flatnonzero(other["h1"].to_numpy() != 0)
    mine, theirs = this.sellers.pairs(other["h1"].to_numpy()[has], other["h2"].to_numpy()[has])
    sellers = this.index.sellers.iloc[this.seller_rows[mine]]
    found = other.iloc[has[theirs]]
    rows = pd.DataFrame(
        {
            "seller_id": sellers["seller_id"].to_numpy(),
            "network_id": sellers["network_id"].to_numpy(),
            "platform": sellers["platform"].to_numpy(),
            "other_seller_ids": found["seller_id"].to_numpy(),
            "other_network_id": found["network_id"].to_numpy(),
        }
    )
    if rows.empty:
        return pd.DataFrame(columns=[*XREF_COLUMNS])
    site_pairs = earlier.seller_sites.rename(columns={"seller_id": "other_seller_ids"})
    rows = _with_sites(rows, "other_seller_ids", site_pairs)
    where = np.where(
        rows["other_network_id"].notna(),
        ", in network " + rows["other_network_id"].astype(str),
        ", in no network",
    )
    rows["explanation"] = (
        "this account (" + rows["platform"] + ") was in case " + earlier.name + where
        + rows["sites_text"]
    )  # fmt: skip
    rows["match"], rows["n_other_sellers"] = "seller", 1
    return rows.drop(columns=["platform", "sites_text"])


def _network_rows(earlier: Earlier, pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs of networks (this case's, the earlier case's) sharing accounts or identifiers."""
    pairs = pairs.dropna(subset=["network_id", "other_network_id"])
    if pairs.empty:
        return pd.DataFrame(columns=[*XREF_COLUMNS])
    grouped = pairs.groupby(["network_id", "other_network_id"], sort=True)
    rows = grouped.agg(
        n_mine=("seller_id", "nunique"),
        n_other_sellers=("other_seller", "nunique"),
    ).reset_index()
    sellers = earlier.index.sellers
    member = sellers.dropna(subset=["network_id"])[["seller_id", "network_id"]]
    site_pairs = earlier.seller_sites.merge(member, on="seller_id").rename(
        columns={"network_id": "other_network_id"}
    )
    rows = _with_sites(rows, "other_network_id", site_pairs)
    mine = np.where(rows["n_mine"] == 1, "1 account", rows["n_mine"].astype(str) + " accounts")
    theirs = rows["n_other_sellers"].astype(str)
    rows["explanation"] = (
        "network " + rows["network_id"] + " has " + mine + " linked to " + theirs
        + " account(s) of network " + rows["other_network_id"] + " in case " + earlier.name
        + rows["sites_text"]
    )  # fmt: skip
    rows["match"] = "network"
    return rows.drop(columns=["n_mine", "sites_text"])


def _site_rows(this: _This, earlier: Earlier) -> pd.DataFrame:
    """Sites of this case overlapping a site of the earlier case (circles of radius_m)."""
    from workbench.coords import haversine_m

    mine, theirs = this.sites, earlier.sites
    if mine.empty or theirs.empty:
        return pd.DataFrame(columns=[*XREF_COLUMNS])
    out = []
    lat2, lon2 = theirs["lat"].to_numpy(float), theirs["lon"].to_numpy(float)
    r2 = theirs["radius_m"].to_numpy(float)
    for start in range(0, len(mine), 2_000):  # bounded memory: 2,000 x sites at a time
        part = mine.iloc[start : start + 2_000]
        lat1, lon1 = part["lat"].to_numpy(float), part["lon"].to_numpy(float)
        dist = haversine_m(lat1[:, None], lon1[:, None], lat2[None, :], lon2[None, :])
        near = dist <= part["radius_m"].to_numpy(float)[:, None] + r2[None, :]
        i, j = np.nonzero(near)
        out.append(
            pd.DataFrame(
                {
                    "site_id": part["site_id"].to_numpy()[i],
                    "other_site_ids": theirs["site_id"].to_numpy()[j],
                    "review_status": theirs["status"].to_numpy()[j],
                    "distance_m": np.rint(dist[i, j]).astype(int),
                }
            )
        )
    rows = pd.concat(out, ignore_index=True)
    if rows.empty:
        return pd.DataFrame(columns=[*XREF_COLUMNS])
    rows["explanation"] = (
        "this site lies " + rows["distance_m"].astype(str) + " m from site "
        + rows["other_site_ids"] + " of case " + earlier.name + ", "
        + rows["review_status"].map(STATUS_WORDS)
    )  # fmt: skip
    rows["match"] = "site"
    return rows.drop(columns=["distance_m"])


def _matches(this: _This, earlier: Earlier) -> pd.DataFrame:
    """Every match of this case with one earlier case, as rows of the table."""
    identifiers, pairs = _identifier_rows(this, earlier)
    sellers = _seller_rows(this, earlier)
    linked = pd.concat(
        [
            pairs[["seller_id", "network_id", "other_seller", "other_network_id"]],
            sellers.rename(columns={"other_seller_ids": "other_seller"})[
                ["seller_id", "network_id", "other_seller", "other_network_id"]
            ],
        ],
        ignore_index=True,
    )
    parts = [sellers, identifiers, _network_rows(earlier, linked), _site_rows(this, earlier)]
    parts = [p for p in parts if len(p)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[*XREF_COLUMNS])
    return rows.assign(
        source="case",
        source_name=earlier.name,
        source_path=str(earlier.path),
        source_hash=earlier.head_hash,
    )


def cross_reference(
    case: Case,
    against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> pd.DataFrame:
    """Flag what this case shares with earlier cases; store and return the matches.

    Parameters
    ----------
    case : the open case to cross-reference (it is written: its ``cross_references``)
    against : a folder of earlier cases (``NAME.case`` folders, ``.gpkg`` files), or a
        list of case paths; the case itself is skipped when it is among them

    Returns the rows stored (see :func:`cross_references`). Earlier cases are opened
    read-only and never changed.

    >>> found = cross_reference(case, "cases/2025")        # doctest: +SKIP
    >>> found.loc[found["match"] == "identifier", "explanation"].iloc[0]   # doctest: +SKIP
    'this bank card was on 3 accounts of network N0004 in case putian-2025, site S002
    confirmed counterfeit'
    """
    own = case.path.resolve()
    paths = [p for p in case_paths(against) if p != own]
    if not paths:
        raise InputError(f"against: no earlier case besides {case.path} itself; pass other cases")
    frame, inputs, this, options = matches_in(paths, lambda: _this(case))
    return store_matches(
        case, frame, source="case", names=None, action="cross-reference",
        parameters=entry_parameters(frame, inputs, options, this),
        inputs=inputs, index=None if this.stored else this.index,
    )  # fmt: skip


def matches_in(
    paths: list[Any],
    this_of: Callable[[], tuple[_This, dict[str, Any]]],
    read: Callable[[Any], Earlier] = read_earlier,
    check: Callable[[Any], None] | None = None,
) -> tuple[pd.DataFrame, list[dict[str, Any]], _This, dict[str, Any]]:
    """What the case ``this_of`` gives (called once the first earlier cases are being
    read) shares with the earlier cases at ``paths``: the matches, one input per earlier
    case (its audit head), the case and its linking options. ``read`` reads an earlier
    case (default: a case file's path) and ``check`` says, before any long work, whether
    each is a case (default: opens each path read-only)."""
    for path in paths:  # every one a case, before any long work
        if check is not None:
            check(path)
            continue
        with read_only(path):
            pass
    load_ahead()  # numba's import and the cached join, while the first cases are read
    found, inputs = [], []
    # earlier cases are read on threads (their own read-only connections) while this
    # case's index is built, a few ahead of the matching so memory stays bounded
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="xref-read") as pool:
        waiting = iter(paths)
        ahead: collections.deque[Future[Earlier]] = collections.deque()

        def read_ahead() -> None:
            while len(ahead) < _AHEAD and (path := next(waiting, None)) is not None:
                ahead.append(pool.submit(read, path))

        read_ahead()
        this, options = this_of()
        while ahead:
            earlier = ahead.popleft().result()
            read_ahead()
            found.append(_matches(this, earlier))
            inputs.append(
                {
                    "case": earlier.name,
                    "path": str(earlier.path),
                    "audit_seq": earlier.head_seq,
                    "audit_head": earlier.head_hash,
                    "index": "stored" if earlier.index_stored else "rebuilt",
                }
            )
            del earlier
    return pd.concat(found, ignore_index=True), inputs, this, options


def entry_parameters(
    frame: pd.DataFrame, inputs: list[dict[str, Any]], options: dict[str, Any], this: _This
) -> dict[str, Any]:
    """The parameters of a cross-reference's audit entry."""
    counts = frame["match"].value_counts().to_dict() if len(frame) else {}
    return {
        "n_cases": len(inputs),
        "matches": {str(k): int(v) for k, v in sorted(counts.items())},
        "max_accounts": options["max_accounts"],
        "include_weak": options["include_weak"],
        "index": "stored" if this.stored else "rebuilt",
    }
