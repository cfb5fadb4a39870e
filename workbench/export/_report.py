"""Pieces of the tip sheet's context: display-safe text, tables and one section per site.

Everything here is plain data (no HTML): strings from the data are made safe to *show*
(control characters dropped, bidirectional overrides made visible, very long values cut
with their full length stated); escaping for HTML is the template engine's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import PurePath
from typing import Any

import pandas as pd

from workbench.export._i18n import Translator

__all__ = ["brand_rows", "jurisdiction_names", "monthly", "records", "shown", "site_section"]

MAX_TEXT = 160
PART_NOTES = ("found_by", "split_with")  # score parts that are notes, not 0..1 figures
MAX_ROWS = {"sellers": 50, "links": 60, "evidence": 80, "reviews": 50, "addresses": 3}
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(value: Any, tr: Translator, limit: int = MAX_TEXT) -> str:
    """``value`` as text a reader can trust: no control characters, visible bidi controls
    (``[U+202E]``), and at most ``limit`` characters followed by the full length."""
    if value is None or value is pd.NA or value is pd.NaT:
        return ""
    if isinstance(value, float) and value != value:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.isoformat().removesuffix("T00:00:00")
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    text = _BIDI.sub(lambda m: f"[U+{ord(m.group()):04X}]", _CONTROL.sub("", str(value)))
    if len(text) > limit:
        return text[:limit] + "… " + tr("text.cut", n=f"{len(text):,}")
    return text


def records(
    frame: pd.DataFrame, columns: Sequence[str], tr: Translator, limit: int | None = None
) -> list[dict[str, Any]]:
    """Rows of ``frame`` as dicts of display values (text shown safely, numbers kept)."""
    present = [c for c in columns if c in frame.columns]
    rows = frame[present].head(limit) if limit else frame[present]
    out = []
    for row in rows.astype(object).itertuples(index=False, name=None):
        item = {}
        for name, value in zip(present, row, strict=True):
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            item[name] = value if number and value == value else shown(value, tr)
        out.append(item)
    return out


def _part(site: Mapping[str, Any], name: str) -> str:
    value = site.get(name)
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def jurisdiction_names(site: Mapping[str, Any]) -> dict[str, str]:
    """The site's administrative area in English and Chinese, and the police area to address."""
    en_parts = [
        _part(site, "district"),
        _part(site, "prefecture") or _part(site, "place"),
        _part(site, "province"),
        _part(site, "country"),
    ]
    en = ", ".join(dict.fromkeys(p for p in en_parts if p))
    zh_parts = [
        _part(site, "country_zh"),
        _part(site, "province_zh"),
        _part(site, "prefecture_zh") or _part(site, "place_zh"),
        _part(site, "district_zh"),
    ]
    zh = "".join(dict.fromkeys(p for p in zh_parts if p))
    area_en = _part(site, "prefecture") or _part(site, "place") or _part(site, "province")
    area_zh = _part(site, "prefecture_zh") or _part(site, "place_zh") or _part(site, "province_zh")
    return {"en": en, "zh": zh, "area_en": area_en, "area_zh": area_zh}


def monthly(waybills: pd.DataFrame) -> list[dict[str, Any]]:
    """Waybills and declared value per calendar month."""
    if waybills.empty or "shipped_at" not in waybills.columns:
        return []
    month = pd.to_datetime(waybills["shipped_at"]).dt.strftime("%Y-%m")
    value = waybills["value_cny"] if "value_cny" in waybills.columns else 0.0
    table = (
        pd.DataFrame({"month": month, "value_cny": value})
        .groupby("month")
        .agg(n_shipments=("value_cny", "size"), value_cny=("value_cny", "sum"))
        .reset_index()
    )
    return [
        {"month": str(m), "n_shipments": int(n), "value_cny": float(v)}
        for m, n, v in table.itertuples(index=False, name=None)
    ]


