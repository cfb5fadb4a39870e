"""Seller networks: link accounts that share identifiers, keeping infrastructure out.

Identifiers are normalised (phones to E.164, e-mails case-folded, card and document numbers
stripped of spaces and dashes), then accounts sharing a normalised identifier are joined
with connected components on a sparse seller-identifier graph (no Python loop per row).
An identifier shared by more than ``max_accounts`` accounts, or on ``allow_list``, is
shared infrastructure (a courier hotline, a marketplace's payment account) and links
nothing; it is reported with its count instead.

>>> nets = link_sellers(sellers, identifiers)      # doctest: +SKIP
>>> nets.summary.head()                            # doctest: +SKIP
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from workbench.errors import InputError, NotFoundError, require_columns
from workbench.networks._identifiers import STRENGTH, STRENGTH_ORDER, normalise, strength_of

__all__ = [
    "WEAK_KINDS",
    "Networks",
    "describe_networks",
    "explain_link",
    "infrastructure_threshold",
    "link_sellers",
    "normalise",
]

WEAK_KINDS = frozenset(k for k, v in STRENGTH.items() if v == "weak")
MIN_INFRASTRUCTURE_ACCOUNTS = 20


@dataclass
class Networks:
    """Result of :func:`link_sellers`.

    Attributes
    ----------
    membership : seller_id, network_id (NA for accounts linked to nobody), network_size
    summary : one row per network: network_id, n_sellers, kinds, n_shared_identifiers
    links : the identifiers that bind networks: network_id, seller_id, kind, value, value_norm
    infrastructure : identifiers shared too widely to link: kind, value_norm, n_accounts
    parameters : what the linking ran with
    unknown_sellers : identifier rows naming an account missing from the sellers table
        (kept out of the networks, shown here so nothing is lost)
    """

    membership: pd.DataFrame
    summary: pd.DataFrame
    links: pd.DataFrame
    infrastructure: pd.DataFrame
    parameters: dict[str, object]
    unknown_sellers: pd.DataFrame
    # one row per (account, normalised identifier) as counted here: seller (the account's
    # code), kind, value_norm, n_accounts (None with custom e-mail rules); a case indexes
    # them for cross-references instead of normalising and counting again
    _normalised: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    def network_of(self, seller_id: str) -> str | None:
        row = self.membership.loc[self.membership["seller_id"] == seller_id, "network_id"]
        if row.empty:
            raise NotFoundError(f"seller_id={seller_id!r} is not among the linked sellers")
        value = row.iloc[0]
        return None if pd.isna(value) else str(value)


def infrastructure_threshold(share_counts: pd.Series) -> int:
    """Accounts above which a shared identifier counts as infrastructure, from the data.

    The upper outer fence of the log share counts of identifiers shared by 2+ accounts
    (``Q3 + 3 IQR`` in log space), and never below ``MIN_INFRASTRUCTURE_ACCOUNTS``: rings
    share an identifier among a handful of accounts, a courier hotline among hundreds.
    """
    shared = share_counts[share_counts >= 2].to_numpy(dtype=float)
    if len(shared) < 4:
        return MIN_INFRASTRUCTURE_ACCOUNTS
    q1, q3 = np.quantile(np.log(shared), [0.25, 0.75])
    fence = float(np.exp(q3 + 3 * (q3 - q1)))
    return max(MIN_INFRASTRUCTURE_ACCOUNTS, int(np.floor(fence)))


def link_sellers(
    sellers: pd.DataFrame,
    identifiers: pd.DataFrame | None = None,
    *,
    max_accounts: int | None = None,
    allow_list: Iterable[str] = (),
    include_weak: bool = False,
    region: str = "CN",
    email_rules: Mapping[str, tuple[str, ...]] | None = None,
    shipments: pd.DataFrame | None = None,
    evidence: pd.DataFrame | None = None,
) -> Networks:
    """Group seller accounts into networks through shared identifiers.

    Parameters
    ----------
    sellers : frame with ``seller_id`` (a case links its own: :meth:`Case.link_sellers`)
    identifiers : frame with ``seller_id``, ``kind``, ``value``
    max_accounts : an identifier on more accounts is infrastructure, not a link; default
        chosen from the data (:func:`infrastructure_threshold`)
    allow_list : values that never link (a courier hotline), raw or normalised
    include_weak : also link through weak kinds (shared addresses)
    region : country whose national phone format is assumed (ISO code)
    email_rules : providers whose dots / plus-tags are ignored (see ``_identifiers``)
    shipments, evidence : when given, the summary gets volumes, brands, area and verdicts
    """
    if not isinstance(sellers, pd.DataFrame):
        raise InputError(
            f"sellers: expected a frame with seller_id, got {type(sellers).__name__}; for a "
            "case, call case.link_sellers(...), which reads its tables and stores the result"
        )
    if identifiers is None:
        raise InputError("identifiers: a frame of seller_id, kind, value is needed")
    require_columns(sellers, "sellers", ["seller_id"])
    require_columns(identifiers, "identifiers", ["seller_id", "kind", "value"])
    if max_accounts is not None and max_accounts < 2:
        raise InputError(f"max_accounts must be at least 2, got {max_accounts}")
    # one factorize over both tables gives every account an integer code (Arrow, in C);
    # accounts of the sellers table come first, so a larger code means an unknown account
    codes, names = pd.factorize(
        pd.concat(
            [sellers["seller_id"].astype(str), identifiers["seller_id"].astype(str)],
            ignore_index=True,
        )
    )
    n_known = int(codes[: len(sellers)].max(initial=-1)) + 1
    seller_ids = pd.Index(names[:n_known])
    id_codes = codes[len(sellers) :]
    known = id_codes < n_known
    unknown = identifiers[~known].reset_index(drop=True)
    ids = identifiers[known].copy()
    ids["seller_code"] = id_codes[known]
    ids["seller_id"] = ids["seller_id"].astype(str)
    ids["kind"] = ids["kind"].astype(str).str.strip().str.casefold()
    ids["value_norm"] = normalise(ids["kind"], ids["value"], region=region, email_rules=email_rules)
    n_placeholders = int((ids["value_norm"] == "").sum())
    ids = ids[ids["value_norm"] != ""]
    # one integer code per identifier (kind + normalised value); counting on codes is fast
    ident, _ = pd.factorize(ids["kind"] + "\x1f" + ids["value_norm"])
    seller_code = ids["seller_code"].to_numpy()
    pair = seller_code.astype(np.int64) * (int(ident.max(initial=0)) + 1) + ident
    _, first = np.unique(pair, return_index=True)
    first.sort()
    ids = ids.take(first).reset_index(drop=True)
    ident = ident[first]
    per_identifier = np.bincount(ident)
    accounts = per_identifier[ident]
    normalised = None
    if email_rules is None:
        normalised = pd.DataFrame(
            {"seller": ids["seller_code"].to_numpy(), "kind": ids["kind"],
             "value_norm": ids["value_norm"], "n_accounts": accounts}
        )  # fmt: skip
    weak = ids["kind"].isin(WEAK_KINDS).to_numpy()
    threshold = max_accounts or infrastructure_threshold(
        pd.Series(np.bincount(ident[~weak], minlength=len(per_identifier)))
    )
    raw_allowed = [str(v) for v in allow_list]
    on_allow_list = np.zeros(len(ids), dtype=bool)
    if raw_allowed:
        allowed = {
            (kind, value)
            for kind in set(ids["kind"]) | set(STRENGTH)
            for value in normalise(
                pd.Series([kind] * len(raw_allowed)),
                pd.Series(raw_allowed),
                region=region,
                email_rules=email_rules,
            )
        }
        on_allow_list = pd.MultiIndex.from_frame(ids[["kind", "value_norm"]]).isin(allowed)
    infra_mask = (accounts > threshold) | on_allow_list
    linkable = include_weak | ~weak
    linking = ids[~infra_mask & (accounts > 1) & linkable]
    membership = _components(seller_ids, linking)
    links = linking.assign(
        network_id=membership["network_id"].to_numpy()[linking["seller_code"].to_numpy()]
    )[["network_id", "seller_id", "kind", "value", "value_norm"]].reset_index(drop=True)
    infrastructure = (
        ids[infra_mask]
        .groupby(["kind", "value_norm"])
        .agg(n_accounts=("seller_id", "nunique"), value=("value", "first"))
        .reset_index()
        .sort_values("n_accounts", ascending=False, ignore_index=True)
    )
    params: dict[str, object] = {
        "max_accounts": int(threshold),
        "max_accounts_from": "given" if max_accounts else "data",
        "allow_list": sorted(raw_allowed),
        "include_weak": include_weak,
        "region": region,
        "n_placeholders": n_placeholders,
    }
    summary = describe_networks(membership, links, shipments=shipments, evidence=evidence)
    return Networks(membership, summary, links, infrastructure, params, unknown, normalised)


def _components(seller_ids: pd.Index, linking: pd.DataFrame) -> pd.DataFrame:
    """Connected components of the seller-identifier graph: one network id per seller."""
    seller_pos = linking["seller_code"].to_numpy()
    ident_codes, _ = pd.factorize(linking["kind"] + "\x1f" + linking["value_norm"])
    n_sellers = len(seller_ids)
    graph = coo_matrix(
        (np.ones(len(linking), dtype=np.int8), (seller_pos, ident_codes + n_sellers)),
        shape=(n_sellers + ident_codes.max(initial=-1) + 1,) * 2,
    )
    _, component = connected_components(graph, directed=False)
    comp = component[:n_sellers]
    sizes = np.bincount(comp)
    # deterministic names: larger networks first, ties by their first account in the table
    first = np.full(len(sizes), n_sellers)
    np.minimum.at(first, comp, np.arange(n_sellers))
    linked = np.flatnonzero(sizes > 1)
    ranked = linked[np.lexsort((first[linked], -sizes[linked]))]
    names = np.full(len(sizes), None, dtype=object)
    names[ranked] = [f"N{i + 1:04d}" for i in range(len(ranked))]
    return pd.DataFrame(
        {
            "seller_id": seller_ids,
            "network_id": names[comp],
            "network_size": sizes[comp],
        }
    )


def describe_networks(
    membership: pd.DataFrame,
    links: pd.DataFrame,
    *,
    shipments: pd.DataFrame | None = None,
    evidence: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per network: size, binding kinds and strength, and (given the frames)
    waybills, brands, ship-from area, verdicts, first and last waybill."""
    member = membership.dropna(subset=["network_id"])
    summary = (
        links.assign(order=strength_of(links["kind"]).map(STRENGTH_ORDER))
        .groupby("network_id")
        .agg(
            kinds=("kind", lambda k: sorted(set(k))),
            n_shared_identifiers=("value_norm", "nunique"),
            best=("order", "max"),
        )
        .join(member.groupby("network_id").size().rename("n_sellers"))
        .reset_index()
    )
    names = {v: k for k, v in STRENGTH_ORDER.items()}
    summary["strength"] = summary.pop("best").map(names)
    summary = summary[["network_id", "n_sellers", "kinds", "strength", "n_shared_identifiers"]]
    if shipments is not None and len(shipments) and len(summary):
        summary = summary.merge(_shipping(member, shipments), on="network_id", how="left")
    if evidence is not None and len(summary):
        summary = summary.merge(_verdicts(member, evidence), on="network_id", how="left")
        for column in ("n_counterfeit", "n_genuine"):
            summary[column] = summary[column].fillna(0).astype(int)
    return summary.sort_values(
        ["n_sellers", "network_id"], ascending=[False, True], ignore_index=True
    )


