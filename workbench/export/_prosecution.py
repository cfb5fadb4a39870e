"""The case for prosecution: a site's business volume from platform data, against the
case-filing thresholds of its jurisdiction.

:func:`estimate_volume` takes the site's waybills and the evidence on its accounts and
returns the waybills, declared value (``value_cny``) and items over the site's active
period (its first to its last waybill), with the part backed by counterfeit test buys.
:func:`compare` sets that estimate against each threshold (:mod:`._thresholds`), and
:func:`prosecution_section` words the result for the tip sheet, always as an estimate from
platform records, never as a finding.

The rule for the backed part (:func:`backed_waybills`): a waybill is backed when **its own
seller account** has a test buy (evidence kind ``test_buy``) with the verdict
``counterfeit`` for **the waybill's brand** (compared ignoring case and surrounding
spaces), or a counterfeit test-buy verdict that names no brand, which backs every waybill
of that account. Verdicts on other accounts of the network, complaints and takedowns do not
back a waybill; a waybill without a brand is backed only by a verdict without one.

>>> est = estimate_volume(waybills, evidence)                      # doctest: +SKIP
>>> [c.state for c in compare(est, thresholds)]                    # doctest: +SKIP
['above', 'not_estimable', 'above', 'not_estimable']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from workbench.export._i18n import Translator
from workbench.export._report import shown
from workbench.export._thresholds import site_thresholds

__all__ = [
    "BACKING_KINDS",
    "ESTIMABLE",
    "ESTIMATE_CURRENCY",
    "ESTIMATE_FIELDS",
    "PROSECUTION_COLUMNS",
    "ThresholdComparison",
    "VolumeEstimate",
    "backed_waybills",
    "compare",
    "estimate_volume",
    "prosecution_rows",
    "prosecution_section",
    "site_estimates",
]

BACKING_KINDS = ("test_buy",)  # evidence kinds whose counterfeit verdict backs a waybill
ESTIMATE_CURRENCY = "CNY"  # the currency of value_cny
ESTIMABLE = ("business_volume", "sold_value")  # measures the declared value estimates
MAX_SOURCE = 600  # characters of a threshold's source shown in the report
PROSECUTION_COLUMNS = (
    "site_id", "basis", "period_first", "period_last", "n_shipments", "value_cny", "items",
    "n_no_value", "n_backed", "value_backed_cny", "items_backed", "country", "jurisdiction",
    "offence_en", "offence_zh", "measure", "threshold_amount", "threshold_currency", "state",
    "gap", "backed_state", "backed_gap", "source", "source_date",
)  # fmt: skip
ESTIMATE_FIELDS = (
    "estimate_basis", "estimate_n_shipments", "estimate_value_cny", "estimate_items",
    "estimate_backed_n_shipments", "estimate_backed_value_cny", "estimate_standards_reached",
    "estimate_standards_compared",
)  # fmt: skip
_BASIS = "estimate from platform records (declared value of waybills), not a finding of fact"


@dataclass(frozen=True)
class VolumeEstimate:
    """A site's volume from its waybills, and the part backed by counterfeit test buys."""

    n_shipments: int
    value_cny: float
    items: int | None  # None when no waybill states its items
    first_shipped: str  # the active period, ISO dates ("" without dates)
    last_shipped: str
    n_backed: int
    value_backed_cny: float
    items_backed: int | None
    n_no_value: int  # waybills without a declared value, counted as zero


@dataclass(frozen=True)
class ThresholdComparison:
    """One threshold against the estimate.

    ``state`` is ``above``, ``equal`` or ``below`` (``gap`` the distance in the currency),
    ``not_estimable`` (a measure waybills do not show: illegal gains, unsold stock) or
    ``other_currency`` (not in CNY, so not compared); ``backed_*`` is the same for the
    backed part alone.
    """

    threshold: Mapping[str, Any]
    state: str
    estimate: float | None
    gap: float | None
    backed_state: str
    backed_estimate: float | None
    backed_gap: float | None


