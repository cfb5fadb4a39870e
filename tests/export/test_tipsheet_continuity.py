"""A site that took over from a raided one says so in the tip sheet, with the chain of
evidence, in English and Chinese, and in relocations.csv (no identifier values for partners)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from workbench.case._case import open_case
from workbench.coords import haversine_m
from workbench.demo._moves import generate_relocations
from workbench.export._bundle import export_tip_sheet
from workbench.export._keys import init_keys
from workbench.intake._table import load_table

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    root = tmp_path_factory.mktemp("continuity")
    demo = generate_relocations(root / "data", seed=3, n_moves=3, n_parallel=1, n_pauses=1,
                                n_steady=1, n_closed=1, n_new=1, weekly_shipments=15,
                                n_background_sellers=40)  # fmt: skip
    case = open_case(root / "moves.gpkg", actor="analyst")
    case.ingest([load_table(getattr(demo, t), t) for t in ("sellers", "identifiers", "shipments")])
    case.find_sites(300)
    sites = case.sites()
    for row in pd.read_csv(demo.events, keep_default_na=False).to_dict("records"):
        if row["kind"] == "raid":  # on the site at the raided place
            d = haversine_m(sites["lat"], sites["lon"], float(row["lat"]), float(row["lon"]))
            site = str(sites["site_id"].iloc[int(np.argmin(d))])
            case.record_event("raid", row["date"], site_id=site, note=f"{HOSTILE} raid")
        else:
            case.record_event(
                row["kind"], row["date"], seller_ids=row["seller_ids"].split(";"), note="down"
            )
    moves = case.relocations().relocations
    assert len(moves) >= 1
    move = moves.iloc[0]
    keys = init_keys(root / "keys")
    case.set_setting("organisation", "Acme Brand Protection")
    case.set_setting("contact", "ip-team@acme.example")
    out = root / "out"
    moved = [str(move["to_site"])]
    state = SimpleNamespace(case=case, move=move, keys=keys, out=out, sites=sites)
    state.police = export_tip_sheet(
        case, moved, out=out, keys_dir=keys, pdf=False, allow_unconfirmed="test"
    )
    state.zh = export_tip_sheet(
        case, moved, out=out, keys_dir=keys, pdf=False, lang="zh-CN", allow_unconfirmed="test"
    )
    state.partner = export_tip_sheet(
        case, moved, out=out, keys_dir=keys, pdf=False, profile="partner",
        allow_unconfirmed="test",
    )  # fmt: skip
    yield state
    case.close()


def test_the_new_site_says_whose_place_it_took_after_the_raid(world: SimpleNamespace) -> None:
    html = (world.police / "data" / "report.html").read_text(encoding="utf-8")
    move = world.move
    assert "Continuity: where this operation came from or went (1)" in html
    assert f"taken over from {move['from_site']}" in html
    assert f"for network {move['network_id']}" in html
    assert f"{move['distance_km']:,.1f} km away" in html
    assert f"after the raid recorded on {move['from_site']} ({move['event_id']}" in html
    assert "share identifiers with accounts taken down" in html
    assert "not a finding of fact" in html
    assert "Shared identifiers" in html


def test_the_chinese_report_says_it_in_chinese(world: SimpleNamespace) -> None:
    html = (world.zh / "data" / "report.html").read_text(encoding="utf-8")
    assert "延续性：该团伙的来处与去向（1）" in html
    assert f"本地点疑似接替了关联网络 {world.move['network_id']}" in html
    assert "查处行动" in html and "并非事实认定" in html
    # the shared identifiers in Chinese too: kinds named, holders counted, no English left
    listed = world.move["shared_list"]
    assert listed, "the demo's move shares identifiers"
    kind, value, n = listed[0]
    names = {
        "phone": "电话", "email": "电子邮箱", "bank_card": "银行卡", "device": "设备",
        "id_document": "身份证件", "payment_account": "支付账户", "address": "地址",
    }  # fmt: skip
    assert f"{names[kind]} {value}（{n} 个新账号持有）" in html
    assert "held by" not in html and "new account" not in html


def test_the_move_lists_its_shared_identifiers_as_data(world: SimpleNamespace) -> None:
    listed = world.move["shared_list"]
    assert all(len(item) == 3 and int(item[2]) >= 1 for item in listed)
    _, value, n = listed[0]
    assert f"{value} held by {n} new account" in world.move["shared_identifiers"]
    police = pd.read_csv(world.police / "data" / "relocations.csv", dtype=str)
    assert "shared_list" not in police.columns  # the CSV keeps the readable text


def test_relocations_csv_for_analysts_and_partners_without_values(world: SimpleNamespace) -> None:
    police = pd.read_csv(world.police / "data" / "relocations.csv", dtype=str)
    assert police.loc[0, "to_site"] == world.move["to_site"]
    assert police.loc[0, "event_kind"] == "raid"
    assert "shared_identifiers" in police.columns and "evidence" in police.columns
    partner = pd.read_csv(world.partner / "data" / "relocations.csv", dtype=str)
    assert "shared_identifiers" not in partner.columns and "evidence" not in partner.columns
    html = (world.partner / "data" / "report.html").read_text(encoding="utf-8")
    assert "Shared identifiers" not in html and "Continuity:" in html
    listed = (world.police / "data" / "bundle.json").read_text(encoding="utf-8")
    assert world.move["to_site"] in listed


def test_a_site_without_a_move_has_no_continuity_section(world: SimpleNamespace) -> None:
    moving = set(world.case.relocations().relocations[["from_site", "to_site"]].stack())
    still = [s for s in world.sites["site_id"].astype(str) if s not in moving][:1]
    path = export_tip_sheet(
        world.case, still, out=world.out, keys_dir=world.keys, pdf=False,
        allow_unconfirmed="test",
    )  # fmt: skip
    html = (path / "data" / "report.html").read_text(encoding="utf-8")
    assert "Continuity:" not in html
    assert not (path / "data" / "relocations.csv").exists()
