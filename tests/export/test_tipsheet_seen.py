"""The tip sheet's "seen before" section: matches with earlier cases and partner lists per
site, as platform records, escaped, in English and Chinese, and in cross_references.csv."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from seen_cases import HOSTILE, build

from workbench.export._bundle import export_tip_sheet
from workbench.export._extract import extract
from workbench.export._seen import read_cross_references
from workbench.export._tipsheet import render_tip_sheet, tip_sheet_context


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    state = build(tmp_path_factory.mktemp("seen"))
    yield state
    state.case.close()


def _context(world: SimpleNamespace, lang: str = "en", xrefs: object = "read") -> dict:
    data, _ = extract(world.case, [world.workshop, world.clean])
    rows = read_cross_references(world.case) if isinstance(xrefs, str) else xrefs
    return tip_sheet_context(
        [world.workshop, world.clean], sites=data.sites, shipments=data.shipments,
        sellers=data.sellers, networks=data.networks, evidence=data.evidence,
        parameters={}, lang=lang, cross_references=rows,
    )  # fmt: skip


def test_a_site_with_matches_lists_them_and_a_site_without_lists_none(world) -> None:
    workshop, clean = _context(world)["sites"]
    what = [r["what"] for r in workshop["seen_before"]]
    # the site overlaps the earlier confirmed workshop; its network N0001 holds the ring's
    # card (X1); X1's card and X2's phone were on the earlier ring's accounts; both are on
    # the partner's list twice (a counterfeit test buy and a confirmed site)
    assert what == [
        "near a site of an earlier case",
        "network shares accounts or identifiers with an earlier network",
        "same bank card as an account of an earlier case",
        "same phone as an account of an earlier case",
        *["bank card on a partner platform's list"] * 2,
        *["phone on a partner platform's list"] * 2,
    ]
    assert workshop["seen_before"][1]["account"] == "N0001"  # a network match: the network
    card = workshop["seen_before"][2]
    assert card["account"] == "X1" and card["source"] == "case putian-2025"
    assert card["earlier"].startswith("N0001 · S") and card["outcome"] == "site review: confirmed"
    assert card["record"].startswith("this bank card was on 3 accounts of network N0001")
    listed = workshop["seen_before"][4]
    assert listed["source"] == f"list of {HOSTILE}"
    assert listed["outcome"] == "listed by the partner: Nike, counterfeit test buy, 2025-05-01"
    assert clean["seen_before"] == [] and clean["seen_before_more"] == 0


def test_the_html_escapes_the_records_and_says_they_are_not_findings(world) -> None:
    html = render_tip_sheet(_context(world))
    assert html is not None
    assert "Seen before: earlier cases and partner lists (8)" in html
    assert "Seen before: earlier cases and partner lists (0)" in html  # the Shenzhen site
    assert "No match of this site, its accounts or their networks" in html
    assert "not findings that anyone committed an offence" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "this bank card was on 3 accounts of network N0001 in case putian-2025" in html


def test_the_chinese_report_words_the_section_in_chinese(world) -> None:
    html = render_tip_sheet(_context(world, "zh-CN"))
    assert html is not None
    assert "既往记录：既往案件与合作平台名单（8）" in html
    assert "并不构成对任何人实施违法犯罪的认定" in html
    assert "与既往案件中的账号使用相同的银行卡" in html  # kind translated in the sentence
    assert "地点复核：已确认" in html and "<img src=x" not in html


def test_a_case_never_cross_referenced_has_no_such_section(world) -> None:
    html = render_tip_sheet(_context(world, xrefs=None))
    assert html is not None and "Seen before" not in html and "seen-before" not in html


def test_site_matches_apply_only_to_their_run(tmp_path: Path) -> None:
    case = build(tmp_path).case
    with case:
        first = case.latest_run()
        assert "site" in set(read_cross_references(case)["match"])
        new_run = case.find_sites(250)  # site ids of the new run are another run's ids
        assert "site" not in set(read_cross_references(case, run_id=new_run)["match"])
        assert "site" in set(read_cross_references(case, run_id=first)["match"])
        case.link_sellers()  # network ids of a new linking are another linking's ids
        after = read_cross_references(case, run_id=first)
        assert set(after["match"]) == {"identifier", "site"}  # accounts keep their ids


@pytest.fixture(scope="module")
def bundles(world):
    out = world.root / "out"
    sites = [world.workshop, world.clean]
    return {
        "police": export_tip_sheet(world.case, sites, out=out, keys_dir=world.keys, pdf=False),
        "partner": export_tip_sheet(
            world.case, sites, out=out, keys_dir=world.keys, pdf=False, profile="partner"
        ),
    }


def test_the_bundle_carries_cross_references_csv_for_analysts(world, bundles) -> None:
    data = bundles["police"] / "data"
    rows = pd.read_csv(data / "cross_references.csv", dtype=str, keep_default_na=False)
    assert set(rows["site_id"]) == {world.workshop}  # the Shenzhen site has none
    assert len(rows) == 8 and set(rows["source_name"]) == {"putian-2025", HOSTILE}
    assert rows.loc[rows["kind"] == "phone", "value_norm"].iloc[0] == "+8613800138000"
    # exact CSV for machines: the text as stored, quoted per RFC 4180
    text = (data / "cross_references.csv").read_text(encoding="utf-8")
    header = next(csv.reader(io.StringIO(text)))
    assert header[:4] == ["site_id", "seller_id", "network_id", "match"]
    assert "cross_references.csv" in (data / "report.html").read_text(encoding="utf-8")


def test_the_workbook_keeps_a_formula_like_partner_name_as_text(bundles) -> None:
    from openpyxl import load_workbook

    book = load_workbook(bundles["police"] / "data" / "tables.xlsx")
    sheet = book["cross_references"]
    header = [c.value for c in next(sheet.iter_rows(max_row=1))]
    column = header.index("source_name") + 1
    cells = [row[column - 1] for row in sheet.iter_rows(min_row=2)]
    hostile = [c for c in cells if c.value == HOSTILE]
    assert hostile and all(c.data_type == "s" for c in hostile)  # text, never a formula


def test_the_partner_edition_tokenises_values_and_leaves_other_lists_out(bundles) -> None:
    data = bundles["partner"] / "data"
    rows = pd.read_csv(data / "cross_references.csv", dtype=str, keep_default_na=False)
    assert set(rows["source"]) == {"case"}  # another partner's list is not ours to pass on
    assert "source_path" not in rows.columns
    assert "+8613800138000" not in (data / "cross_references.csv").read_text(encoding="utf-8")
    ids = pd.read_csv(data / "identifiers.csv", dtype=str, keep_default_na=False)
    phone = rows.loc[rows["kind"] == "phone", "value_norm"].iloc[0]
    assert phone in set(ids["value"])  # the same token as identifiers.csv
    html = (data / "report.html").read_text(encoding="utf-8")
    assert "evil.example" not in html and "same phone as an account of an earlier case" in html


def test_a_bundle_of_a_case_never_cross_referenced_has_no_such_file() -> None:
    from workbench.export._bundle import _contents
    from workbench.export._i18n import translator

    names = [c["name"] for c in _contents(translator("en"), False, [], False)]
    assert "data/cross_references.csv" not in names
    assert "data/cross_references.csv" in [
        c["name"] for c in _contents(translator("en"), False, [], True)
    ]
