"""The case for prosecution: business volume from platform data against case-filing thresholds."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InputError, NotFoundError
from workbench.export._i18n import translator
from workbench.export._prosecution import (
    ESTIMATE_FIELDS,
    PROSECUTION_COLUMNS,
    backed_waybills,
    compare,
    estimate_volume,
    prosecution_section,
    site_estimates,
)
from workbench.export._thresholds import (
    DEFAULT_THRESHOLDS,
    THRESHOLD_COLUMNS,
    load_thresholds,
    site_thresholds,
)

NAN = float("nan")


@pytest.fixture
def waybills() -> pd.DataFrame:
    # W1 is listed twice (counted once). W4 has no declared value, W5 no item count.
    return pd.DataFrame(
        {
            "shipment_id": ["W1", "W1", "W2", "W3", "W4", "W5"],
            "site_id": "S001",
            "seller_id": ["A", "A", "A", "B", "C", "D"],
            "brand": ["Nike", "Nike", "Adidas", "Nike", "Gucci", "nike "],
            "value_cny": [1000.0, 1000.0, 500.0, 2000.0, NAN, 300.0],
            "items": [2, 2, 1, 4, 1, pd.NA],
            "shipped_at": pd.to_datetime(
                ["2026-03-01", "2026-03-01", "2026-03-10", "2026-04-01", "2026-04-15", "2026-05-31"]
            ),
        }
    ).astype({"items": "Int64"})


@pytest.fixture
def evidence() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "evidence_id": ["E1", "E2", "E3", "E4", "E5", "E6", "E7"],
            "seller_id": ["A", "B", "C", "D", "X", "D", "A"],
            "brand": ["Nike", None, "Gucci", "NIKE", "Nike", "Nike", "Adidas"],
            "kind": ["test_buy", "test_buy", "complaint", "test_buy", "test_buy", "takedown",
                     "test_buy"],
            "verdict": ["counterfeit", "counterfeit", "counterfeit", "counterfeit",
                        "counterfeit", "counterfeit", "genuine"],
        }
    )  # fmt: skip


# -- which waybills are backed by a counterfeit test buy --------------------------------------
def test_backed_waybills_follow_the_brand_and_the_account(waybills, evidence) -> None:
    backed = backed_waybills(waybills, evidence)
    # W1 (A, Nike): E1 is A's counterfeit test buy of Nike            -> backed
    # W2 (A, Adidas): A's Adidas test buy E7 found it genuine          -> not backed
    # W3 (B, Nike): E2 names no brand, so it backs every waybill of B  -> backed
    # W4 (C, Gucci): E3 is a complaint, not a test buy                 -> not backed
    # W5 (D, "nike "): E4 "NIKE" matches ignoring case and spaces      -> backed
    # X's verdict E5 backs nothing: X ships nothing from here (a network mate)
    assert list(backed) == [True, True, False, True, False, True]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "complaint"}, False),  # complaints and takedowns do not back a waybill
        ({"verdict": "inconclusive"}, False),
        ({"brand": "Adidas"}, False),  # a verdict on another brand of the same account
        ({"seller_id": "Z"}, False),  # a verdict on another account
        ({"brand": ""}, True),  # an empty brand backs all the account's waybills
        ({"brand": " nike"}, True),
    ],
)
def test_one_verdict_backs_or_not(change: dict, expected: bool) -> None:
    ships = pd.DataFrame({"seller_id": ["A"], "brand": ["Nike"], "value_cny": [10.0]})
    verdict = {"seller_id": "A", "brand": "Nike", "kind": "test_buy", "verdict": "counterfeit"}
    backed = backed_waybills(ships, pd.DataFrame([{**verdict, **change}]))
    assert list(backed) == [expected]


def test_evidence_without_kinds_backs_nothing_and_a_brandless_waybill_needs_a_brandless_verdict():
    ships = pd.DataFrame({"seller_id": ["A", "A"], "brand": [None, "Nike"]})
    no_kind = pd.DataFrame({"seller_id": ["A"], "brand": [None], "verdict": ["counterfeit"]})
    assert list(backed_waybills(ships, no_kind)) == [False, False]  # not known to be test buys
    nike = no_kind.assign(kind="test_buy", brand="Nike")
    assert list(backed_waybills(ships, nike)) == [False, True]
    assert list(backed_waybills(ships, nike.iloc[0:0])) == [False, False]


# -- the estimate ---------------------------------------------------------------------------
def test_estimate_counts_each_waybill_once_over_the_active_period(waybills, evidence) -> None:
    est = estimate_volume(waybills, evidence)
    # five distinct waybills; value 1000 + 500 + 2000 + (W4: none, counted as 0) + 300 = 3800;
    # items 2 + 1 + 4 + 1 = 8 (W5 states none); backed W1, W3, W5: 1000 + 2000 + 300 = 3300
    # and 2 + 4 = 6 items
    assert (est.n_shipments, est.value_cny, est.items, est.n_no_value) == (5, 3800.0, 8, 1)
    assert (est.first_shipped, est.last_shipped) == ("2026-03-01", "2026-05-31")
    assert (est.n_backed, est.value_backed_cny, est.items_backed) == (3, 3300.0, 6)
    nothing_backed = estimate_volume(waybills, evidence.iloc[0:0])
    assert (nothing_backed.n_backed, nothing_backed.items_backed) == (0, 0)  # not "unknown"


def test_estimate_without_values_items_or_dates() -> None:
    ships = pd.DataFrame({"seller_id": ["A", "B"]})
    est = estimate_volume(ships, pd.DataFrame(columns=["seller_id", "verdict"]))
    assert (est.n_shipments, est.value_cny, est.n_no_value) == (2, 0.0, 2)
    assert est.items is None and est.items_backed is None and est.first_shipped == ""


# -- against the thresholds -----------------------------------------------------------------
def _table(*rows: tuple[str, float, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"country": "China", "jurisdiction": "", "offence_en": f"offence {i}",
             "offence_zh": f"罪名{i}", "measure": m, "amount": a, "currency": c,
             "source": f"source {i}", "source_date": "2022-04-29"}
            for i, (m, a, c) in enumerate(rows, 1)
        ]
    )  # fmt: skip


def test_compare_states_and_gaps(waybills, evidence) -> None:
    est = estimate_volume(waybills, evidence)  # 3800 in all, 3300 backed
    table = _table(
        ("business_volume", 3000, "CNY"),  # 3800 above by 800; backed above by 300
        ("sold_value", 3300, "CNY"),  # 3800 above by 500; backed reaches it exactly
        ("business_volume", 4000, "CNY"),  # 3800 below by 200; backed below by 700
        ("illegal_gains", 1000, "CNY"),  # waybills show no profits
        ("business_volume", 500, "USD"),  # another currency: not compared
    )
    got = [(c.state, c.gap, c.backed_state, c.backed_gap) for c in compare(est, table)]
    assert got == [
        ("above", 800.0, "above", 300.0),
        ("above", 500.0, "equal", 0.0),
        ("below", 200.0, "below", 700.0),
        ("not_estimable", None, "not_estimable", None),
        ("other_currency", None, "other_currency", None),
    ]


def test_the_sheet_words_an_estimate_in_english_and_chinese(waybills, evidence) -> None:
    est = estimate_volume(waybills, evidence)
    table = _table(("business_volume", 3000, "CNY"), ("unsold_value", 150000, "CNY"))
    comparisons = compare(est, table)
    en = prosecution_section(est, comparisons, place="Putian", table="t.csv", tr=translator())
    assert en["statements"][0] == (
        "Platform data suggest an estimated business volume of CNY 3,800, above the "
        "CNY 3,000 case-filing standard for offence 1 by CNY 800. Counting only waybills "
        "backed by counterfeit test-buy verdicts (CNY 3,300), the estimate is above this "
        "standard by CNY 300."
    )
    not_estimable = en["statements"][1]
    assert "value of goods not yet sold, which platform data cannot estimate" in not_estimable
    assert en["estimate"] == (
        "From 2026-03-01 to 2026-05-31, the site's active period: 5 waybills with a declared "
        "value of CNY 3,800 and 8 items. Of these, 3 waybills (60.0%) with CNY 3,300 of "
        "declared value (86.8%) and 6 items were sent by accounts with a counterfeit test-buy "
        "verdict for the brand shipped."
    )  # 3 / 5 = 60.0 %, 3300 / 3800 = 86.8 %
    assert en["no_value"] == "1 waybills carry no declared value and count as zero."
    assert "not a finding of fact" in en["disclaimer"] and en["none"] == ""
    assert [r["estimate"] for r in en["rows"]] == ["CNY 3,800 (above)", "not in platform data"]
    zh = prosecution_section(est, comparisons, place="莆田", table="t.csv", tr=translator("zh-CN"))
    assert zh["statements"][0] == (
        "平台数据显示，估算经营数额为人民币3,800元，高于罪名1的立案追诉标准（人民币3,000元），"
        "超出人民币800元。仅计有试买假冒鉴定结论支持的运单（人民币3,300元），估算值高于该标准"
        "人民币300元。"
    )
    assert zh["disclaimer"] == (
        "以上为根据平台记录作出的估算，并非事实认定；公安机关能够查证的数额可能不同。"
    )


def test_no_thresholds_on_file_and_another_currency_are_said_so(waybills, evidence) -> None:
    est = estimate_volume(waybills, evidence)
    en = prosecution_section(est, [], place="Bavaria, Germany", table="mine.csv", tr=translator())
    assert en["rows"] == [] and en["statements"] == []
    assert en["none"] == (
        "No case-filing thresholds for Bavaria, Germany are on file in the thresholds table "
        "(mine.csv); add rows for this jurisdiction to compare the estimate with them."
    )
    usd = compare(est, _table(("business_volume", 5000, "EUR")))
    text = prosecution_section(est, usd, place="x", table="t", tr=translator())["statements"]
    assert text == [
        "The case-filing standard for offence 1 (business volume, EUR 5,000) is not in CNY; "
        "declared values are in CNY, so the estimate cannot be compared with it."
    ]


def test_amounts_keep_their_cents_only_when_they_have_some() -> None:
    ships = pd.DataFrame({"seller_id": ["A"], "value_cny": [50000.5]})
    est = estimate_volume(ships, pd.DataFrame(columns=["seller_id", "verdict"]))
    section = prosecution_section(
        est, compare(est, _table(("business_volume", 50000, "CNY"))), place="", table="t",
        tr=translator(),
    )  # fmt: skip
    assert "CNY 50,000.50, above the CNY 50,000 case-filing standard" in section["statements"][0]
    assert "by CNY 0.50." in section["statements"][0]


# -- the thresholds table ---------------------------------------------------------------------
def test_the_shipped_table_holds_chinas_trademark_standards() -> None:
    table = load_thresholds()
    assert table.name == DEFAULT_THRESHOLDS.name and len(table.sha256) == 64
    china = table.frame[table.frame["country"] == "China"]
    got = {(m, a) for m, a in zip(china["measure"], china["amount"], strict=True)}
    # art. 213: business volume 50,000 or illegal gains 30,000; art. 214: 50,000 sold,
    # or 150,000 of goods not yet sold
    assert got == {
        ("business_volume", 50_000.0), ("illegal_gains", 30_000.0),
        ("sold_value", 50_000.0), ("unsold_value", 150_000.0),
    }  # fmt: skip
    assert set(china["currency"]) == {"CNY"}
    assert china["source"].str.contains("立案追诉标准").all()
    assert not china["source"].str.contains("http").any()  # a citation, not a link
    assert china["offence_zh"].str.contains("第二百一十").all()


def _write(tmp_path: Path, text: str, name: str = "mine.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = ",".join(THRESHOLD_COLUMNS) + "\n"
GOOD = "China,,using a mark,假冒,business_volume,50000,CNY,the rule,2022-04-29\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("China,,using a mark,,business_volume,5万,CNY,the rule,",
         r"mine\.csv, line 4, column amount: '5万' is not an amount; write it in figures"),
        ("China,,using a mark,,business_volume,\"50,000\",CNY,the rule,",
         r"line 4, column amount: '50,000' is not an amount; .* without separators"),
        ("China,,using a mark,,business_volume,0,CNY,the rule,",
         r"line 4, column amount: '0' must be above zero"),
        ("China,,using a mark,,turnover,50000,CNY,the rule,",
         r"line 4, column measure: 'turnover' is not a known measure; use one of "
         r"business_volume, illegal_gains, sold_value, unsold_value"),
        ("China,,using a mark,,business_volume,50000,CNY, ,",
         r"line 4, column source: is empty; cite the rule the amount comes from"),
        ("China,,using a mark,,business_volume,50000,yuan,the rule,",
         r"line 4, column currency: 'YUAN' is not a currency code; use ISO 4217"),
        ("China,,using a mark,,business_volume,50000,CNY,the rule,29/4/2022",
         r"line 4, column source_date: '29/4/2022' is not a date; write YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_a_bad_row_is_refused_naming_its_line_and_column(tmp_path, row, message) -> None:
    # line 1 is the header, line 2 a good row, line 3 blank (skipped, still counted)
    path = _write(tmp_path, HEADER + GOOD + "\n" + row + "\n")
    with pytest.raises(InputError, match=message):
        load_thresholds(path)


def test_a_missing_column_or_file_is_refused(tmp_path) -> None:
    path = _write(tmp_path, "country,measure,amount,currency\nChina,sold_value,1,CNY\n")
    with pytest.raises(InputError, match=r"column\(s\) offence_en, source missing; the header"):
        load_thresholds(path)
    with pytest.raises(NotFoundError, match=r"nope\.csv does not exist; give a CSV"):
        load_thresholds(tmp_path / "nope.csv")


def test_a_table_from_excel_with_a_bom_and_a_header_only_table_load(tmp_path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeff".encode() + (HEADER + GOOD).encode("utf-8"))
    table = load_thresholds(path)
    assert list(table.frame["amount"]) == [50000.0] and table.frame["line"].iloc[0] == 2
    assert load_thresholds(_write(tmp_path, HEADER, "empty.csv")).frame.empty


def test_thresholds_apply_by_country_and_local_jurisdiction() -> None:
    table = _table(("business_volume", 50000, "CNY"), ("business_volume", 80000, "CNY"))
    table.loc[1, "jurisdiction"] = "广东省"  # a provincial standard
    putian = {"country": "China", "province": "Fujian", "province_zh": "福建省"}
    canton = {"country": "China", "country_zh": "中国", "province": "Guangdong",
              "province_zh": "广东省"}  # fmt: skip
    assert list(site_thresholds(table, putian)["amount"]) == [50000]
    assert list(site_thresholds(table, canton)["amount"]) == [50000, 80000]
    in_chinese = table.assign(country="中国", jurisdiction=["", "GUANGDONG "])
    assert list(site_thresholds(in_chinese, canton)["amount"]) == [50000, 80000]
    assert site_thresholds(table, {"country": "", "province": ""}).empty  # outside the gazetteer
    assert site_thresholds(table, {"country": "Germany"}).empty


# -- the bundle's data files ------------------------------------------------------------------
def test_site_estimates_add_fields_and_one_row_per_threshold(waybills, evidence) -> None:
    sites = pd.DataFrame({"site_id": ["S001", "S002"], "country": ["China", "Germany"]})
    table = _table(("business_volume", 3000, "CNY"), ("illegal_gains", 1000, "CNY"))
    out, rows = site_estimates(sites, waybills, evidence, table)
    assert set(ESTIMATE_FIELDS) <= set(out.columns) and "estimate_value_cny" not in sites
    s1 = out.set_index("site_id").loc["S001"]
    assert (s1["estimate_value_cny"], s1["estimate_backed_value_cny"]) == (3800.0, 3300.0)
    # two standards on file, one comparable (illegal gains is not), and it is reached
    assert (s1["estimate_standards_compared"], s1["estimate_standards_reached"]) == (1, 1)
    assert list(rows.columns) == list(PROSECUTION_COLUMNS)
    assert list(rows["state"]) == ["above", "not_estimable", "none_on_file"]
    assert rows["basis"].str.contains("not a finding of fact").all()
    germany = rows[rows["site_id"] == "S002"].iloc[0]
    assert germany["n_shipments"] == 0 and math.isnan(germany["threshold_amount"])