def brand_rows(
    waybills: pd.DataFrame,
    evidence: pd.DataFrame,
    brands: Sequence[str],
    rights_holders: Mapping[str, str],
    tr: Translator,
) -> list[dict[str, Any]]:
    """One row per brand: waybills at the site, verdicts on the accounts, rights holder."""
    counts = (
        waybills["brand"].value_counts() if "brand" in waybills.columns else pd.Series(dtype=int)
    )
    names = list(dict.fromkeys([*map(str, brands), *counts.index.astype(str)]))
    if "brand" in evidence.columns and len(evidence):
        names += [b for b in evidence["brand"].dropna().astype(str).unique() if b not in names]
    rows = []
    for brand in names:
        ev = evidence[evidence["brand"].astype(str) == brand] if len(evidence) else evidence
        verdicts = ev["verdict"].value_counts() if len(ev) else pd.Series(dtype=int)
        rows.append(
            {
                "brand": shown(brand, tr),
                "n_shipments": int(counts.get(brand, 0)),
                "n_counterfeit": int(verdicts.get("counterfeit", 0)),
                "n_genuine": int(verdicts.get("genuine", 0)),
                "rights_holder": shown(rights_holders.get(brand, ""), tr),
            }
        )
    return sorted(rows, key=lambda r: (-r["n_counterfeit"], -r["n_shipments"], r["brand"]))


def source_rows(sources: Sequence[Mapping[str, Any]], tr: Translator) -> list[dict[str, Any]]:
    """Input files with their hashes and row counts; only the file name of each path."""
    out = []
    for source in sources:
        name = PurePath(str(source.get("source", ""))).name
        out.append(
            {
                "table": shown(source.get("table", ""), tr),
                "source": shown(name, tr),
                "sha256": shown(source.get("sha256", ""), tr),
                "rows": " / ".join(
                    f"{int(source[k]):,}" if source.get(k) is not None else "?"
                    for k in ("rows_read", "rows_stored", "rows_quarantined")
                ),
            }
        )
    return out


def shared_identifiers(links: pd.DataFrame) -> pd.DataFrame:
    """One row per identifier that links accounts: kind, normalised value, the spellings
    seen and the accounts that carry it (most accounts first)."""
    if links.empty:
        return pd.DataFrame(columns=["kind", "value_norm", "spellings", "accounts", "n"])
    grouped = links.groupby(["kind", "value_norm"], sort=False).agg(
        spellings=("value", lambda v: sorted({str(x) for x in v if str(x)})),
        accounts=("seller_id", lambda v: sorted({str(x) for x in v})),
    )
    grouped["n"] = grouped["accounts"].map(len)
    return grouped.reset_index().sort_values(
        ["n", "kind", "value_norm"], ascending=[False, True, True]
    )


def _network(
    net: str, links: pd.DataFrame, sizes: Mapping[str, int], tr: Translator
) -> dict[str, Any]:
    shared = shared_identifiers(links[links["network_id"] == net])
    rows = [
        {
            "kind": str(kind),
            "value": shown(value, tr),
            "spellings": shown(tr("list.sep").join(sp), tr),
            "accounts": shown(tr("list.sep").join(acc), tr, 400),
        }
        for kind, value, sp, acc in shared[["kind", "value_norm", "spellings", "accounts"]]
        .head(MAX_ROWS["links"])
        .itertuples(index=False, name=None)
    ]
    return {
        "network_id": shown(net, tr),
        "n_sellers": int(sizes.get(net, 0)),
        "links": rows,
        "links_more": max(len(shared) - MAX_ROWS["links"], 0),
    }


def _date(value: Any) -> str:
    return str(pd.Timestamp(value).date()) if value is not None and pd.notna(value) else ""