def _shipping(member: pd.DataFrame, shipments: pd.DataFrame) -> pd.DataFrame:
    from workbench.gazetteer import jurisdictions

    ships = shipments.assign(seller_id=shipments["seller_id"].astype(str)).merge(
        member[["seller_id", "network_id"]], on="seller_id"
    )
    rows = []
    for net, group in ships.groupby("network_id", sort=False):
        row: dict[str, object] = {"network_id": net, "n_shipments": len(group)}
        if "brand" in group:
            row["brands"] = group["brand"].dropna().value_counts().index[:5].tolist()
        if "shipped_at" in group:
            dates = pd.to_datetime(group["shipped_at"])
            row["first_seen"], row["last_seen"] = dates.min(), dates.max()
        cells = group[["lat", "lon"]].dropna().round(2).value_counts()
        if len(cells):
            lat, lon = cells.index[0]
            place = jurisdictions(np.array([lat]), np.array([lon])).iloc[0]
            row["area"] = ", ".join(p for p in (place["place"], place["province"]) if p)
        rows.append(row)
    return pd.DataFrame(rows)


def _verdicts(member: pd.DataFrame, evidence: pd.DataFrame) -> pd.DataFrame:
    ev = evidence.assign(seller_id=evidence["seller_id"].astype(str)).merge(
        member[["seller_id", "network_id"]], on="seller_id"
    )
    counts = ev.groupby(["network_id", "verdict"]).size().unstack(fill_value=0)
    return pd.DataFrame(
        {
            "network_id": counts.index,
            "n_counterfeit": counts.get("counterfeit", 0),
            "n_genuine": counts.get("genuine", 0),
        }
    ).reset_index(drop=True)


