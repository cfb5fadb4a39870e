"""What a relocation rests on: the places, the event it follows, the shared identifiers,
and the English sentences that say so (private helpers of :mod:`._relocation`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from workbench.coords import haversine_m
from workbench.errors import InputError, require_columns

_KIND_NAMES = {
    "bank_card": "bank card", "id_document": "ID document", "payment_account": "payment account",
    "email": "e-mail", "phone": "phone", "device": "device", "address": "address",
}  # fmt: skip
_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_EVENT_REACH_M = 300.0  # an event of another run goes to the site whose radius + this holds it
_SHOWN_IDENTIFIERS = 2
_EVENT_RANK = {"raid": 3, "takedown": 2, "test_buy_campaign": 1}


def empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def site_sellers(sites: pd.DataFrame) -> pd.DataFrame:
    """(site_id, seller_id) for every account listed on a site."""
    listed = sites["sellers"]
    bad = [i for i, v in enumerate(listed) if not isinstance(v, list | tuple | np.ndarray)]
    if bad:
        raise InputError(
            f"sites: sellers of site {sites['site_id'].iloc[bad[0]]!r} (row {bad[0]}) is "
            f"{listed.iloc[bad[0]]!r}; expected a list of seller ids"
        )
    pairs = sites[["site_id", "sellers"]].explode("sellers").dropna()
    return pd.DataFrame(
        {"site_id": pairs["site_id"].astype(str), "seller_id": pairs["sellers"].astype(str)}
    ).drop_duplicates(ignore_index=True)


def _links(links: pd.DataFrame | None) -> pd.DataFrame:
    if links is None:
        return empty(["seller_id", "kind", "value_norm", "value"])
    require_columns(links, "links", ["seller_id", "kind", "value_norm"])
    value = links["value"] if "value" in links.columns else links["value_norm"]
    frame = pd.DataFrame(
        {
            "seller_id": links["seller_id"].astype(str),
            "kind": links["kind"].astype(str),
            "value_norm": links["value_norm"].astype(str),
            "value": value.astype(str),
        }
    )
    return frame.drop_duplicates(["seller_id", "kind", "value_norm"], ignore_index=True)


def identifier_keys(
    sites: pd.DataFrame, links: pd.DataFrame | None, moving: Iterable[str]
) -> pd.DataFrame:
    """(site_id, key) of the linking identifiers held by the accounts of ``moving`` sites."""
    chosen = sites[sites["site_id"].astype(str).isin(set(moving))]
    held = site_sellers(chosen).merge(_links(links), on="seller_id")
    key = "identifier:" + held["kind"] + ":" + held["value_norm"]
    return pd.DataFrame({"site_id": held["site_id"], "key": key}).drop_duplicates()


def place_names(sites: pd.DataFrame) -> pd.Series:
    """site_id -> "Licheng, Putian": district (else place) and prefecture; the offline
    gazetteer names sites that come without names; coordinates when nothing is known."""
    lat, lon = sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)
    if {"place", "prefecture"} <= set(sites.columns):
        known = sites
    else:
        from workbench.gazetteer import jurisdictions

        known = jurisdictions(lat, lon)
    text = {c: _texts(known, c) for c in ("district", "place", "prefecture")}
    local = np.where(text["district"] != "", text["district"], text["place"])
    for suffix in (" District", " County", " Qu", " Xian"):
        local = np.char.replace(local.astype(str), suffix, "")
    prefecture = text["prefecture"]
    name = np.where(
        (local == "") | (local == prefecture),
        prefecture,
        np.where(prefecture == "", local, np.char.add(np.char.add(local, ", "), prefecture)),
    )
    unnamed = name == ""
    coords = [f"{a:.4f}, {b:.4f}" for a, b in zip(lat[unnamed], lon[unnamed], strict=True)]
    name = name.astype(object)
    name[unnamed] = coords
    return pd.Series(name, index=sites["site_id"].astype(str).to_numpy())


def _texts(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), "", dtype=object).astype(str)
    return frame[column].fillna("").astype(str).to_numpy().astype(str)


def _weeks(n: float) -> str:
    n = int(n)
    word = _NUMBERS[n] if 0 <= n < len(_NUMBERS) else str(n)
    return f"{word} week" if n == 1 else f"{word} weeks"


def _day(value: object) -> str:
    return str(pd.Timestamp(value).date())  # type: ignore[arg-type]


def operation_sentences(ops: pd.DataFrame, names: pd.Series) -> list[str]:
    out = []
    for net, ids, first, last in zip(
        ops["network_id"], ops["site_ids"], ops["first_week"], ops["last_week"], strict=True
    ):
        listed = "; ".join(f"{s} {names.get(s, s)}" for s in ids)
        out.append(
            f"{net} ships from {len(ids)} sites side by side ({listed}) from the week of "
            f"{_day(first)} to the week of {_day(last)}: one operation, not a move."
        )
    return out


def place_events(
    events: pd.DataFrame | None, sites: pd.DataFrame, run_id: str | None
) -> pd.DataFrame:
    """Events with the site of *this* run they concern: the one named when the event was
    recorded on this run, else the site whose radius (+300 m) holds the recorded place."""
    columns = ["event_id", "kind", "date", "site_id", "network_id", "seller_ids"]
    if events is None or events.empty:
        return empty(columns).assign(date=pd.Series(dtype="datetime64[ns]"))
    require_columns(events, "events", ["event_id", "kind", "date"])
    n = len(events)

    def col(name: str) -> pd.Series:
        if name in events.columns:
            return events[name].reset_index(drop=True)
        return pd.Series([None] * n, dtype=object)

    dates = pd.to_datetime(col("date"), errors="coerce")
    if dates.isna().any():
        i = int(np.flatnonzero(dates.isna().to_numpy())[0])
        raise InputError(f"events: date {col('date').iloc[i]!r} in row {i} is not a day")
    ids = sites["site_id"].astype(str).to_numpy()
    site = (
        col("site_id").where(col("site_id").isin(set(ids)), None).to_numpy(dtype=object, copy=True)
    )
    other_run = (col("run_id").notna() & (col("run_id") != run_id)).to_numpy() & (
        run_id is not None
    )
    lat, lon = pd.to_numeric(col("lat")), pd.to_numeric(col("lon"))
    placed = other_run & lat.notna().to_numpy() & lon.notna().to_numpy()
    site[other_run] = None
    if placed.any() and len(sites):
        dist = haversine_m(
            lat[placed].to_numpy(float)[:, None], lon[placed].to_numpy(float)[:, None],
            sites["lat"].to_numpy(float)[None, :], sites["lon"].to_numpy(float)[None, :],
        )  # fmt: skip
        radius = sites["radius_m"] if "radius_m" in sites.columns else pd.Series(300.0, sites.index)
        best = np.argmin(dist, axis=1)
        near = dist[np.arange(len(best)), best] <= radius.to_numpy(float)[best] + _EVENT_REACH_M
        site[placed] = np.where(near, ids[best], None)
    sellers = [
        list(v) if isinstance(v, list | tuple | np.ndarray) else [] for v in col("seller_ids")
    ]
    return pd.DataFrame(
        {
            "event_id": col("event_id").astype(str), "kind": col("kind").astype(str),
            "date": dates, "site_id": site, "network_id": col("network_id"),
            "seller_ids": sellers,
        }
    )  # fmt: skip


def attach_events(
    moves: pd.DataFrame,
    events: pd.DataFrame,
    sites: pd.DataFrame,
    networks: pd.DataFrame | None,
    event_weeks: float,
) -> pd.DataFrame:
    """The event that concerns the old site (the site itself, its accounts or the network)
    between ``event_weeks`` before its last active week and the new site's start: a raid
    if there is one, else a takedown, else the latest."""
    out = moves.assign(event_id=None, event_kind=None, weeks_after_event=None)
    out["event_date"] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns]")
    out["event_on"] = None
    if events.empty:
        return out
    on_site = events.dropna(subset=["site_id"])
    direct = pd.DataFrame(
        {"event_id": on_site["event_id"], "from_site": on_site["site_id"], "on": on_site["site_id"]}
    )
    named = events[["event_id", "seller_ids"]].explode("seller_ids").dropna()
    named = named.rename(columns={"seller_ids": "seller_id"})
    by_account = named.merge(site_sellers(sites), on="seller_id")
    counts = by_account.groupby(["event_id", "site_id"], as_index=False).size()
    accounts = pd.DataFrame(
        {
            "event_id": counts["event_id"],
            "from_site": counts["site_id"],
            "on": counts["size"].map(lambda k: f"{k} of its accounts" if k > 1 else "an account"),
        }
    )
    nets = events.dropna(subset=["network_id"])
    indexed = out.reset_index(names="row")[
        ["row", "from_site", "network_id", "from_last_week", "to_first_week"]
    ]
    hits = pd.concat(
        [
            indexed.merge(pd.concat([direct, accounts]), on="from_site"),
            indexed.merge(
                pd.DataFrame({"event_id": nets["event_id"], "network_id": nets["network_id"],
                              "on": "network " + nets["network_id"].astype(str)}),
                on="network_id",
            ),
        ],
        ignore_index=True,
    )  # fmt: skip
    if hits.empty:
        return out
    hits = hits.merge(events[["event_id", "kind", "date"]], on="event_id")
    lo = hits["from_last_week"] - pd.to_timedelta(7 * event_weeks, unit="D")
    hi = hits["to_first_week"] + pd.Timedelta(days=6)
    hits = hits[(hits["date"] >= lo) & (hits["date"] <= hi)]
    # a raid before a takedown before the rest; then the latest
    hits = hits.assign(rank=hits["kind"].map(_EVENT_RANK).fillna(0))
    hits = hits.sort_values(["row", "rank", "date", "event_id"])
    hits = hits.drop_duplicates("row", keep="last")
    rows = hits["row"].to_numpy()
    days = (hits["to_first_week"] - hits["date"]).dt.days.to_numpy()
    out.loc[rows, "event_id"] = hits["event_id"].to_numpy()
    out.loc[rows, "event_kind"] = hits["kind"].to_numpy()
    out.loc[rows, "event_date"] = hits["date"].to_numpy()
    out.loc[rows, "weeks_after_event"] = np.maximum(np.round(days / 7), 0).astype(int)
    out.loc[rows, "event_on"] = hits["on"].to_numpy()
    return out


def attach_identifiers(
    moves: pd.DataFrame,
    sites: pd.DataFrame,
    networks: pd.DataFrame | None,
    links: pd.DataFrame | None,
    events: pd.DataFrame,
) -> pd.DataFrame:
    """New accounts at the new site, and how many share an identifier with the accounts
    left behind (those of the old site and of the event the move follows)."""
    accounts = site_sellers(sites)
    pairs = moves.reset_index(names="row")[
        ["row", "from_site", "to_site", "network_id", "event_id"]
    ]
    new = pairs.merge(accounts.rename(columns={"site_id": "to_site"}), on="to_site")
    if networks is not None:  # the network's accounts (all of them, for no network)
        member = networks[["seller_id", "network_id"]].dropna().astype(str)
        unnamed = new[new["network_id"].isna()]
        new = pd.concat([new.merge(member, on=["seller_id", "network_id"]), unnamed])
    old = pairs.merge(accounts.rename(columns={"site_id": "from_site"}), on="from_site")
    named = events[["event_id", "seller_ids"]].explode("seller_ids").dropna()
    old_named = pairs.merge(named.rename(columns={"seller_ids": "seller_id"}), on="event_id")
    old = pd.concat([old[["row", "seller_id"]], old_named[["row", "seller_id"]]])
    new = new[["row", "seller_id"]].merge(
        old.assign(left=True), how="left", on=["row", "seller_id"]
    )
    new = new[new["left"].isna()][["row", "seller_id"]].drop_duplicates()
    out = moves.copy()
    out["n_new_accounts"] = new.groupby("row").size().reindex(out.index, fill_value=0).to_numpy()
    held = _links(links)
    taken = {s for k, ids in zip(events["kind"], events["seller_ids"], strict=True)
             if k == "takedown" for s in ids}  # fmt: skip
    behind = old.merge(held, on="seller_id")
    behind = behind.assign(taken=behind["seller_id"].isin(taken))
    behind = behind.groupby(["row", "kind", "value_norm"], as_index=False).agg(
        taken=("taken", "any")
    )
    shared = new.merge(held, on="seller_id").merge(behind, on=["row", "kind", "value_norm"])
    out["n_sharing"] = (
        shared.groupby("row")["seller_id"].nunique().reindex(out.index, fill_value=0).to_numpy()
    )
    with_taken = shared.groupby("row")["taken"].any().reindex(out.index, fill_value=False)
    out["sharing_with"] = np.where(
        with_taken.to_numpy(), "accounts taken down", "the accounts left at " + out["from_site"]
    )
    top = shared.groupby(["row", "kind", "value_norm"], as_index=False).agg(
        value=("value", "first"), n=("seller_id", "nunique")
    )
    top = top.sort_values(["row", "n", "kind", "value_norm"], ascending=[True, False, True, True])
    top = top.groupby("row").head(_SHOWN_IDENTIFIERS)
    text = [
        f"{_KIND_NAMES.get(k, k)} {v} held by {n} new account{'' if n == 1 else 's'}"
        for k, v, n in zip(top["kind"], top["value"], top["n"], strict=True)
    ]
    listed = pd.Series(text, index=top["row"].to_numpy()).groupby(level=0).agg(", ".join)
    out["shared_identifiers"] = listed.reindex(out.index, fill_value="").to_numpy()
    items = [
        (int(r), [str(k), str(v), int(n)])
        for r, k, v, n in zip(top["row"], top["kind"], top["value"], top["n"], strict=True)
    ]
    as_data: dict[int, list[list[Any]]] = {int(r): [] for r in out.index}
    for row, item in items:
        as_data.setdefault(row, []).append(item)
    out["shared_list"] = pd.Series([as_data[int(r)] for r in out.index], index=out.index)
    return out


def relocation_sentences(moves: pd.DataFrame) -> list[str]:
    out = []
    for row in moves.to_dict("records"):
        who = row["network_id"] or f"The accounts of {row['from_site']}"
        text = (
            f"{who} moved from {row['from_place']} ({row['from_site']}) to "
            f"{row['to_place']} ({row['to_site']}), {row['distance_km']:.1f} km, around "
            f"{_day(row['around'])}"
        )
        if row["event_id"] is not None:
            after = int(row["weeks_after_event"])
            when = "in the week of" if after == 0 else f"{_weeks(after)} after"
            text += (
                f", {when} the {str(row['event_kind']).replace('_', ' ')} recorded on "
                f"{row['event_on']} ({row['event_id']}, {_day(row['event_date'])})"
            )
        text += f"; {row['from_site']} has had no active week since the week of "
        text += _day(row["from_last_week"])
        if row["n_sharing"]:
            text += (
                f"; {row['n_sharing']} of its {row['n_new_accounts']} new accounts share "
                f"identifiers with {row['sharing_with']} ({row['shared_identifiers']})"
            )
        out.append(text + ".")
    return out
