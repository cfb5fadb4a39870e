"""The tip sheet's case-filing section, rendered: wording and figures in both languages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pandas as pd
import pytest

from workbench.export._thresholds import THRESHOLD_COLUMNS, load_thresholds
from workbench.export._tipsheet import render_tip_sheet, tip_sheet_context
from workbench.networks._link import Networks

EVIL = "<script>alert(1)</script>"


def _sites() -> pd.DataFrame:
    base = {
        "run_id": "r1", "status": "confirmed", "label": "workshop", "score": 91.0,
        "radius_m": 80.0, "n_operators": 1, "n_counterfeit": 2, "n_genuine": 0,
        "brands": ["Nike"], "score_parts": {"evidence": 0.9},
        "first_shipped": "2026-03-01", "last_shipped": "2026-05-31",
    }  # fmt: skip
    return pd.DataFrame(
        [
            {**base, "site_id": "S001", "rank": 1, "lat": 25.44, "lon": 119.01,
             "n_shipments": 3, "n_sellers": 2, "sellers": ["A", "B"], "value_cny": 182_400.0,
             "country": "China", "country_zh": "中国", "province": "Fujian",
             "province_zh": "福建省", "prefecture": "Putian", "prefecture_zh": "莆田市"},
            {**base, "site_id": "S002", "rank": 2, "lat": 48.1, "lon": 11.6,
             "n_shipments": 1, "n_sellers": 1, "sellers": ["C"], "value_cny": 100.0,
             "country": "", "country_zh": "", "place": "Munich"},
        ]
    )  # fmt: skip


@pytest.fixture
def parts() -> dict:
    # S001: A ships 120,000 + 50,000 of Nike (A has a counterfeit Nike test buy: backed),
    # B ships 12,400 of Nike (B's verdict is from a complaint: not backed).
    # Total 182,400: above the 50,000 standards of arts. 213 and 214 by 132,400;
    # backed 170,000: above them by 120,000.
    shipments = pd.DataFrame(
        {
            "site_id": ["S001", "S001", "S001", "S002"],
            "shipment_id": ["W1", "W2", "W3", "W4"],
            "seller_id": ["A", "A", "B", "C"],
            "brand": "Nike",
            "value_cny": [120_000.0, 50_000.0, 12_400.0, 100.0],
            "items": [300, 100, 40, 1],
            "shipped_at": pd.to_datetime(["2026-03-01", "2026-04-01", "2026-05-31", "2026-05-01"]),
        }
    )
    evidence = pd.DataFrame(
        {
            "evidence_id": ["E1", "E2"],
            "seller_id": ["A", "B"],
            "brand": "Nike",
            "kind": ["test_buy", "complaint"],
            "verdict": "counterfeit",
            "date": pd.to_datetime(["2026-04-02", "2026-04-03"]),
            "file_sha256": "ab" * 32,
        }
    )
    membership = pd.DataFrame({"seller_id": ["A", "B", "C"], "network_id": ["N1", "N1", None]})
    networks = Networks(
        membership=membership,
        summary=pd.DataFrame(columns=["network_id"]),
        links=pd.DataFrame(columns=["network_id", "seller_id", "kind", "value", "value_norm"]),
        infrastructure=pd.DataFrame(),
        parameters={},
        unknown_sellers=pd.DataFrame(),
    )
    sellers = pd.DataFrame({"seller_id": ["A", "B", "C"], "name": ["Shop A", "Shop B", "C"]})
    return {
        "sites": _sites(), "shipments": shipments, "sellers": sellers, "networks": networks,
        "evidence": evidence, "parameters": {"run_id": "r1"},
        "generated_at": dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
    }  # fmt: skip


def _text(html: str) -> str:
    """The page as a reader sees it: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_english_sheet_states_the_estimate_against_each_standard(parts) -> None:
    html = render_tip_sheet(tip_sheet_context(["S001", "S002"], **parts))
    text = _text(html)
    assert "Case-filing thresholds: an estimate from platform data" in text
    assert (
        "Platform data suggest an estimated business volume of CNY 182,400, above the "
        "CNY 50,000 case-filing standard for using a counterfeit registered trademark "
        "(Criminal Law art. 213) by CNY 132,400." in text
    )
    assert "Counting only waybills backed by counterfeit test-buy verdicts (CNY 170,000), " in text
    assert "the estimate is above this standard by CNY 120,000." in text
    assert (
        "estimated sales amount of CNY 182,400, above the CNY 50,000 case-filing standard for "
        "selling goods bearing a counterfeit registered trademark (Criminal Law art. 214)" in text
    )
    assert (
        "The CNY 30,000 case-filing standard for using a counterfeit registered trademark "
        "(Criminal Law art. 213) is set on illegal gains, which platform data cannot estimate"
        in text
    )
    assert "3 waybills with a declared value of CNY 182,400 and 440 items" in text
    assert "2 waybills (66.7%) with CNY 170,000 of declared value (93.2%) and 400 items" in text
    assert text.count("This is an estimate from platform records, not a finding of fact; the "
                      "amount the police can prove may differ.") == 2  # fmt: skip
    # S002 lies outside the gazetteer's countries: no standards on file
    assert "No case-filing thresholds for Munich are on file in the thresholds table " in text
    # the method note states the rule and names the table
    assert "own seller account has a test-buy verdict 'counterfeit' for the waybill's brand" in (
        text.replace("&#39;", "'")
    )
    assert "Thresholds table: prosecution_thresholds.csv (SHA-256 " in text
    for wording in ("is guilty", "proves", "committed"):
        assert wording not in text  # an estimate, never a legal conclusion


