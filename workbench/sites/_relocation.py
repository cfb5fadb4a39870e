"""Relocations over time: a ring stops shipping from one site and starts at another.

Counterfeit rings reopen under new accounts and ship from a new workshop after a raid or a
takedown. :func:`find_relocations` reads the weekly activity of a run's sites and says which
network moved from where to where, when, how far, after which recorded event, and which
identifiers tie the new accounts to the old ones. Sites of one network that run side by
side are one operation with several sites (``operations``), not a move.

The rule, in weeks (Monday to Sunday, as ``site_activity`` counts them):

* a week is *active* at a site when it holds at least ``min_week_shipments`` waybills and
  at least ``min_week_share`` of the site's median week: a stray waybill (a return, a late
  scan) does not keep a site alive nor start one;
* a site *stops* when it had ``min_active_weeks`` active weeks and its last one is followed
  by at least ``quiet_weeks`` weeks without any up to the end of the data (the quiet tail);
  it *starts* when its first active week comes ``quiet_weeks`` or more after the data begin;
* a site belongs to a network when at least ``min_seller_share`` of its accounts are the
  network's (a hub where one of its accounts also ships is not one of its sites);
* a *relocation* is a site that stops and another that starts, anywhere, of the same
  network or whose accounts share a linking identifier (``links``), the new one starting
  between ``max_overlap_weeks`` before and ``max_gap_weeks`` after the old one's last
  active week;
* sites of a network whose active spans overlap by more than ``max_overlap_weeks`` are one
  *operation*; a site that pauses (a Chinese New Year break of a few weeks) and resumes is
  neither a stop nor a start, whatever its pause, because only its first and last active
  weeks count.

Limits: activity is counted per site, not per network at a site, so a site two rings share
stops only when both have left it; a ring that goes back to a site it used before is not
seen moving (that site's span covers both stays).

>>> weeks = pd.date_range("2026-01-05", periods=30, freq="7D")
>>> activity = pd.concat([
...     pd.DataFrame({"site_id": "S1", "week": weeks[:12], "n_shipments": 50}),
...     pd.DataFrame({"site_id": "S2", "week": weeks[14:], "n_shipments": 50})])
>>> sites = pd.DataFrame({"site_id": ["S1", "S2"], "lat": [25.39, 25.46],
...     "lon": [119.04, 119.11], "sellers": [["A1", "A2"], ["A3"]],
...     "networks": [["N1"], ["N1"]], "place": ["Xindu", "Hanjiang"],
...     "prefecture": ["Putian", "Putian"]})
>>> found = find_relocations(activity, sites)
>>> found.relocations[["network_id", "from_site", "to_site", "gap_weeks"]].values.tolist()
[['N1', 'S1', 'S2', 2]]
>>> print(found.relocations["evidence"][0])  # doctest: +NORMALIZE_WHITESPACE
N1 moved from Xindu, Putian (S1) to Hanjiang, Putian (S2), 10.5 km, around 2026-04-13;
S1 has had no active week since the week of 2026-03-23.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from workbench.coords import haversine_m
from workbench.errors import InputError, require_columns
from workbench.sites import _relocation_evidence as ev

__all__ = ["RELOCATION_COLUMNS", "Relocations", "find_relocations"]

RELOCATION_COLUMNS = (
    "network_id", "from_site", "to_site", "from_place", "to_place", "distance_km", "around",
    "from_last_week", "to_first_week", "gap_weeks", "event_id", "event_kind", "event_date",
    "weeks_after_event", "n_new_accounts", "n_sharing", "shared_identifiers", "shared_list",
    "evidence",
)  # fmt: skip
OPERATION_COLUMNS = (
    "network_id", "site_ids", "n_sites", "first_week", "last_week", "n_shipments", "evidence",
)  # fmt: skip
SPAN_COLUMNS = (
    "site_id", "first_week", "last_week", "n_active_weeks", "n_shipments",
    "longest_pause_weeks", "starts", "stops",
)  # fmt: skip
_EPOCH_MONDAY = np.datetime64("1969-12-29")  # week numbers count Mondays from here


@dataclass(frozen=True)
class Relocations:
    """What :func:`find_relocations` found.

    ``relocations``: one row per move (columns ``RELOCATION_COLUMNS``): the network (None
    when only an identifier ties two sites of no network), the old and new site and their
    places, the distance, ``around`` (the new site's first active week), the old site's
    last active week, ``gap_weeks`` between them (negative: they overlapped), the event it
    follows (id, kind, date, weeks before ``around``), the new accounts and how many share
    an identifier with the accounts left behind (the most shared listed, as text in
    ``shared_identifiers`` and as ``[kind, value, new accounts holding it]`` items in
    ``shared_list``), and ``evidence``, one English sentence. ``operations``: one row per
    group of a network's sites running side by side. ``spans``: per site, its first and
    last active week, active weeks, longest pause, and whether it starts or stops.
    ``parameters``: the rule's settings.
    """

    relocations: pd.DataFrame
    operations: pd.DataFrame
    spans: pd.DataFrame
    parameters: dict[str, float]

    def arrows(self, sites: pd.DataFrame) -> pd.DataFrame:
        """The moves as arrows for a map: from_site, to_site, their positions (from
        ``sites``: site_id, lat, lon, e.g. ``case.sites(run_id)``), ``around`` and a label
        ("N1: S1 → S2"); what ``explore(case, relocations=...)`` draws. A site of a move
        missing from ``sites`` raises InputError naming it."""
        require_columns(sites, "sites", ("site_id", "lat", "lon"))
        moves = self.relocations
        at = sites.drop_duplicates("site_id").set_index("site_id")[["lat", "lon"]]
        ends = pd.concat([moves["from_site"], moves["to_site"]])
        missing = sorted(set(ends) - set(at.index))
        if missing:
            raise InputError(
                f"relocations: site {missing[0]} of a move is not among the sites given; "
                "pass the sites of the run the relocations were found in"
            )
        network = moves["network_id"].astype(object)
        prefix = network.where(network.notna(), None).map(lambda n: f"{n}: " if n else "")
        return pd.DataFrame(
            {
                "from_site": moves["from_site"],
                "to_site": moves["to_site"],
                "from_lat": moves["from_site"].map(at["lat"]),
                "from_lon": moves["from_site"].map(at["lon"]),
                "to_lat": moves["to_site"].map(at["lat"]),
                "to_lon": moves["to_site"].map(at["lon"]),
                "around": moves["around"],
                "label": prefix + moves["from_site"] + " → " + moves["to_site"],
            }
        ).reset_index(drop=True)


def _week_numbers(weeks: pd.Series) -> np.ndarray:
    """Weeks as integers (Monday-based), naming the first row that is not a date."""
    parsed = pd.to_datetime(weeks, errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"activity: week {weeks.iloc[i]!r} in row {i} is not a date; expected the Monday "
            "of each week (YYYY-MM-DD)"
        )
    days = parsed.to_numpy().astype("datetime64[D]") - _EPOCH_MONDAY
    return (days.astype(np.int64) // 7).astype(np.int64)


def _week_dates(numbers: np.ndarray) -> np.ndarray:
    return _EPOCH_MONDAY + (np.asarray(numbers, dtype=np.int64) * 7).astype("timedelta64[D]")


def _check_params(params: dict[str, float]) -> None:
    for name, value in params.items():
        share = name.endswith("_share")
        ok = isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool
        )
        ok = ok and (0 <= value <= 1 if share else float(value).is_integer() and value >= 0)
        if not ok:
            expected = "a share between 0 and 1" if share else "a whole number of 0 or more"
            raise InputError(f"{name}={value!r}; expected {expected}")


def _activity(activity: pd.DataFrame) -> pd.DataFrame:
    require_columns(activity, "activity", ["site_id", "week", "n_shipments"])
    counts = pd.to_numeric(activity["n_shipments"], errors="coerce")
    bad = (counts.isna() | (counts < 0)).to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"activity: n_shipments {activity['n_shipments'].tolist()[i]!r} in row {i} "
            f"(site {activity['site_id'].iloc[i]!r}); expected a count of 0 or more"
        )
    frame = pd.DataFrame(
        {
            "site_id": activity["site_id"].astype(str).to_numpy(),
            "week": _week_numbers(activity["week"]),
            "n": counts.to_numpy(dtype=float),
        }
    )
    return frame.groupby(["site_id", "week"], as_index=False, sort=True).agg(n=("n", "sum"))


def _spans(act: pd.DataFrame, p: dict[str, float]) -> pd.DataFrame:
    """Per site: first and last active week, active weeks, longest pause, starts, stops."""
    busy = act[act["n"] > 0]
    median = busy.groupby("site_id")["n"].median()
    floor = (p["min_week_share"] * median).clip(lower=p["min_week_shipments"])
    active = busy[busy["n"].to_numpy() >= floor.reindex(busy["site_id"]).to_numpy()]
    active = active.sort_values(["site_id", "week"])
    pause = active.groupby("site_id")["week"].diff().fillna(1).astype(np.int64) - 1
    by_site = active.assign(pause=pause.to_numpy()).groupby("site_id")
    spans = pd.DataFrame(
        {
            "first_week": by_site["week"].min(),
            "last_week": by_site["week"].max(),
            "n_active_weeks": by_site["week"].size(),
            "longest_pause_weeks": by_site["pause"].max(),
        }
    )
    spans["n_shipments"] = act.groupby("site_id")["n"].sum().reindex(spans.index).astype(np.int64)
    first, last = int(act["week"].min()), int(act["week"].max())
    enough = spans["n_active_weeks"] >= p["min_active_weeks"]
    spans["starts"] = enough & (spans["first_week"] - first >= p["quiet_weeks"])
    spans["stops"] = enough & (last - spans["last_week"] >= p["quiet_weeks"])
    spans = spans.rename_axis("site_id").reset_index()
    return spans


def _every_site(spans: pd.DataFrame, act: pd.DataFrame) -> pd.DataFrame:
    """The spans with weeks as dates, and the sites without an active week (no span)."""
    totals = act.groupby("site_id")["n"].sum()
    out = spans.set_index("site_id").reindex(totals.index)
    out["n_shipments"] = totals.astype(np.int64)
    for column in ("n_active_weeks", "longest_pause_weeks"):
        out[column] = out[column].fillna(0).astype(np.int64)
    for column in ("starts", "stops"):
        out[column] = out[column].astype("boolean").fillna(False).astype(bool)
    for column in ("first_week", "last_week"):
        weeks = out[column].to_numpy(dtype=float)
        known = ~np.isnan(weeks)
        dates = np.full(len(out), np.datetime64("NaT"), dtype="datetime64[D]")
        dates[known] = _week_dates(weeks[known].astype(np.int64))
        out[column] = pd.to_datetime(dates)
    return out.rename_axis("site_id").reset_index()


def _membership(
    sites: pd.DataFrame, networks: pd.DataFrame | None, min_share: float
) -> pd.DataFrame:
    """(site_id, network_id) of the networks holding ``min_share`` of a site's accounts."""
    if networks is None:
        require_columns(sites, "sites", ["networks"])
        pairs = sites[["site_id", "networks"]].explode("networks").dropna()
        return pd.DataFrame(
            {"site_id": pairs["site_id"].astype(str), "network_id": pairs["networks"].astype(str)}
        ).drop_duplicates(ignore_index=True)
    require_columns(networks, "networks", ["seller_id", "network_id"])
    accounts = ev.site_sellers(sites)
    n_accounts = accounts.groupby("site_id").size()
    member = accounts.merge(
        networks[["seller_id", "network_id"]].dropna().astype(str), on="seller_id"
    )
    counts = member.groupby(["site_id", "network_id"], as_index=False).size()
    share = counts["size"] / n_accounts.reindex(counts["site_id"]).to_numpy()
    return counts.loc[share >= min_share, ["site_id", "network_id"]].reset_index(drop=True)


def _operations(spans: pd.DataFrame, member: pd.DataFrame, p: dict[str, float]) -> pd.DataFrame:
    """Groups of a network's sites (of ``min_active_weeks`` or more) whose active spans
    overlap by more than ``max_overlap_weeks``."""
    overlap = p["max_overlap_weeks"]
    enough = spans[spans["n_active_weeks"] >= p["min_active_weeks"]]
    rows = member.merge(enough, on="site_id").sort_values(["network_id", "first_week", "site_id"])
    # the latest last week of the network's earlier sites (in order of their first week)
    reach = rows.groupby("network_id")["last_week"].cummax().groupby(rows["network_id"]).shift()
    new = (reach.isna() | (reach - rows["first_week"] + 1 <= overlap)).to_numpy()
    rows = rows.assign(group=np.cumsum(new))
    grouped = rows.groupby("group")
    ops = pd.DataFrame(
        {
            "network_id": grouped["network_id"].first(),
            "site_ids": grouped["site_id"].agg(lambda s: sorted(s)),
            "n_sites": grouped["site_id"].size(),
            "first_week": _week_dates(grouped["first_week"].min().to_numpy()),
            "last_week": _week_dates(grouped["last_week"].max().to_numpy()),
            "n_shipments": grouped["n_shipments"].sum(),
        }
    )
    return ops[ops["n_sites"] > 1].reset_index(drop=True)


def _pairs(
    spans: pd.DataFrame,
    member: pd.DataFrame,
    keyed: pd.DataFrame,
    p: dict[str, float],
) -> pd.DataFrame:
    """(from_site, to_site, network_id) of stops and starts tied by a network or a shared
    identifier, in the time window."""
    stops = spans.loc[spans["stops"], ["site_id", "last_week"]]
    starts = spans.loc[spans["starts"], ["site_id", "first_week"]]
    keys = pd.concat(
        [member.assign(key="network:" + member["network_id"])[["site_id", "key"]], keyed],
        ignore_index=True,
    )
    a = keys.merge(stops, on="site_id").rename(columns={"site_id": "from_site"})
    b = keys.merge(starts, on="site_id").rename(columns={"site_id": "to_site"})
    pairs = a.merge(b, on="key")
    pairs = pairs[pairs["from_site"] != pairs["to_site"]]
    gap = pairs["first_week"] - pairs["last_week"] - 1
    pairs = pairs[(gap >= -p["max_overlap_weeks"]) & (gap <= p["max_gap_weeks"])]
    pairs = pairs.drop_duplicates(["from_site", "to_site"])[["from_site", "to_site"]]
    nets = member.rename(columns={"site_id": "from_site"}).merge(
        member.rename(columns={"site_id": "to_site"}), on="network_id"
    )
    shared = pairs.merge(nets, on=["from_site", "to_site"], how="left")
    shared = shared.sort_values("network_id").drop_duplicates(["from_site", "to_site"])
    # tied by an identifier only: the old site's network, else the new one's
    own = member.drop_duplicates("site_id").set_index("site_id")["network_id"]
    for side in ("from_site", "to_site"):
        fallback = pd.Series(own.reindex(shared[side]).to_numpy(), index=shared.index)
        shared["network_id"] = shared["network_id"].fillna(fallback)
    shared["network_id"] = (
        shared["network_id"].astype(object).where(shared["network_id"].notna(), None)
    )
    return shared.reset_index(drop=True)


def find_relocations(
    activity: pd.DataFrame,
    sites: pd.DataFrame,
    *,
    networks: pd.DataFrame | None = None,
    links: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
    run_id: str | None = None,
    max_gap_weeks: int = 6,
    max_overlap_weeks: int = 2,
    min_active_weeks: int = 3,
    quiet_weeks: int = 4,
    min_week_shipments: int = 3,
    min_week_share: float = 0.1,
    min_seller_share: float = 0.2,
    event_weeks: int = 8,
) -> Relocations:
    """Networks that moved from one site to another (see the module docstring for the rule).

    Parameters
    ----------
    activity : waybills per site and week: ``site_id``, ``week`` (its Monday), ``n_shipments``.
    sites : the run's sites: ``site_id``, ``lat``, ``lon``, ``sellers`` (a list per site);
        ``place``, ``prefecture`` name them (else the offline gazetteer does).
    networks : ``seller_id`` -> ``network_id`` (else each site's ``networks`` list is used).
    links : identifiers that link accounts: ``seller_id``, ``kind``, ``value_norm`` (and
        ``value`` as written): a case's ``network_links``.
    events : recorded events (``event_id``, ``kind``, ``date``, ``site_id``, ``seller_ids``,
        ``network_id``; ``run_id``, ``lat``, ``lon`` place them when the run differs).
    run_id : the run ``sites`` belong to (events of another run are placed by position).
    max_gap_weeks, max_overlap_weeks : the window in which the new site starts.
    min_active_weeks, quiet_weeks, min_week_shipments, min_week_share : what counts as a
        start and a stop (module docstring).
    min_seller_share : share of a site's accounts that makes it one of a network's sites.
    event_weeks : an event counts when at most this many weeks before the last active week
        of the old site (and before the new one starts).

    The inputs are not changed. Works on frames of any size in pandas and numpy.
    """
    params: dict[str, float] = {
        "max_gap_weeks": max_gap_weeks, "max_overlap_weeks": max_overlap_weeks,
        "min_active_weeks": min_active_weeks, "quiet_weeks": quiet_weeks,
        "min_week_shipments": min_week_shipments, "min_week_share": min_week_share,
        "min_seller_share": min_seller_share, "event_weeks": event_weeks,
    }  # fmt: skip
    _check_params(params)
    require_columns(sites, "sites", ["site_id", "lat", "lon", "sellers"])
    act = _activity(activity)
    if act.empty:
        return Relocations(
            ev.empty(RELOCATION_COLUMNS), ev.empty(OPERATION_COLUMNS), ev.empty(SPAN_COLUMNS),
            params,
        )  # fmt: skip
    spans = _spans(act, params)
    member = _membership(sites, networks, min_seller_share)
    moving = set(spans.loc[spans["starts"] | spans["stops"], "site_id"])
    keyed = ev.identifier_keys(sites, links, moving)
    pairs = _pairs(spans, member, keyed, params)
    operations = _operations(spans, member, params)
    names = ev.place_names(sites)
    operations["evidence"] = ev.operation_sentences(operations, names)
    moves = _describe(pairs, spans, sites, names, networks, links, events, run_id, params)
    spans_out = _every_site(spans, act)
    return Relocations(moves, operations, spans_out[list(SPAN_COLUMNS)], params)


def _describe(
    pairs: pd.DataFrame,
    spans: pd.DataFrame,
    sites: pd.DataFrame,
    names: pd.Series,
    networks: pd.DataFrame | None,
    links: pd.DataFrame | None,
    events: pd.DataFrame | None,
    run_id: str | None,
    p: dict[str, float],
) -> pd.DataFrame:
    """The relocation rows: places, distance, dates, the event, the identifiers, the text."""
    if pairs.empty:
        return ev.empty(RELOCATION_COLUMNS)
    span = spans.set_index("site_id")
    where = sites.assign(site_id=sites["site_id"].astype(str)).set_index("site_id")
    a, b = pairs["from_site"].to_numpy(), pairs["to_site"].to_numpy()
    last = span["last_week"].reindex(a).to_numpy()
    first = span["first_week"].reindex(b).to_numpy()
    km = haversine_m(
        where["lat"].reindex(a).to_numpy(float), where["lon"].reindex(a).to_numpy(float),
        where["lat"].reindex(b).to_numpy(float), where["lon"].reindex(b).to_numpy(float),
    ) / 1000  # fmt: skip
    out = pairs.assign(
        from_place=names.reindex(a).to_numpy(),
        to_place=names.reindex(b).to_numpy(),
        distance_km=np.round(km, 1),
        around=_week_dates(first),
        from_last_week=_week_dates(last),
        to_first_week=_week_dates(first),
        gap_weeks=(first - last - 1).astype(np.int64),
    )
    placed = ev.place_events(events, sites, run_id)
    out = ev.attach_events(out, placed, sites, networks, p["event_weeks"])
    out = ev.attach_identifiers(out, sites, networks, links, placed)
    out["evidence"] = ev.relocation_sentences(out)
    out = out.sort_values(["around", "network_id", "from_site", "to_site"], ignore_index=True)
    return out[list(RELOCATION_COLUMNS)]