def explain_link(networks: Networks, seller_a: str, seller_b: str) -> str:
    """The shortest chain of shared identifiers joining two accounts, or why there is none.

    For a case, pass its stored networks: ``explain_link(case.networks(), a, b)``.

    >>> explain_link(nets, "S1", "S9")             # doctest: +SKIP
    'S1 -phone +8613800138000-> S7 -bank_card 6222021234567890-> S9'
    """
    if not isinstance(networks, Networks):
        raise InputError(
            f"networks: expected a Networks result, got {type(networks).__name__}; for a "
            "case, pass case.networks()"
        )
    net_a, net_b = networks.network_of(seller_a), networks.network_of(seller_b)
    if net_a is None or net_a != net_b:
        return (
            f"{seller_a} and {seller_b} share no identifier chain "
            f"(networks: {net_a or 'none'} and {net_b or 'none'})"
        )
    links = networks.links[networks.links["network_id"] == net_a]
    by_seller = links.groupby("seller_id")[["kind", "value_norm"]].apply(
        lambda f: list(f.itertuples(index=False, name=None))
    )
    by_ident = links.groupby(["kind", "value_norm"])["seller_id"].apply(list)
    previous: dict[str, tuple[str, tuple[str, str]] | None] = {seller_a: None}
    queue = deque([seller_a])
    while queue:
        current = queue.popleft()
        if current == seller_b:
            break
        for ident in by_seller.get(current, []):
            for nxt in by_ident[ident]:
                if nxt not in previous:
                    previous[nxt] = (current, ident)
                    queue.append(nxt)
    steps: list[str] = [seller_b]
    node = seller_b
    while (step := previous[node]) is not None:
        node, (kind, value) = step
        steps.append(f"{node} -{kind} {value}->")
    return " ".join(reversed(steps))
