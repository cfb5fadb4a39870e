"""Cross-reference flags per network: where its accounts were seen before.

A case's cross-references (``workbench.case.cross_references``: matches with earlier cases
and with partner platforms' lists) name accounts by ``seller_id``; this module counts them per
network of the current linking, so the flags stay right when the sellers are linked again.

>>> flagged = flag_networks(nets.summary, nets.membership, rows)   # doctest: +SKIP
>>> flagged["seen_before"].iloc[0]                                # doctest: +SKIP
'seen in case putian-2025 as N0004 (a site there confirmed); 2 accounts on a partner list
(acme-exchange)'
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FLAG_COLUMNS", "flag_networks"]

FLAG_COLUMNS = ("seen_before", "n_earlier_cases", "n_partner_listed")
_ACCOUNT_MATCHES = ("seller", "identifier")


def _earlier(rows: pd.DataFrame) -> pd.Series:
    """Per network: 'seen in case C as N0004 (a site there confirmed)', one per earlier
    case and network, most serious review first within a case."""
    if rows.empty:
        return pd.Series(dtype=object)
    rows = rows.assign(
        other=rows["other_network_id"].where(rows["other_network_id"].notna(), None),
        confirmed=rows["review_status"].eq("confirmed"),
    )
    phrases: dict[str, list[str]] = {}
    keys = ["network", "source_name"]
    for (network, case), group in rows.groupby(keys, sort=True, dropna=True):
        others = sorted({str(o) for o in group["other"].dropna()})
        text = f"seen in case {case}"
        text += f" as {', '.join(others)}" if others else " (accounts in no network)"
        if group["confirmed"].any():
            text += " (a site there confirmed)"
        phrases.setdefault(str(network), []).append(text)
    return pd.Series({k: "; ".join(v) for k, v in phrases.items()}, dtype=object)


def _listed(rows: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per network: how many accounts are on a partner's list, and the phrase saying so."""
    if rows.empty:
        return pd.Series(dtype=int), pd.Series(dtype=object)
    per_list = rows.groupby(["network", "source_name"], sort=True)["seller_id"].nunique()
    n = rows.groupby("network")["seller_id"].nunique()
    phrases = {}
    for network, lists in per_list.groupby(level="network"):
        names = ", ".join(str(name) for _, name in lists.index)
        accounts = int(n[network])
        noun = "account" if accounts == 1 else "accounts"
        lst = "a partner list" if len(lists) == 1 else "partner lists"
        phrases[str(network)] = f"{accounts} {noun} on {lst} ({names})"
    return n, pd.Series(phrases, dtype=object)


def flag_networks(
    summary: pd.DataFrame, membership: pd.DataFrame, cross_references: pd.DataFrame
) -> pd.DataFrame:
    """``summary`` (one row per network) with the cross-reference flags of its accounts.

    Parameters
    ----------
    summary : one row per network with ``network_id`` (``Networks.summary``)
    membership : ``seller_id``, ``network_id`` of the current linking
    cross_references : the case's matches (columns of ``workbench.case.cross_references``)

    Adds ``seen_before`` (text: the earlier cases and their networks that hold accounts or
    identifiers of this network, ``network`` matches included, and the accounts on partner
    lists; "" when none), ``n_earlier_cases`` and ``n_partner_listed`` (accounts). Account
    and identifier matches are placed by ``seller_id`` in the current networks.
    """
    out = summary.copy()
    member = membership.dropna(subset=["network_id"])
    network_of = dict(
        zip(member["seller_id"].astype(str), member["network_id"].astype(str), strict=True)
    )
    rows = cross_references
    if rows.empty or out.empty:
        out["seen_before"], out["n_earlier_cases"], out["n_partner_listed"] = "", 0, 0
        return out
    rows = rows.assign(network=rows["seller_id"].map(network_of, na_action="ignore"))
    nets = rows["match"].eq("network")
    rows.loc[nets, "network"] = rows.loc[nets, "network_id"]
    rows = rows.dropna(subset=["network"])
    partner = rows["source"].eq("partner")
    earlier = rows[~partner & rows["match"].isin([*_ACCOUNT_MATCHES, "network"])]
    seen = _earlier(earlier)
    n_cases = earlier.groupby("network")["source_name"].nunique()
    n_listed, listed = _listed(rows[partner])
    ids = out["network_id"].astype(str)
    both = pd.concat([seen.reindex(ids), listed.reindex(ids)], axis=1)
    out["seen_before"] = [
        "; ".join(str(p) for p in pair if isinstance(p, str) and p)
        for pair in both.itertuples(index=False, name=None)
    ]
    out["n_earlier_cases"] = n_cases.reindex(ids).fillna(0).astype(int).to_numpy()
    out["n_partner_listed"] = n_listed.reindex(ids).fillna(0).astype(int).to_numpy()
    return out
