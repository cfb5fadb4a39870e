"""The explorer's site details panel as HTML: score parts, sellers, evidence, activity, reviews,
and what was seen before (earlier cases, partner lists); and the panel of a map selection.

Built by pure functions from frames; every value from the data is passed through
:func:`html.escape`, numbers are formatted here, and the weekly activity chart is an inline
SVG whose only text is escaped too.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

import pandas as pd

from workbench.explorer._data import FOUND_BY, SCORE_PARTS, Selection, jurisdiction_label
from workbench.export._i18n import translator
from workbench.export._seen import seen_before_rows

MAX_SELLERS = 25
MAX_EVIDENCE = 12
MAX_SEEN = 25
CHART_W, CHART_H = 320, 90


def esc(value: Any) -> str:
    """Escaped text; missing values as an em dash."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return html.escape(str(value), quote=True)


def _rows(pairs: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in pairs)
    return f'<table class="workbench-facts">{cells}</table>'


def _date(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _yes_no(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "—"
    return "yes" if bool(value) else "no"


def score_parts_html(parts: dict[str, Any]) -> str:
    """One bar per score part (0..1), with what the part measures; then which pass found
    the site and, for a site split from a shared cluster, the other parts."""
    out = []
    notes = []
    for key, value in (parts or {}).items():
        if key == "found_by":
            notes.append(f"<p>Found by {esc(FOUND_BY.get(str(value), value))}.</p>")
            continue
        if key == "split_with":
            others = ", ".join(str(v) for v in value or [])
            notes.append(
                f"<p>Split from one dense cluster shared with {esc(others)}: different rings "
                "whose accounts do not overlap.</p>"
            )
            continue
        share = max(0.0, min(1.0, float(value))) if value is not None else 0.0
        out.append(
            f'<div class="workbench-part"><span class="workbench-part-name">'
            f"{esc(SCORE_PARTS.get(key, key))}</span>"
            f'<span class="workbench-part-bar"><span style="width:{share * 100:.0f}%"></span>'
            f"</span><span>{share:.2f}</span></div>"
        )
    return "".join(out + notes) or "<p>No score parts stored for this site.</p>"


def activity_svg(weeks: pd.DataFrame) -> str:
    """Weekly shipments as an inline SVG bar chart (first and last week labelled)."""
    if weeks.empty:
        return "<p>No dated shipments.</p>"
    counts = weeks["n_shipments"].to_numpy(float)
    top = max(float(counts.max()), 1.0)
    step = CHART_W / len(counts)
    bars = "".join(
        f'<rect x="{i * step:.1f}" y="{CHART_H - 14 - h:.1f}" width="{max(step - 1, 0.5):.1f}" '
        f'height="{h:.1f}"><title>{esc(_date(week))}: {int(n):,}</title></rect>'
        for i, (week, n) in enumerate(zip(weeks["week"], counts, strict=True))
        for h in [(CHART_H - 18) * n / top]
    )
    first, last = _date(weeks["week"].iloc[0]), _date(weeks["week"].iloc[-1])
    return (
        f'<svg class="workbench-activity" viewBox="0 0 {CHART_W} {CHART_H}" width="{CHART_W}" '
        f'height="{CHART_H}" role="img" aria-label="Weekly shipments, peak {int(top):,}">'
        f'<g fill="#d95f0e">{bars}</g>'
        f'<text x="0" y="{CHART_H - 2}" font-size="10">{esc(first)}</text>'
        f'<text x="{CHART_W}" y="{CHART_H - 2}" font-size="10" text-anchor="end">'
        f"{esc(last)}</text>"
        f'<text x="{CHART_W}" y="10" font-size="10" text-anchor="end">peak {int(top):,}/week'
        "</text></svg>"
    )


def sellers_html(site: dict[str, Any], names: dict[str, str], network_of: dict[str, str]) -> str:
    sellers = [str(s) for s in site.get("sellers") or []]
    items = "".join(
        f"<li>{esc(names.get(s, s))} <code>{esc(s)}</code>"
        + (f" · {esc(network_of[s])}" if s in network_of else "")
        + "</li>"
        for s in sellers[:MAX_SELLERS]
    )
    more = len(sellers) - MAX_SELLERS
    tail = f"<li>… and {more:,} more</li>" if more > 0 else ""
    networks = ", ".join(esc(n) for n in site.get("networks") or []) or "none linked"
    return f"<p>Networks: {networks}</p><ul class='workbench-sellers'>{items}{tail}</ul>"


def evidence_html(evidence: pd.DataFrame) -> str:
    if evidence.empty:
        return "<p>No test buys or complaints on these sellers.</p>"
    shown = evidence.sort_values("date", ascending=False).head(MAX_EVIDENCE)
    rows = "".join(
        f"<tr><td>{esc(_date(r['date']))}</td><td>{esc(r['seller_id'])}</td>"
        f"<td>{esc(r['brand'])}</td><td>{esc(r['kind'])}</td><td>{esc(r['verdict'])}</td></tr>"
        for r in shown.to_dict("records")
    )
    more = len(evidence) - len(shown)
    tail = f"<p>… and {more:,} more.</p>" if more > 0 else ""
    return (
        '<table class="workbench-list"><tr><th>Date</th><th>Seller</th><th>Brand</th>'
        f"<th>Kind</th><th>Verdict</th></tr>{rows}</table>{tail}"
    )


def seen_before_html(rows: pd.DataFrame | None) -> str:
    """The matches with earlier cases and partner lists (:class:`~workbench.explorer._seen.
    SeenBefore`), worded as the tip sheet words them: platform records, not findings."""
    if rows is None:
        return (
            "<p>Not cross-referenced yet: <code>workbench xref</code> (earlier cases), "
            "<code>workbench exchange import</code> (partner lists).</p>"
        )
    if rows.empty:
        return "<p>No match in the earlier cases or partner lists checked.</p>"
    shown = seen_before_rows(rows, translator("en"), MAX_SEEN)
    body = "".join(
        f"<tr><td>{esc(r['what'])}</td><td>{esc(r['account'])}</td><td>{esc(r['source'])}</td>"
        f"<td>{esc(r['earlier'])}</td><td>{esc(r['outcome'])}</td>"
        f"<td>{esc(r['record'])}</td></tr>"
        for r in shown
    )
    more = len(rows) - len(shown)
    tail = f"<p>… and {more:,} more (workbench.cross_references(case)).</p>" if more > 0 else ""
    return (
        '<table class="workbench-list workbench-seen"><tr><th>Match</th><th>Account</th>'
        "<th>Where</th><th>Earlier network / sites</th><th>Outcome there</th>"
        f"<th>Record</th></tr>{body}</table>{tail}"
    )


def selection_html(
    selection: Selection, *, names: dict[str, str], seen: pd.DataFrame | None
) -> str:
    """The panel of what was clicked or drawn on the map: its counts, its sellers (those
    seen before first) and their matches with earlier cases and partner lists."""
    ids = [str(s) for s in selection.sellers["seller_id"]]
    flagged = set(seen["seller_id"].dropna().astype(str)) if seen is not None else set()
    ordered = [s for s in ids if s in flagged] + [s for s in ids if s not in flagged]
    networks = dict(zip(ids, selection.sellers["network_id"], strict=True))
    items = "".join(
        f"<li>{esc(names.get(s, s))} <code>{esc(s)}</code>"
        + (f" · {esc(networks[s])}" if isinstance(networks.get(s), str) else "")
        + (" · <b>seen before</b>" if s in flagged else "")
        + "</li>"
        for s in ordered[:MAX_SELLERS]
    )
    more = len(ids) - MAX_SELLERS
    tail = f"<li>… and {more:,} more</li>" if more > 0 else ""
    what = {"point": "Clicked point", "draw": "Drawn area"}.get(selection.source, "Selection")
    return (
        f'<div class="workbench-details workbench-selection"><h3>{esc(what)}</h3>'
        + _rows(
            [
                ("Shipments", f"{selection.n_shipments:,}"),
                ("Sellers", f"{len(ids):,}"),
                ("Sites", f"{len(selection.sites):,}"),
                ("Addresses", f"{len(selection.locations):,}"),
            ]
        )
        + _seen_section(seen)
        + f"<h4>Sellers ({len(ids):,})</h4><ul class='workbench-sellers'>{items}{tail}</ul></div>"
    )


def reviews_html(reviews: pd.DataFrame) -> str:
    if reviews.empty:
        return "<p>Not reviewed yet.</p>"
    rows = "".join(
        f"<tr><td>{esc(r['at'])}</td><td>{esc(r['by'])}</td><td>{esc(r['status'])}</td>"
        f"<td>{esc(r['note'])}</td></tr>"
        for r in reviews.to_dict("records")
    )
    return (
        '<table class="workbench-list"><tr><th>When</th><th>Who</th><th>Decision</th>'
        f"<th>Note</th></tr>{rows}</table>"
    )


def _seen_section(rows: pd.DataFrame | None) -> str:
    """The "Seen before" heading and list; nothing for a case never cross-referenced."""
    if rows is None:
        return ""
    count = f" ({len(rows):,})" if len(rows) else ""
    return f"<h4>Seen before{count}</h4>{seen_before_html(rows)}"


def details_html(
    site: dict[str, Any],
    *,
    names: dict[str, str],
    network_of: dict[str, str],
    evidence: pd.DataFrame,
    activity: pd.DataFrame,
    reviews: pd.DataFrame,
    seen: pd.DataFrame | None = None,
) -> str:
    """The whole panel for one site (a row of ``case.sites()`` as a dict); ``seen``: its
    matches with earlier cases and partner lists (None: the case was never checked)."""
    own = evidence[evidence["seller_id"].isin([str(s) for s in site.get("sellers") or []])]
    zh = ", ".join(
        str(site[k]) for k in ("district_zh", "prefecture_zh", "province_zh") if site.get(k)
    )
    value = site.get("value_cny")
    facts = _rows(
        [
            ("Jurisdiction", jurisdiction_label(site) or "—"),
            ("辖区", zh or "—"),
            ("Position", f"{float(site['lat']):.5f}, {float(site['lon']):.5f}"),
            ("Radius", f"{float(site.get('radius_m') or 0):,.0f} m"),
            ("Shipments", f"{int(site.get('n_shipments') or 0):,}"),
            ("Declared value", None if value is None or pd.isna(value) else f"¥{value:,.0f}"),
            ("Sellers / operators", f"{site.get('n_sellers')} / {site.get('n_operators')}"),
            (
                "Test buys",
                f"{site.get('n_counterfeit')} counterfeit, {site.get('n_genuine')} genuine",
            ),
            ("Active", f"{_date(site.get('first_shipped'))} to {_date(site.get('last_shipped'))}"),
            ("Stable across radii", _yes_no(site.get("stable"))),
            ("Status", site.get("status") or "unreviewed"),
        ]
    )
    score = site.get("score")
    title = (
        f"Site {esc(site['site_id'])} · {esc(site.get('label'))} · score "
        f"{esc(None if score is None or pd.isna(score) else f'{score:.1f}')}"
    )
    return (
        f'<div class="workbench-details"><h3>{title}</h3>{facts}'
        f"{_seen_section(seen)}"
        f"<h4>Score parts</h4>{score_parts_html(site.get('score_parts') or {})}"
        f"<h4>Weekly shipments</h4>{activity_svg(activity)}"
        f"<h4>Sellers ({len(site.get('sellers') or [])})</h4>"
        f"{sellers_html(site, names, network_of)}"
        f"<h4>Evidence</h4>{evidence_html(own)}"
        f"<h4>Review history</h4>{reviews_html(reviews)}</div>"
    )
