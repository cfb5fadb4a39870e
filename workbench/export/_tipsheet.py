"""Tip sheets: the report a detective reads about candidate production sites.

The context is built by a pure function (:func:`tip_sheet_context`); the Jinja2 files in
``workbench/export/report_html`` only format it, with autoescaping on, so any string from
the data appears as text. Every word of the report comes from the translation catalogue
(:mod:`workbench.export._i18n`), in English or Simplified Chinese. :func:`render_tip_sheet` returns
the self-contained HTML (no external resources) and :func:`render_pdf` turns it into PDF
with WeasyPrint. The signed bundle around them is made by
:func:`workbench.export.export_tip_sheet`.

>>> html = render_tip_sheet(tip_sheet_context("S001", **parts))   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from workbench.errors import InputError, MissingDependencyError, NotFoundError
from workbench.export._continuity import continuity_rows
from workbench.export._i18n import Translator, translator
from workbench.export._naming import reference as make_reference
from workbench.export._prosecution import compare, estimate_volume, prosecution_section
from workbench.export._report import (
    jurisdiction_names,
    records,
    shown,
    site_section,
    source_rows,
)
from workbench.export._seen import MAX_SEEN, seen_before, seen_before_rows
from workbench.export._thresholds import Thresholds, load_thresholds, site_thresholds
from workbench.gazetteer import ATTRIBUTION as GEONAMES_ATTRIBUTION
from workbench.networks._link import Networks

if TYPE_CHECKING:
    pass

__all__ = [
    "ATTRIBUTIONS",
    "render_pdf",
    "render_tip_sheet",
    "tip_sheet_context",
]

ATTRIBUTIONS = (
    GEONAMES_ATTRIBUTION,
    "Country outlines: Natural Earth (public domain), via the world-atlas package (ISC).",
)
DEFAULT_ORGANISATION = {"name": "", "contact": ""}
_REPORT_HTML = Path(__file__).parent / "report_html"  # the Jinja files of the report


def _site_row(sites: pd.DataFrame, site_id: str) -> pd.Series:
    match = sites[sites["site_id"] == site_id]
    if match.empty:
        known = ", ".join(sites["site_id"].astype(str).head(10)) or "(no sites)"
        raise NotFoundError(f"site_id={site_id!r} is not in this run; sites: {known}")
    return match.iloc[0]


def _network_mates(sellers: Sequence[str], networks: Networks) -> set[str]:
    member = networks.membership.set_index("seller_id")["network_id"]
    nets = set(member.reindex(list(sellers)).dropna())
    return set(member[member.isin(nets)].index.astype(str)) | set(sellers)


def _site_parts(
    site: pd.Series,
    ships: pd.DataFrame,
    sellers: pd.DataFrame,
    networks: Networks,
    evidence: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The site's seller rows, the links of their networks and the evidence on them."""
    site_sellers = [str(s) for s in site["sellers"]]
    per_seller = ships.groupby("seller_id").size().rename("n_shipments_at_site")
    membership = networks.membership[["seller_id", "network_id"]]
    seller_rows = sellers[sellers["seller_id"].astype(str).isin(site_sellers)]
    if "network_id" not in seller_rows.columns:
        seller_rows = seller_rows.merge(membership, on="seller_id", how="left")
    seller_rows = seller_rows.merge(
        per_seller, left_on="seller_id", right_index=True, how="left"
    ).sort_values(["n_shipments_at_site", "seller_id"], ascending=[False, True])
    nets = set(seller_rows["network_id"].dropna().astype(str))
    links = networks.links[networks.links["network_id"].isin(nets)]
    mates = _network_mates(site_sellers, networks)
    ev = evidence[evidence["seller_id"].astype(str).isin(mates)] if len(evidence) else evidence
    ev = ev.sort_values([c for c in ("date", "seller_id") if c in ev.columns])
    return seller_rows, links, ev


