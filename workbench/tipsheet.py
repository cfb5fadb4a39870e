"""Tip sheets: the report a detective reads about one candidate production site.

The context is built by a pure function (:func:`tip_sheet_context`); the Jinja2 template in
``workbench/report_templates`` only formats it, with autoescaping on, so any string from the
data appears as text. :func:`render_tip_sheet` returns the self-contained HTML (no external
resources) and :func:`export_tip_sheet` writes it to disk.

>>> html = render_tip_sheet(tip_sheet_context("S001", **parts))   # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from workbench.errors import InputError, NotFoundError
from workbench.gazetteer import ATTRIBUTION as GEONAMES_ATTRIBUTION
from workbench.networks import Networks

__all__ = ["ATTRIBUTIONS", "export_tip_sheet", "render_tip_sheet", "tip_sheet_context"]

ATTRIBUTIONS = (
    GEONAMES_ATTRIBUTION,
    "Country outlines: Natural Earth (public domain), via the world-atlas package (ISC).",
    "Map drawn with Leaflet (BSD-2-Clause).",
)
DEFAULT_ORGANISATION = {"name": "Brand Protection Unit", "contact": "(set organisation contact)"}
_TEMPLATES = Path(__file__).parent / "report_templates"
LANGS = ("en",)


def _records(frame: pd.DataFrame, columns: Sequence[str]) -> list[dict[str, Any]]:
    present = [c for c in columns if c in frame.columns]
    out = frame[present].astype(object).where(frame[present].notna(), "")
    return [{str(k): v for k, v in row.items()} for row in out.to_dict(orient="records")]


def _site_row(sites: pd.DataFrame, site_id: str) -> pd.Series:
    match = sites[sites["site_id"] == site_id]
    if match.empty:
        known = ", ".join(sites["site_id"].astype(str).head(10)) or "(no sites)"
        raise NotFoundError(f"site_id={site_id!r} is not in this run; sites: {known}")
    return match.iloc[0]


def _evidence_for(evidence: pd.DataFrame, sellers: list[str], networks: Networks) -> pd.DataFrame:
    """Evidence on the site's sellers and on every account of their networks."""
    member = networks.membership.set_index("seller_id")["network_id"]
    nets = set(member.reindex(sellers).dropna())
    mates = set(member[member.isin(nets)].index) | set(sellers)
    if evidence.empty:
        return evidence
    picked = evidence[evidence["seller_id"].astype(str).isin(mates)]
    return picked.sort_values([c for c in ("date", "seller_id") if c in picked.columns])


def _monthly(ships: pd.DataFrame) -> list[dict[str, Any]]:
    if "shipped_at" not in ships.columns or ships.empty:
        return []
    month = pd.to_datetime(ships["shipped_at"]).dt.strftime("%Y-%m")
    agg: dict[str, tuple[str, str]] = {"n_shipments": ("seller_id", "size")}
    if "value_cny" in ships.columns:
        agg["value_cny"] = ("value_cny", "sum")
    table = ships.assign(month=month).groupby("month").agg(**agg).reset_index()
    return [{str(k): v for k, v in row.items()} for row in table.to_dict(orient="records")]


def _summary(site: pd.Series, ships: pd.DataFrame, n_counterfeit_brands: list[str]) -> str:
    place = ", ".join(str(p) for p in (site.get("place"), site.get("province")) if p) or (
        "an unnamed place"
    )
    first, last = site.get("first_shipped"), site.get("last_shipped")
    span = (
        f" between {pd.Timestamp(first):%Y-%m-%d} and {pd.Timestamp(last):%Y-%m-%d}"
        if pd.notna(first) and pd.notna(last)
        else ""
    )
    brands = f" ({', '.join(n_counterfeit_brands)})" if n_counterfeit_brands else ""
    return (
        f"Site {site['site_id']} near {place}: {int(site['n_shipments']):,} waybills from "
        f"{int(site['n_sellers'])} seller accounts run by {int(site['n_operators'])} "
        f"operator(s){span}. Test buys and complaints on these accounts and their linked "
        f"networks: {int(site['n_counterfeit'])} counterfeit{brands}, "
        f"{int(site['n_genuine'])} genuine. Score {site['score']:.0f}/100, labelled "
        f"{site['label']}."
    )