def test_chinese_sheet_states_the_estimate_against_each_standard(parts) -> None:
    html = render_tip_sheet(tip_sheet_context(["S001", "S002"], lang="zh-CN", **parts))
    text = _text(html)
    assert "立案追诉标准：基于平台数据的估算" in text
    assert (
        "平台数据显示，估算经营数额为人民币182,400元，高于假冒注册商标罪（《刑法》第二百一十三条）"
        "的立案追诉标准（人民币50,000元），超出人民币132,400元。" in text
    )
    assert (
        "仅计有试买假冒鉴定结论支持的运单（人民币170,000元），估算值高于该标准人民币120,000元。"
        in text
    )
    assert "估算销售金额为人民币182,400元" in text and "销售假冒注册商标的商品罪" in text
    assert "违法所得数额" in text and "平台数据无法估算" in text
    assert "以上为根据平台记录作出的估算，并非事实认定；公安机关能够查证的数额可能不同。" in text
    assert "阈值表（prosecution_thresholds.csv）中没有Munich的立案追诉标准" in text
    assert "估算：有试买结论支持的运单" in text  # the table's column


def test_a_users_table_is_shown_escaped_and_other_currencies_are_not_compared(
    parts, tmp_path: Path
) -> None:
    path = tmp_path / "mine.csv"
    rows = [
        ",".join(THRESHOLD_COLUMNS),
        f'China,,"{EVIL}",,business_volume,50000,CNY,"{EVIL} =HYPERLINK(1)",',
        "China,福建省,a Fujian rule,,sold_value,200000,CNY,Fujian provincial notice,2020-01-01",
        "China,,a rule in euros,,business_volume,40000,EUR,some rule,",
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    context = tip_sheet_context("S001", thresholds=load_thresholds(path), **parts)
    html = render_tip_sheet(context)
    assert EVIL not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    text = _text(html)
    assert "below the CNY 200,000 case-filing standard for a Fujian rule by CNY 17,600." in text
    # each row points to its source by number; the sources are listed once below the table
    assert "CNY 200,000 CNY 182,400 (below) CNY 170,000 (below) [2]" in text
    assert "[2] Fujian provincial notice (2020-01-01)" in text
    assert text.count("[1] &lt;script&gt;alert(1)&lt;/script&gt; =HYPERLINK(1)") == 1
    assert (
        "The case-filing standard for a rule in euros (business volume, EUR 40,000) is not in "
        "CNY; declared values are in CNY, so the estimate cannot be compared with it." in text
    )
    assert "other currency: not compared" in text
    assert "Thresholds table: mine.csv" in text
