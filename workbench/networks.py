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

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from workbench.errors import InputError, MissingColumnsError, NotFoundError

__all__ = ["STRONG_KINDS", "WEAK_KINDS", "Networks", "explain_link", "link_sellers", "normalise"]

STRONG_KINDS = frozenset(
    {"id_document", "bank_card", "phone", "device", "payment_account", "email"}
)
WEAK_KINDS = frozenset({"address"})
_NON_DIGITS = re.compile(r"\D+")
_SEPARATORS = re.compile(r"[\s\-_.]+")


def _normalise_phone(values: pd.Series) -> pd.Series:
    """Chinese numbers to E.164: '0086-138...', '+86 138 ...', '138...' -> '+86138...'."""
    digits = values.str.replace(_NON_DIGITS, "", regex=True).str.replace(r"^00", "", regex=True)
    mobile = digits.str.fullmatch(r"1[3-9]\d{9}").fillna(False).astype(bool)
    return ("+" + digits).where(~mobile, "+86" + digits)


def normalise(kind: pd.Series, value: pd.Series) -> pd.Series:
    """Normalised identifier values, by kind; the raw value is kept by the caller."""
    text = value.astype(str).str.strip()
    out = text.str.casefold()
    phone = kind == "phone"
    out[phone] = _normalise_phone(text[phone])
    stripped = kind.isin(["bank_card", "id_document", "device", "payment_account"])
    out[stripped] = text[stripped].str.replace(_SEPARATORS, "", regex=True).str.upper()
    address = kind == "address"
    out[address] = text[address].str.replace(r"\s+", "", regex=True).str.casefold()
    return out


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

    def network_of(self, seller_id: str) -> str | None:
        row = self.membership.loc[self.membership["seller_id"] == seller_id, "network_id"]
        if row.empty:
            raise NotFoundError(f"seller_id={seller_id!r} is not among the linked sellers")
        value = row.iloc[0]
        return None if pd.isna(value) else str(value)


def _check(frame: pd.DataFrame, name: str, required: Iterable[str]) -> None:
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise MissingColumnsError(name, missing, list(frame.columns))


def link_sellers(
    sellers: pd.DataFrame,
    identifiers: pd.DataFrame,
    *,
    max_accounts: int = 50,
    allow_list: Iterable[str] = (),
    include_weak: bool = False,
) -> Networks:
    """Group seller accounts into networks through shared identifiers.

    Parameters
    ----------
    sellers : frame with ``seller_id``
    identifiers : frame with ``seller_id``, ``kind``, ``value``
    max_accounts : an identifier on more accounts than this is infrastructure, not a link
    allow_list : normalised or raw values that never link (a courier hotline, say)
    include_weak : also link through weak kinds (shared addresses)
    """
    _check(sellers, "sellers", ["seller_id"])
    _check(identifiers, "identifiers", ["seller_id", "kind", "value"])
    if max_accounts < 2:
        raise InputError(f"max_accounts must be at least 2, got {max_accounts}")
    seller_ids = pd.Index(pd.unique(sellers["seller_id"].astype(str)))
    known = identifiers["seller_id"].astype(str).isin(seller_ids)
    unknown = identifiers[~known].reset_index(drop=True)
    ids = identifiers[known].copy()
    ids["seller_id"] = ids["seller_id"].astype(str)
    ids["kind"] = ids["kind"].astype(str)
    ids["value_norm"] = normalise(ids["kind"], ids["value"])
    ids = ids[ids["value_norm"] != ""].drop_duplicates(["seller_id", "kind", "value_norm"])
    accounts = ids.groupby(["kind", "value_norm"])["seller_id"].transform("nunique")
    raw_allowed = list(allow_list)
    # an allow-list entry matches an identifier of any kind once both are normalised as it
    allowed_norm = {
        (kind, value)
        for kind in STRONG_KINDS | WEAK_KINDS
        for value in normalise(pd.Series([kind] * len(raw_allowed)), pd.Series(raw_allowed))
    }
    on_allow_list = pd.MultiIndex.from_frame(ids[["kind", "value_norm"]]).isin(allowed_norm)
    infra_mask = (accounts > max_accounts) | on_allow_list
    kinds_used = STRONG_KINDS | (WEAK_KINDS if include_weak else frozenset())
    linking = ids[~infra_mask & (accounts > 1) & ids["kind"].isin(kinds_used)]

    seller_pos = seller_ids.get_indexer(pd.Index(linking["seller_id"]))
    ident_codes, _ = pd.factorize(linking["kind"] + "\x1f" + linking["value_norm"])
    n_sellers = len(seller_ids)
    graph = coo_matrix(
        (np.ones(len(linking), dtype=np.int8), (seller_pos, ident_codes + n_sellers)),
        shape=(n_sellers + ident_codes.max(initial=-1) + 1,) * 2,
    )
    _, component = connected_components(graph, directed=False)
    comp = pd.Series(component[:n_sellers], index=seller_ids)
    size = comp.map(comp.value_counts())
    order = (
        size[size > 1].groupby(comp[size > 1]).size().sort_values(ascending=False, kind="stable")
    )
    names = {c: f"N{i + 1:04d}" for i, c in enumerate(order.index)}
    network = comp.map(names)
    membership = pd.DataFrame(
        {"seller_id": seller_ids, "network_id": network.to_numpy(), "network_size": size.to_numpy()}
    )
    links = linking.assign(network_id=linking["seller_id"].map(network))[
        ["network_id", "seller_id", "kind", "value", "value_norm"]
    ].reset_index(drop=True)
    summary = (
        links.groupby("network_id")
        .agg(
            kinds=("kind", lambda k: sorted(set(k))),
            n_shared_identifiers=("value_norm", "nunique"),
        )
        .join(membership.groupby("network_id").size().rename("n_sellers"))
        .reset_index()
        .sort_values(["n_sellers", "network_id"], ascending=[False, True], ignore_index=True)
    )[["network_id", "n_sellers", "kinds", "n_shared_identifiers"]]
    infrastructure = (
        ids[infra_mask]
        .groupby(["kind", "value_norm"])
        .agg(n_accounts=("seller_id", "nunique"), value=("value", "first"))
        .reset_index()
        .sort_values("n_accounts", ascending=False, ignore_index=True)
    )
    params: dict[str, object] = {
        "max_accounts": max_accounts,
        "allow_list": sorted(raw_allowed),
        "include_weak": include_weak,
    }
    return Networks(membership, summary, links, infrastructure, params, unknown)


def explain_link(networks: Networks, seller_a: str, seller_b: str) -> str:
    """The shortest chain of shared identifiers joining two accounts, or why there is none.

    >>> explain_link(nets, "S1", "S9")             # doctest: +SKIP
    'S1 -phone +8613800138000-> S7 -bank_card 6222021234567890-> S9'
    """
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