def tip_sheet_context(
    site_ids: str | Sequence[str],
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
    reference: str | None = None,
    profile: str | None = None,
    figures: Mapping[str, bytes] | None = None,
    override: Mapping[str, Any] | None = None,
    rights_holders: Mapping[str, str] | None = None,
    contents: Sequence[Mapping[str, str]] = (),
    signed_by: str | None = None,
    thresholds: Thresholds | None = None,
    cross_references: pd.DataFrame | None = None,
    relocations: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Everything the tip sheet shows for the given sites, as plain data (no HTML).

    Parameters
    ----------
    site_ids : one site id or several; the report has one section per site.
    shipments : waybills with a ``site_id`` column (the site each was clustered into).
    reviews : the case's review history (``Case.reviews``), oldest first.
    profile : ``"police"`` or ``"partner"`` in a bundle; None marks the page a draft (a
        preview rendered outside :func:`workbench.export.export_tip_sheet`).
    figures : PNG bytes per site id (:func:`workbench.export._static_map.site_figure`).
    override : ``{"reason", "by", "sites": {site_id: status}}`` when unconfirmed sites go out.
    contents : ``{"name", "what"}`` per file of the bundle.
    thresholds : the case-filing thresholds (:func:`workbench.export._thresholds.
        load_thresholds`; default: the table the package ships); each site's business
        volume is estimated and compared with those of its jurisdiction.
    cross_references : the case's matches with earlier cases and partner lists that apply
        to the run (:func:`read_cross_references`); each site lists those of its accounts,
        their networks and the site itself (:func:`seen_before`) as platform records.
        None (a case never cross-referenced): the report has no such section.
    relocations : moves of a network into or out of the sites
        (:func:`workbench.export._continuity.site_relocations`); a site with one gets a
        "Continuity" section with the chain of evidence.
    """
    tr = translator(lang)
    ids = [site_ids] if isinstance(site_ids, str) else [str(s) for s in site_ids]
    if not ids:
        raise InputError("site_ids is empty; name at least one site")
    if "site_id" not in shipments.columns:
        raise InputError("shipments need a site_id column (from SiteFinder.labels_)")
    rows = [_site_row(sites, site_id) for site_id in ids]
    now = generated_at or dt.datetime.now(dt.UTC)
    sizes = {str(k): int(v) for k, v in networks.membership["network_id"].value_counts().items()}
    history = reviews if reviews is not None else pd.DataFrame(columns=["site_id"])
    overridden = dict((override or {}).get("sites", {}))
    table = thresholds or load_thresholds()
    sections = []
    for site in rows:
        site_id = str(site["site_id"])
        ships = shipments[shipments["site_id"] == site_id]
        seller_rows, links, ev = _site_parts(site, ships, sellers, networks, evidence)
        section = site_section(
            {str(k): v for k, v in site.items()},
            waybills=ships,
            sellers=seller_rows,
            links=links,
            network_sizes=sizes,
            evidence=ev,
            reviews=history[history["site_id"] == site_id],
            rights_holders=rights_holders or {},
            tr=tr,
        )
        section["prosecution"] = _prosecution(site, ships, ev, table, tr)
        section.update(_seen_section(site, seller_rows, cross_references, tr))
        section["continuity"] = continuity_rows(relocations, site_id, tr, profile=profile)
        if figures and site_id in figures:
            section["figure"] = "data:image/png;base64," + base64.b64encode(
                figures[site_id]
            ).decode("ascii")
        if site_id in overridden:
            section["override"] = tr.value("status", overridden[site_id])
        sections.append(section)
    run_id = str(rows[0].get("run_id", parameters.get("run_id", "")))
    return {
        "lang": lang,
        "reference": reference or make_reference(now, run_id, *ids),
        "generated_at": now.strftime("%Y-%m-%d %H:%M UTC"),
        "profile": profile,
        "organisation": {
            k: shown(v, tr) for k, v in {**DEFAULT_ORGANISATION, **(organisation or {})}.items()
        },
        "signed_by": signed_by,
        "override": {
            "reason": shown((override or {}).get("reason", ""), tr, 1_000),
            "by": shown((override or {}).get("by", ""), tr),
            "sites": ", ".join(overridden),
        }
        if overridden
        else None,
        "sites": sections,
        "parameters": records(
            pd.DataFrame({"name": list(parameters), "value": list(parameters.values())}),
            ["name", "value"],
            tr,
        ),
        "sources": source_rows(sources, tr),
        "contents": [{k: shown(v, tr) for k, v in c.items()} for c in contents],
        "attributions": [tr("attribution.geonames"), tr("attribution.natural_earth")],
        "prosecution_method": tr(
            "prosecution.method", table=shown(table.name, tr), sha256=table.sha256
        ),
    }


def _seen_section(
    site: pd.Series, seller_rows: pd.DataFrame, xrefs: pd.DataFrame | None, tr: Translator
) -> dict[str, Any]:
    """The site's "seen before" rows and how many more the CSV holds; nothing when the case
    was never cross-referenced (``xrefs`` None: the report leaves the section out)."""
    if xrefs is None:
        return {}
    if xrefs.empty:
        return {"seen_before": [], "seen_before_more": 0}
    nets: list[str] = []
    if len(seller_rows) and "network_id" in seller_rows.columns:
        nets = seller_rows["network_id"].dropna().astype(str).tolist()
    found = seen_before(
        xrefs, site_id=str(site["site_id"]), sellers=[str(s) for s in site["sellers"]],
        networks=nets,
    )  # fmt: skip
    return {
        "seen_before": seen_before_rows(found, tr),
        "seen_before_more": max(len(found) - MAX_SEEN, 0),
    }


def _prosecution(
    site: pd.Series, ships: pd.DataFrame, evidence: pd.DataFrame, table: Thresholds, tr: Translator
) -> dict[str, Any]:
    """The site's business-volume estimate against the thresholds of its jurisdiction."""
    place = jurisdiction_names({str(k): v for k, v in site.items()})
    rows = site_thresholds(table.frame, {str(k): v for k, v in site.items()})
    estimate = estimate_volume(ships, evidence)
    return prosecution_section(
        estimate,
        compare(estimate, rows),
        place=(place["zh"] or place["en"]) if tr.lang.startswith("zh") else place["en"],
        table=table.name,
        tr=tr,
    )


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(_REPORT_HTML),
        autoescape=select_autoescape(["html", "j2"], default=True),
        keep_trailing_newline=True,
    )
    env.filters["num"] = lambda v, d=0: f"{float(v):,.{d}f}" if v not in ("", None) else ""
    return env