def site_section(
    site: Mapping[str, Any],
    *,
    waybills: pd.DataFrame,
    sellers: pd.DataFrame,
    links: pd.DataFrame,
    network_sizes: Mapping[str, int],
    evidence: pd.DataFrame,
    reviews: pd.DataFrame,
    rights_holders: Mapping[str, str],
    tr: Translator,
) -> dict[str, Any]:
    """Everything the report shows about one site, in the report's language."""
    place = jurisdiction_names(site)
    zh = tr.lang.startswith("zh")
    counterfeit = (
        sorted(
            evidence.loc[evidence["verdict"] == "counterfeit", "brand"]
            .dropna()
            .astype(str)
            .unique()
        )
        if len(evidence) and "brand" in evidence.columns
        else []
    )
    first, last = _date(site.get("first_shipped")), _date(site.get("last_shipped"))
    area = place["area_zh"] if zh else place["area_en"]
    addresses = (
        waybills["origin_address"].dropna().astype(str).value_counts().head(MAX_ROWS["addresses"])
        if "origin_address" in waybills.columns
        else pd.Series(dtype=int)
    )
    site_id = str(site["site_id"])
    summary = tr(
        "summary",
        site_id=site_id,
        place=(place["zh"] if zh else place["en"]) or tr("place.unknown"),
        n_shipments=f"{int(site['n_shipments']):,}",
        n_sellers=f"{int(site['n_sellers']):,}",
        n_operators=f"{int(site.get('n_operators', site['n_sellers'])):,}",
        first=first or "?",
        last=last or "?",
        n_counterfeit=f"{int(site['n_counterfeit']):,}",
        n_genuine=f"{int(site['n_genuine']):,}",
        brands=tr("list.sep").join(shown(b, tr) for b in counterfeit) or tr("none"),
        score=f"{float(site['score']):.0f}",
        label=tr.value("label", site.get("label")),
    )
    nets = sorted(sellers["network_id"].dropna().astype(str).unique()) if len(sellers) else []
    value = site.get("value_cny")
    parts = dict(site.get("score_parts") or {})
    return {
        "site_id": shown(site_id, tr),
        "rank": int(site["rank"]),
        "label": str(site.get("label", "")),
        "label_text": tr.value("label", site.get("label")),
        "status": str(site.get("status", "unreviewed")),
        "status_text": tr.value("status", site.get("status", "unreviewed")),
        "summary": summary,
        "lat": round(float(site["lat"]), 6),
        "lon": round(float(site["lon"]), 6),
        "radius_m": float(site["radius_m"]),
        "addresses": [{"address": shown(a, tr), "n": int(n)} for a, n in addresses.items()],
        "jurisdiction": place["zh"] if zh else place["en"],
        "jurisdiction_other": place["en"] if zh else place["zh"],
        "recipient": tr("recipient", area=area) if area else "",
        "score": float(site["score"]),
        "score_parts": [
            {"name": tr.value("score_part", k), "value": float(v)}
            for k, v in parts.items()
            if k not in PART_NOTES
        ],
        "found_by": tr.value("found_by", parts.get("found_by")) if parts.get("found_by") else "",
        "split_with": tr("list.sep").join(shown(str(s), tr) for s in parts.get("split_with") or []),
        "n_shipments": int(site["n_shipments"]),
        "n_waybills_listed": len(waybills),
        "value_cny": float(value) if value is not None and pd.notna(value) else None,
        "first_shipped": first,
        "last_shipped": last,
        "brands": brand_rows(
            waybills, evidence, list(site.get("brands") or []), rights_holders, tr
        ),
        "sellers": records(
            sellers,
            [
                "seller_id",
                "name",
                "platform",
                "network_id",
                "n_shipments_at_site",
                "registered_address",
            ],
            tr,
            MAX_ROWS["sellers"],
        ),
        "sellers_more": max(len(sellers) - MAX_ROWS["sellers"], 0),
        "networks": [_network(net, links, network_sizes, tr) for net in nets],
        "evidence": records(
            evidence,
            ["evidence_id", "seller_id", "brand", "kind", "verdict", "date", "file_sha256"],
            tr,
            MAX_ROWS["evidence"],
        ),
        "evidence_more": max(len(evidence) - MAX_ROWS["evidence"], 0),
        "monthly": monthly(waybills),
        "reviews": records(reviews, ["at", "by", "status", "note"], tr, MAX_ROWS["reviews"]),
        "figure": None,
        "override": None,
    }
