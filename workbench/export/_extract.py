"""What a tip-sheet bundle takes from the case, read only through the case API (a case
file's, or a team case's with the same answers: :mod:`workbench.team._bundle_reads`).

:func:`extract` gathers the sites, their waybills, the accounts and their networks, the
evidence, reviews, sources and an extract of the audit log; :func:`pseudonymise` turns that
extract into the partner profile (identifiers as keyed tokens, no personal names).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.coords import haversine_m
from workbench.errors import InputError, NotFoundError
from workbench.export._keys import pseudonym
from workbench.networks._link import Networks, normalise

if TYPE_CHECKING:
    import geopandas as gpd

    from workbench.case._case import Case
    from workbench.team._case import TeamCase

__all__ = [
    "CaseExtract",
    "actor_token",
    "extract",
    "is_team_case",
    "pseudonymise",
    "run_sites",
    "site_waybills",
]
# a site's waybills in a bundle: by time, then number (the same order from either store)
WAYBILL_ORDER = ["shipped_at", "shipment_id"]

_AUDIT_ALWAYS = {"create case", "migrate case", "ingest", "set setting", "link sellers"}


@dataclass(frozen=True)
class CaseExtract:
    """The part of a case that one bundle shows."""

    run: dict[str, Any]
    sites: gpd.GeoDataFrame
    shipments: pd.DataFrame
    sellers: pd.DataFrame
    identifiers: pd.DataFrame
    networks: Networks
    evidence: pd.DataFrame
    reviews: pd.DataFrame
    audit: pd.DataFrame
    sources: list[dict[str, Any]]
    settings: dict[str, str]

    @property
    def run_id(self) -> str:
        return str(self.run["run_id"])


def is_team_case(case: object) -> bool:
    """Whether ``case`` is a team case (:class:`workbench.team.TeamCase`), not a file."""
    from workbench.team._case import TeamCase

    return isinstance(case, TeamCase)


def run_sites(case: Case | TeamCase, run_id: str) -> gpd.GeoDataFrame:
    """A run's sites as ``Case.sites`` gives them (hulls, lists parsed, review status); a
    team case's ``sites()`` is a plain table, its ``site_layer()`` this one."""
    from workbench.team._case import TeamCase

    if isinstance(case, TeamCase):
        return case.site_layer(run_id)
    return case.sites(run_id)


def site_waybills(case: Case | TeamCase, site: Mapping[str, Any], run_id: str) -> pd.DataFrame:
    """The waybills of one site (``site_shipments`` when the case has it), by shipping time
    then waybill number (:data:`WAYBILL_ORDER`): a case file keeps them in the order of
    its parts, a team case in the order they were loaded; a bundle lists them one way.

    Fallback for older cases: waybills of the site's sellers within ``radius_m`` of the site.
    """
    if hasattr(case, "site_shipments"):
        ships = pd.DataFrame(case.site_shipments(str(site["site_id"]), run_id=run_id))
    else:
        ships = pd.DataFrame(case.table("shipments"))
        ships = ships[ships["seller_id"].astype(str).isin([str(s) for s in site["sellers"]])]
        dist = haversine_m(
            ships["lat"].to_numpy(float), ships["lon"].to_numpy(float), site["lat"], site["lon"]
        )
        ships = ships[np.asarray(dist) <= float(site["radius_m"])]
    return ships.sort_values(WAYBILL_ORDER, kind="stable").reset_index(drop=True)


def _check_status(sites: pd.DataFrame, allow_unconfirmed: str | None) -> dict[str, str]:
    """Statuses of the sites that are not confirmed; refused without an override reason."""
    pending = {
        str(s): str(st)
        for s, st in zip(sites["site_id"], sites["status"], strict=True)
        if st != "confirmed"
    }
    if pending and not (allow_unconfirmed or "").strip():
        listed = ", ".join(f"{s} ({st})" for s, st in pending.items())
        raise InputError(
            f"site(s) {listed} not confirmed by review; only confirmed sites go out. Review "
            "them first (workbench review CASE SITE --status confirmed) or give a reason to "
            "export anyway (allow_unconfirmed='...', --allow-unconfirmed '...')"
        )
    return pending