def render_tip_sheet(
    context: Mapping[str, Any], path: str | os.PathLike[str] | None = None
) -> str | None:
    """The tip sheet as self-contained HTML; written to ``path`` (UTF-8) when given."""
    tr: Translator = translator(str(context.get("lang", "en")))
    html = _environment().get_template("tipsheet.html.j2").render(**context, tr=tr)
    if path is None:
        return html
    Path(path).write_text(html, encoding="utf-8")
    return None


def _data_only_fetcher() -> Any:
    """A WeasyPrint URL fetcher that loads ``data:`` URIs only: the report embeds all it
    shows, and nothing may be fetched while rendering."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols={"data"})


def render_pdf(html: str, path: str | os.PathLike[str] | None = None) -> bytes:
    """The tip sheet HTML as archival PDF/A-3b (WeasyPrint; fonts from the system, e.g.
    Noto Sans CJK, embedded)."""
    try:
        import weasyprint
    except (ImportError, OSError) as error:
        raise MissingDependencyError(
            "PDF tip sheets need WeasyPrint and its system libraries (pango): "
            f"pip install weasyprint; on Debian apt-get install libpango-1.0-0 ({error})"
        ) from error
    # PDF/A-3b: the archival profile (fonts embedded, colour profile, XMP identification)
    document = weasyprint.HTML(string=html, url_fetcher=_data_only_fetcher())
    pdf: bytes = document.write_pdf(pdf_variant="pdf/a-3b")
    if path is not None:
        Path(path).write_bytes(pdf)
    return pdf