def _fold(values: pd.Series) -> pd.Series:
    return values.astype("string").fillna("").str.strip().str.casefold()


def backed_waybills(waybills: pd.DataFrame, evidence: pd.DataFrame) -> pd.Series:
    """True for each waybill backed by a counterfeit test-buy verdict (module docstring)."""
    none = pd.Series(False, index=waybills.index)
    if waybills.empty or evidence.empty or "seller_id" not in waybills.columns:
        return none
    ev = evidence[evidence["verdict"].astype("string") == "counterfeit"]
    if "kind" in ev.columns:
        ev = ev[ev["kind"].astype("string").isin(BACKING_KINDS)]
    else:
        ev = ev.iloc[0:0]  # kind not recorded: no verdict is known to be a test buy
    if ev.empty:
        return none
    ev_brand = _fold(ev["brand"]) if "brand" in ev.columns else pd.Series("", index=ev.index)
    ev_seller = ev["seller_id"].astype(str)
    any_brand = set(ev_seller[ev_brand == ""])
    pairs = set(zip(ev_seller[ev_brand != ""], ev_brand[ev_brand != ""], strict=True))
    seller = waybills["seller_id"].astype(str)
    brand = (
        _fold(waybills["brand"])
        if "brand" in waybills.columns
        else pd.Series("", index=waybills.index)
    )
    keyed = pd.Series(
        [(s, b) in pairs for s, b in zip(seller, brand, strict=True)], index=waybills.index
    )
    return seller.isin(any_brand) | keyed


def _items(frame: pd.DataFrame) -> int | None:
    if "items" not in frame.columns:
        return None
    items = pd.to_numeric(frame["items"], errors="coerce")
    return int(items.sum()) if items.notna().any() else None


def _day(value: Any) -> str:
    return "" if pd.isna(value) else str(pd.Timestamp(value).date())


def estimate_volume(waybills: pd.DataFrame, evidence: pd.DataFrame) -> VolumeEstimate:
    """The site's waybills, declared value and items over its active period, and the part
    backed by counterfeit test buys (each waybill counted once, by ``shipment_id``)."""
    ships = waybills
    if "shipment_id" in ships.columns:
        ships = ships.drop_duplicates("shipment_id")
    value = (
        pd.to_numeric(ships["value_cny"], errors="coerce")
        if "value_cny" in ships.columns
        else pd.Series(float("nan"), index=ships.index)
    )
    backed = backed_waybills(ships, evidence)
    dates = pd.to_datetime(ships["shipped_at"]) if "shipped_at" in ships.columns else None
    items = _items(ships)
    return VolumeEstimate(
        n_shipments=len(ships),
        value_cny=float(value.sum()),
        items=items,
        first_shipped=_day(dates.min()) if dates is not None and len(ships) else "",
        last_shipped=_day(dates.max()) if dates is not None and len(ships) else "",
        n_backed=int(backed.sum()),
        value_backed_cny=float(value[backed].sum()),
        items_backed=(_items(ships[backed]) or 0) if items is not None else None,
        n_no_value=int(value.isna().sum()),
    )


def _against(row: Mapping[str, Any], estimate: float) -> tuple[str, float | None, float | None]:
    """(state, estimate, gap) of one threshold row; see :class:`ThresholdComparison`."""
    amount = float(row["amount"])
    if row["currency"] != ESTIMATE_CURRENCY:
        return "other_currency", None, None
    if row["measure"] not in ESTIMABLE:
        return "not_estimable", None, None
    if estimate > amount:
        return "above", estimate, estimate - amount
    if estimate < amount:
        return "below", estimate, amount - estimate
    return "equal", estimate, 0.0


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def compare(estimate: VolumeEstimate, thresholds: pd.DataFrame) -> list[ThresholdComparison]:
    """The estimate against each row of ``thresholds`` (those of the site's jurisdiction).

    Only amounts in CNY are compared (``value_cny`` is in CNY), and only on the measures
    the declared value estimates (:data:`ESTIMABLE`); "equal" counts as reaching the
    standard (the provisions read "五万元以上", 50,000 or more).
    """
    return [
        ThresholdComparison(
            row,
            *_against(row, estimate.value_cny),
            *_against(row, estimate.value_backed_cny),
        )
        for row in _records(thresholds)
    ]