def _audit_extract(audit: pd.DataFrame, run_id: str, site_ids: set[str]) -> pd.DataFrame:
    """Entries that bear on these sites: setup, ingests, linking, their run and reviews."""

    def relevant(action: str, parameters: str) -> bool:
        if action in _AUDIT_ALWAYS:
            return True
        params = json.loads(parameters) if parameters else {}
        if params.get("run_id") != run_id and action == "find sites":
            return False
        if action == "find sites":
            return True
        sites = {params.get("site_id"), *params.get("site_ids", [])} - {None}
        return bool(sites & site_ids) and params.get("run_id", run_id) == run_id

    keep = [relevant(a, p) for a, p in zip(audit["action"], audit["parameters"], strict=True)]
    return audit[keep].reset_index(drop=True)


def _sources(audit: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for seq, at, inputs in audit.loc[
        audit["action"] == "ingest", ["seq", "at", "inputs"]
    ].itertuples(index=False, name=None):
        for item in json.loads(inputs or "[]"):
            out.append({**item, "ingest_seq": int(seq), "at": at})
    return out


def _identifiers(
    case: Case | TeamCase, seller_ids: set[str], networks: Networks, region: str
) -> pd.DataFrame:
    ids = pd.DataFrame(case.table("identifiers"))
    ids = ids[ids["seller_id"].astype(str).isin(seller_ids)].reset_index(drop=True)
    ids = ids.drop(columns=[c for c in ("ingest_seq",) if c in ids.columns])
    ids["value_norm"] = normalise(ids["kind"], ids["value"], region=region) if len(ids) else ""
    linking = set(zip(networks.links["kind"], networks.links["value_norm"], strict=True))
    ids["links_accounts"] = [
        (k, v) in linking for k, v in zip(ids["kind"], ids["value_norm"], strict=True)
    ]
    member = networks.membership.set_index("seller_id")["network_id"]
    ids["network_id"] = ids["seller_id"].map(member)
    return ids.sort_values(["seller_id", "kind", "value_norm"]).reset_index(drop=True)


def extract(
    case: Case | TeamCase,
    site_ids: Sequence[str],
    *,
    run_id: str | None = None,
    allow_unconfirmed: str | None = None,
) -> tuple[CaseExtract, dict[str, str]]:
    """The bundle's data and the statuses of sites exported on override (empty if none)."""
    ids = list(dict.fromkeys(str(s) for s in site_ids))
    if not ids:
        raise InputError("site_ids is empty; name at least one site (--site S001)")
    run = run_id or case.latest_run()
    all_sites = run_sites(case, run)
    unknown = [s for s in ids if s not in set(all_sites["site_id"])]
    if unknown:
        known = ", ".join(all_sites["site_id"].astype(str).head(10))
        raise NotFoundError(f"site(s) {', '.join(unknown)} not in run {run}; sites: {known}")
    sites = all_sites.set_index("site_id", drop=False).loc[ids].reset_index(drop=True)
    pending = _check_status(sites, allow_unconfirmed)
    waybills = []
    for _, site in sites.iterrows():
        ships = site_waybills(case, site, run).assign(site_id=str(site["site_id"]))
        waybills.append(pd.DataFrame(ships).drop(columns=["geometry"], errors="ignore"))
    shipments = pd.concat(waybills, ignore_index=True)
    sites["address"] = [
        _top_address(shipments[shipments["site_id"] == s]) for s in sites["site_id"]
    ]
    networks = case.networks()
    member = networks.membership.set_index("seller_id")["network_id"]
    at_site = {str(s) for lst in sites["sellers"] for s in lst}
    nets = set(member.reindex(sorted(at_site)).dropna())
    mates = set(member[member.isin(nets)].index.astype(str))
    involved = at_site | mates
    sellers = pd.DataFrame(case.table("sellers"))
    sellers = sellers[sellers["seller_id"].astype(str).isin(involved)].copy()
    sellers["network_id"] = sellers["seller_id"].map(member)
    sellers["at_site"] = sellers["seller_id"].isin(at_site)
    site_of = sites.explode("sellers").groupby("sellers")["site_id"].agg(lambda v: ";".join(v))
    sellers["site_ids"] = sellers["seller_id"].map(site_of).fillna("")
    sellers = sellers.drop(columns=["ingest_seq"], errors="ignore").reset_index(drop=True)
    links = networks.links[networks.links["network_id"].isin(nets)].reset_index(drop=True)
    sub = Networks(
        membership=networks.membership,
        summary=networks.summary[networks.summary["network_id"].isin(nets)],
        links=links,
        infrastructure=networks.infrastructure,
        parameters=dict(networks.parameters),
        unknown_sellers=networks.unknown_sellers,
    )
    evidence = pd.DataFrame(case.table("evidence"))
    evidence = evidence[evidence["seller_id"].astype(str).isin(involved)]
    evidence = evidence.drop(columns=["ingest_seq"], errors="ignore")
    audit = case.audit()
    runs = case.runs()
    run_row = runs[runs["run_id"] == run].iloc[0].to_dict()
    region = str(networks.parameters.get("region", "CN"))
    return (
        CaseExtract(
            run={k: run_row[k] for k in ("run_id", "created_at", "actor", "parameters")},
            sites=sites,
            shipments=shipments,
            sellers=sellers,
            identifiers=_identifiers(case, involved, networks, region),
            networks=sub,
            evidence=evidence.sort_values(["date", "evidence_id"]).reset_index(drop=True),
            reviews=case.reviews(run_id=run).query("site_id in @ids").reset_index(drop=True),
            audit=_audit_extract(audit, run, set(ids)),
            sources=_sources(audit),
            settings=case.settings(),
        ),
        pending,
    )


def _top_address(ships: pd.DataFrame) -> str:
    if "origin_address" not in ships.columns:
        return ""
    counts = ships["origin_address"].dropna().astype(str).value_counts()
    return str(counts.index[0]) if len(counts) else ""


def _tokens(values: pd.Series, key: bytes) -> pd.Series:
    """Keyed tokens of the values; a missing value (None, NA or NaN, as pandas' string
    columns hold it) stays empty, never the token of the text "nan"."""
    cache: dict[str, str] = {}

    def token(value: Any) -> str:
        text = "" if value is None or value is pd.NA or value != value else str(value)
        if not text:
            return ""
        if text not in cache:
            cache[text] = pseudonym(text, key)
        return cache[text]

    return values.map(token).astype("str")


def actor_token(name: Any, key: bytes) -> str:
    """The token that stands for a person (reviewer, analyst) in the partner profile."""
    return pseudonym(f"actor:{name}", key) if name else ""


def pseudonymise(data: CaseExtract, key: bytes) -> CaseExtract:
    """The partner profile: identifiers as keyed tokens, no names, no registered addresses.

    Tokens are taken over the normalised value, so the same phone written two ways, on any
    account, gets the same token in every bundle of the organisation.
    """
    ids = data.identifiers.copy()
    ids["value"] = _tokens(ids["value_norm"].where(ids["value_norm"] != "", ids["value"]), key)
    ids["value_norm"] = ids["value"]
    links = data.networks.links.copy()
    links["value"] = _tokens(links["value_norm"], key)
    links["value_norm"] = links["value"]
    sellers = data.sellers.copy()
    for column in ("name", "registered_address"):
        if column in sellers.columns:
            sellers[column] = ""
    reviews = data.reviews.copy()
    reviews["by"] = reviews["by"].map(lambda v: actor_token(v, key))
    audit = data.audit.copy()
    audit["actor"] = audit["actor"].map(lambda v: actor_token(v, key))
    audit["parameters"] = [
        _scrub_parameters(a, p, key)
        for a, p in zip(audit["action"], audit["parameters"], strict=True)
    ]
    audit["inputs"] = audit["inputs"].map(_file_names_only)
    params: dict[str, Any] = dict(data.networks.parameters)
    if params.get("allow_list"):
        params["allow_list"] = [pseudonym(str(v), key) for v in params["allow_list"]]
    networks = replace(data.networks, links=links, parameters=params)
    run = {**data.run, "actor": actor_token(data.run.get("actor"), key)}
    return replace(
        data,
        run=run,
        identifiers=ids,
        networks=networks,
        sellers=sellers,
        reviews=reviews,
        audit=audit,
    )


def _file_names_only(inputs: str) -> str:
    """Input records with file names instead of paths (a path can hold a user's name)."""
    items = json.loads(inputs) if inputs else []
    for item in items:
        if isinstance(item, dict) and "source" in item:
            item["source"] = PurePath(str(item["source"])).name
    return json.dumps(items, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _scrub_parameters(action: str, parameters: str, key: bytes) -> str:
    params = json.loads(parameters) if parameters else {}
    if isinstance(params, dict) and params.get("allow_list"):
        params["allow_list"] = [pseudonym(str(v), key) for v in params["allow_list"]]
    if isinstance(params, dict) and "by" in params:
        params["by"] = actor_token(params["by"], key)
    return json.dumps(params, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