def tip_sheet_context(
    site_id: str,
    *,
    sites: pd.DataFrame,
    shipments: pd.DataFrame,
    sellers: pd.DataFrame,
    networks: Networks,
    evidence: pd.DataFrame,
    parameters: Mapping[str, Any],
    sources: Sequence[Mapping[str, Any]] = (),
    organisation: Mapping[str, str] | None = None,
    reviews: pd.DataFrame | None = None,
    generated_at: dt.datetime | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """Everything the tip sheet shows for one site, as plain data (no HTML).

    ``shipments`` must carry a ``site_id`` column (the site each waybill was clustered into);
    ``reviews`` is the case's review history (``Case.reviews``), oldest first.
    """
    if lang not in LANGS:
        raise InputError(f"lang={lang!r} is not available yet; choose one of {', '.join(LANGS)}")
    if "site_id" not in shipments.columns:
        raise InputError("shipments need a site_id column (from SiteFinder.labels_)")
    site = _site_row(sites, site_id)
    ships = shipments[shipments["site_id"] == site_id]
    site_sellers = [str(s) for s in site["sellers"]]
    per_seller = ships.groupby("seller_id").size().rename("n_shipments_at_site")
    seller_rows = (
        sellers[sellers["seller_id"].astype(str).isin(site_sellers)]
        .merge(networks.membership[["seller_id", "network_id"]], on="seller_id", how="left")
        .merge(per_seller, left_on="seller_id", right_index=True, how="left")
        .sort_values("n_shipments_at_site", ascending=False)
    )
    net_ids = sorted(seller_rows["network_id"].dropna().astype(str).unique())
    links = networks.links[networks.links["network_id"].isin(net_ids)]
    ev = _evidence_for(evidence, site_sellers, networks)
    cf_brands = (
        sorted(ev.loc[ev["verdict"] == "counterfeit", "brand"].dropna().astype(str).unique())
        if "brand" in ev.columns
        else []
    )
    now = generated_at or dt.datetime.now(dt.UTC)
    addresses = ships["origin_address"].value_counts() if "origin_address" in ships else None
    return {
        "lang": lang,
        "reference": f"CW-{now:%Y%m%d}-{site['run_id']}-{site_id}",
        "generated_at": now.strftime("%Y-%m-%d %H:%M UTC"),
        "organisation": dict(organisation or DEFAULT_ORGANISATION),
        "summary": _summary(site, ships, cf_brands),
        "site": {
            "site_id": site_id,
            "rank": int(site["rank"]),
            "lat": round(float(site["lat"]), 6),
            "lon": round(float(site["lon"]), 6),
            "radius_m": float(site["radius_m"]),
            "address": str(addresses.index[0]) if addresses is not None and len(addresses) else "",
            "jurisdiction": {
                k: str(site.get(k, ""))
                for k in ("country", "country_zh", "province", "province_zh", "place", "place_zh")
            },
            "score": float(site["score"]),
            "score_parts": dict(site["score_parts"]),
            "label": str(site["label"]),
            "n_shipments": int(site["n_shipments"]),
            "value_cny": float(site.get("value_cny", float("nan"))),
            "brands": list(site["brands"]),
            "first_shipped": str(pd.Timestamp(site["first_shipped"]).date())
            if pd.notna(site.get("first_shipped"))
            else "",
            "last_shipped": str(pd.Timestamp(site["last_shipped"]).date())
            if pd.notna(site.get("last_shipped"))
            else "",
        },
        "sellers": _records(
            seller_rows,
            [
                "seller_id",
                "name",
                "platform",
                "network_id",
                "n_shipments_at_site",
                "registered_address",
            ],
        ),
        "networks": [
            {
                "network_id": net,
                "n_sellers": int((networks.membership["network_id"] == net).sum()),
                "links": _records(
                    links[links["network_id"] == net].sort_values(
                        ["kind", "value_norm", "seller_id"]
                    ),
                    ["kind", "value", "value_norm", "seller_id"],
                ),
            }
            for net in net_ids
        ],
        "evidence": _records(
            ev, ["evidence_id", "seller_id", "brand", "kind", "verdict", "date", "file_sha256"]
        ),
        "monthly": _monthly(ships),
        "parameters": dict(parameters),
        "reviews": _records(reviews[reviews["site_id"] == site_id], ["at", "by", "status", "note"])
        if reviews is not None and len(reviews)
        else [],
        "sources": [dict(s) for s in sources],
        "attributions": list(ATTRIBUTIONS),
    }


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default=True),
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v, d=0: f"{float(v):,.{d}f}" if v not in ("", None) else ""
    return env


def render_tip_sheet(
    context: Mapping[str, Any], path: str | os.PathLike[str] | None = None
) -> str | None:
    """The tip sheet as self-contained HTML; written to ``path`` (UTF-8) when given."""
    html = _environment().get_template("tipsheet.html.j2").render(**context)
    if path is None:
        return html
    Path(path).write_text(html, encoding="utf-8")
    return None


def export_tip_sheet(
    contexts: Sequence[Mapping[str, Any]], out: str | os.PathLike[str]
) -> list[Path]:
    """Write one ``tipsheet-<site>/report.html`` per context under ``out``; returns the paths."""
    written = []
    for context in contexts:
        folder = Path(out) / f"tipsheet-{_safe_name(context['site']['site_id'])}"
        folder.mkdir(parents=True, exist_ok=True)
        render_tip_sheet(context, folder / "report.html")
        written.append(folder / "report.html")
    return written


def _safe_name(value: str) -> str:
    """A file-name-safe form of an identifier (no separators, no dot-dot)."""
    cleaned = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(value))
    return cleaned.strip("_") or "site"