def money(value: float, currency: str, tr: Translator) -> str:
    """An amount as the report writes it: ``CNY 182,400`` / ``人民币182,400元``."""
    figure = f"{value:,.2f}".removesuffix(".00")
    if currency == ESTIMATE_CURRENCY:
        return tr("money.cny", value=figure)
    return tr("money.other", currency=currency, value=figure)


def _share(part: float, whole: float) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "–"


def _estimate_text(est: VolumeEstimate, tr: Translator) -> str:
    if not est.n_shipments:
        return tr("prosecution.no_waybills")
    cny = ESTIMATE_CURRENCY
    return tr(
        "prosecution.estimate",
        first=est.first_shipped or "?",
        last=est.last_shipped or "?",
        n=f"{est.n_shipments:,}",
        value=money(est.value_cny, cny, tr),
        items=tr("prosecution.items_total", n=f"{est.items:,}") if est.items is not None else "",
        n_backed=f"{est.n_backed:,}",
        share_n=_share(est.n_backed, est.n_shipments),
        value_backed=money(est.value_backed_cny, cny, tr),
        share_value=_share(est.value_backed_cny, est.value_cny),
        items_backed=tr("prosecution.items_backed", n=f"{est.items_backed:,}")
        if est.items_backed is not None
        else "",
    )


def _offence(row: Mapping[str, Any], tr: Translator) -> str:
    zh = str(row.get("offence_zh") or "") if tr.lang.startswith("zh") else ""
    return shown(zh or row["offence_en"], tr, MAX_SOURCE)


def _statement(c: ThresholdComparison, tr: Translator) -> str:
    row = c.threshold
    words = {
        "offence": _offence(row, tr),
        "measure": tr.value("measure", row["measure"]),
        "amount": money(float(row["amount"]), str(row["currency"]), tr),
    }
    if c.state in ("not_estimable", "other_currency"):
        return tr(f"prosecution.{c.state}", **words)
    cny = ESTIMATE_CURRENCY
    text = tr(
        f"prosecution.{c.state}",
        **words,
        estimate=money(c.estimate or 0.0, cny, tr),
        gap=money(c.gap or 0.0, cny, tr),
    )
    backed = tr(
        f"prosecution.backed.{c.backed_state}",
        estimate=money(c.backed_estimate or 0.0, cny, tr),
        gap=money(c.backed_gap or 0.0, cny, tr),
    )
    return text + tr("sentence.sep") + backed


def _cell(state: str, value: float | None, tr: Translator) -> str:
    if value is None:
        return tr(f"prosecution.cell.{state}")
    return tr(f"prosecution.cell.{state}", value=money(value, ESTIMATE_CURRENCY, tr))


def prosecution_section(
    estimate: VolumeEstimate,
    comparisons: Sequence[ThresholdComparison],
    *,
    place: str,
    table: str,
    tr: Translator,
) -> dict[str, Any]:
    """What the tip sheet shows under "case-filing thresholds", in the report's language.

    ``place`` names the site's jurisdiction, ``table`` the thresholds table's file name.
    Each distinct source is listed once (``sources``); a row points to it by number.
    """
    cited: dict[tuple[str, str], int] = {}
    rows = []
    for c in comparisons:
        cite = (str(c.threshold["source"]), str(c.threshold.get("source_date") or ""))
        rows.append(
            {
                "offence": _offence(c.threshold, tr),
                "measure": tr.value("measure", c.threshold["measure"]),
                "standard": money(float(c.threshold["amount"]), str(c.threshold["currency"]), tr),
                "estimate": _cell(c.state, c.estimate, tr),
                "backed": _cell(c.backed_state, c.backed_estimate, tr),
                "state": c.state,
                "source": cited.setdefault(cite, len(cited) + 1),
            }
        )
    return {
        "estimate": _estimate_text(estimate, tr),
        "no_value": tr("prosecution.no_value", n=f"{estimate.n_no_value:,}")
        if estimate.n_no_value
        else "",
        "rows": rows,
        "statements": [_statement(c, tr) for c in comparisons] if estimate.n_shipments else [],
        "none": ""
        if comparisons
        else tr("prosecution.none", place=place or tr("place.unknown"), table=shown(table, tr)),
        "disclaimer": tr("prosecution.disclaimer"),
        "sources": [
            {"n": n, "text": shown(text, tr, MAX_SOURCE), "date": shown(date, tr)}
            for (text, date), n in cited.items()
        ],
    }


def prosecution_rows(
    site_id: str, estimate: VolumeEstimate, comparisons: Sequence[ThresholdComparison]
) -> list[dict[str, Any]]:
    """Rows of ``prosecution.csv``: one per threshold of the site (one with ``state``
    ``none_on_file`` when its jurisdiction has none), the estimate repeated on each."""
    base = {
        "site_id": site_id,
        "basis": _BASIS,
        "period_first": estimate.first_shipped,
        "period_last": estimate.last_shipped,
        "n_shipments": estimate.n_shipments,
        "value_cny": round(estimate.value_cny, 2),
        "items": estimate.items,
        "n_no_value": estimate.n_no_value,
        "n_backed": estimate.n_backed,
        "value_backed_cny": round(estimate.value_backed_cny, 2),
        "items_backed": estimate.items_backed,
    }
    if not comparisons:
        return [{**base, "state": "none_on_file"}]
    out = []
    for c in comparisons:
        row = c.threshold
        out.append(
            {
                **base,
                **{
                    k: row.get(k, "")
                    for k in ("country", "jurisdiction", "offence_en", "offence_zh", "measure")
                },
                "threshold_amount": float(row["amount"]),
                "threshold_currency": row["currency"],
                "state": c.state,
                "gap": None if c.gap is None else round(c.gap, 2),
                "backed_state": c.backed_state,
                "backed_gap": None if c.backed_gap is None else round(c.backed_gap, 2),
                "source": row["source"],
                "source_date": row.get("source_date", ""),
            }
        )
    return out


def site_estimates(
    sites: pd.DataFrame, shipments: pd.DataFrame, evidence: pd.DataFrame, thresholds: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For a bundle's data files: ``sites`` with :data:`ESTIMATE_FIELDS` added, and the
    rows of ``prosecution.csv`` (:data:`PROSECUTION_COLUMNS`).

    ``shipments`` carry a ``site_id`` column; ``thresholds`` is a checked table
    (:func:`workbench.export._thresholds.load_thresholds`).
    """
    fields: dict[str, list[Any]] = {name: [] for name in ESTIMATE_FIELDS}
    rows: list[dict[str, Any]] = []
    for site in _records(sites):
        site_id = str(site["site_id"])
        est = estimate_volume(shipments[shipments["site_id"] == site_id], evidence)
        comparisons = compare(est, site_thresholds(thresholds, site))
        rows += prosecution_rows(site_id, est, comparisons)
        compared = [c for c in comparisons if c.estimate is not None]
        for name, value in zip(ESTIMATE_FIELDS, (
            _BASIS, est.n_shipments, round(est.value_cny, 2), est.items, est.n_backed,
            round(est.value_backed_cny, 2), sum(c.state != "below" for c in compared),
            len(compared),
        ), strict=True):  # fmt: skip
            fields[name].append(value)
    table = pd.DataFrame(rows, columns=list(PROSECUTION_COLUMNS))
    return sites.assign(**fields), table
