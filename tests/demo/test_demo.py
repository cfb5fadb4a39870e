"""The demo investigation generator: determinism, shape, planted structure, argument checks."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.demo._generate import DemoData, demo_frames, generate_demo
from workbench.demo._places import MARKET_DISTRICTS
from workbench.errors import InputError
from workbench.schema import TABLES

SMALL = {"n_shipments": 5_000, "n_background_sellers": 200}
COLUMNS = {
    "sellers": ["seller_id", "name", "platform", "registered_address", "registered_at"],
    "identifiers": ["seller_id", "kind", "value"],
    "shipments": [
        "shipment_id",
        "seller_id",
        "lat",
        "lon",
        "coord_system",
        "origin_address",
        "shipped_at",
        "items",
        "value_cny",
        "brand",
    ],
    "evidence": ["evidence_id", "seller_id", "brand", "kind", "verdict", "date", "file_sha256"],
    "locations": ["seller_id", "kind", "address", "lat", "lon"],
}
LARGE_RINGS = ("putian-ring", "baiyun-ring", "yiwu-ring", "jinjiang-ring")
# small rings (7-12 accounts) whose workshops hide in busy legitimate market districts
SMALL_RINGS = ("huaqiangbei-ring", "humen-ring", "fengze-ring")
RINGS = LARGE_RINGS + SMALL_RINGS
STRONG = ("phone", "email", "bank_card", "id_document", "device", "payment_account")
# mainland China's bounding box, generously
LAT_RANGE, LON_RANGE = (18.0, 54.0), (73.0, 135.0)


@pytest.fixture(scope="module")
def frames() -> dict[str, Any]:
    return demo_frames(seed=7, **SMALL)


@pytest.fixture(scope="module")
def default_frames() -> dict[str, Any]:
    """The demo at its default size: the small workshops have some 60-80 waybills each."""
    return demo_frames(seed=7)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return generate_demo(tmp_path_factory.mktemp("demo") / "out", seed=7, **SMALL)


def _files(demo: DemoData) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(demo.folder.iterdir())}


def _norm(kind: str, value: str) -> str:
    """Just enough normalisation to compare planted identifiers (independent of networks.py)."""
    if kind == "phone":
        digits = re.sub(r"\D", "", value)
        return digits[-11:] if len(digits) > 11 else digits
    if kind in ("email", "address"):
        return value.strip().casefold()
    return re.sub(r"[\s\-]", "", value).upper()


def _components(sellers: list[str], identifiers: pd.DataFrame) -> dict[str, str]:
    parent = {s: s for s in sellers}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _, group in identifiers.groupby(["kind", "norm"]):
        first, *rest = group["seller_id"].unique()
        for other in rest:
            parent[find(other)] = find(first)
    return {s: find(s) for s in sellers}


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    dy = (lat2 - lat1) * 111_320
    dx = (lon2 - lon1) * 111_320 * math.cos(math.radians(lat1))
    return math.hypot(dx, dy)


def _distances_m(lat: float, lon: float, frame: pd.DataFrame) -> np.ndarray:
    """Metres from (lat, lon) to every row of ``frame`` (the same flat approximation)."""
    dy = (frame["lat"].to_numpy(float) - lat) * 111_320
    dx = (frame["lon"].to_numpy(float) - lon) * 111_320 * math.cos(math.radians(lat))
    return np.hypot(dx, dy)


# -- determinism -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_seed_gives_identical_bytes(tmp_path: Path, fmt: str) -> None:
    a = generate_demo(tmp_path / "a", seed=3, fmt=fmt, **SMALL)
    b = generate_demo(tmp_path / "b", seed=3, fmt=fmt, **SMALL)
    assert _files(a) == _files(b)
    assert a.shipments.name == f"shipments.{fmt}"


def test_other_seed_differs(tmp_path: Path, written: DemoData) -> None:
    other = generate_demo(tmp_path / "other", seed=8, **SMALL)
    for name in ("sellers.csv", "identifiers.csv", "shipments.csv", "truth.json"):
        assert (other.folder / name).read_bytes() != (written.folder / name).read_bytes(), name


def test_sellers_do_not_depend_on_waybill_count() -> None:
    # accounts and waybills come from separate random streams
    few = demo_frames(seed=7, n_shipments=1_000, n_background_sellers=200)
    pd.testing.assert_frame_equal(few["sellers"], demo_frames(seed=7, **SMALL)["sellers"])


def test_files_hold_the_in_memory_frames(frames: dict[str, Any], written: DemoData) -> None:
    for name in COLUMNS:
        on_disk = pd.read_csv(getattr(written, name), dtype=str, keep_default_na=False)
        expected = frames[name].astype(str)
        if name == "shipments":  # written with exactly two decimals
            expected["value_cny"] = frames[name]["value_cny"].map("{:.2f}".format)
        pd.testing.assert_frame_equal(on_disk, expected, check_dtype=False)
    assert json.loads(written.truth.read_text(encoding="utf-8")) == frames["truth"]


def test_parquet_shipments_match(tmp_path: Path, frames: dict[str, Any]) -> None:
    demo = generate_demo(tmp_path / "pq", seed=7, fmt="parquet", **SMALL)
    pd.testing.assert_frame_equal(
        pd.read_parquet(demo.shipments), frames["shipments"], check_dtype=False
    )
    assert sorted(p.suffix for p in demo.folder.iterdir()).count(".csv") == 4


# -- shape -----------------------------------------------------------------------------------
def test_columns_are_canonical(frames: dict[str, Any], written: DemoData) -> None:
    for name, columns in COLUMNS.items():
        # the demo leaves out only optional fields intake fills in itself
        optional_extras = set(TABLES[name].fields) - set(columns)
        assert set(columns) <= set(TABLES[name].fields), f"{name}: demo and intake disagree"
        assert optional_extras <= {"precision", "coord_system"}, f"{name}: lacks {optional_extras}"
        assert list(frames[name].columns) == columns, name
        header = getattr(written, name).read_text(encoding="utf-8").split("\n", 1)[0]
        assert header == ",".join(columns), name


@pytest.mark.parametrize("n", [1_000, 4_321])
def test_waybill_count_is_exact(n: int) -> None:
    shipments = demo_frames(seed=1, n_shipments=n, n_background_sellers=50)["shipments"]
    assert len(shipments) == n
    assert shipments["shipment_id"].is_unique


def test_every_row_points_at_a_known_seller(frames: dict[str, Any]) -> None:
    sellers = set(frames["sellers"]["seller_id"])
    assert frames["sellers"]["seller_id"].is_unique
    for name in ("identifiers", "shipments", "evidence", "locations"):
        assert set(frames[name]["seller_id"]) <= sellers, name


def test_value_formats(frames: dict[str, Any]) -> None:
    ship = frames["shipments"]
    assert ship["shipment_id"].str.fullmatch(r"W\d{10}").all()
    assert frames["sellers"]["seller_id"].str.fullmatch(r"S\d{6}").all()
    assert set(frames["sellers"]["platform"]) <= {
        "Taobao",
        "Tmall",
        "1688",
        "AliExpress",
        "Pinduoduo",
    }
    assert (ship["coord_system"] == "WGS84").all()
    assert ship["shipped_at"].between("2026-01-01", "2026-10-31").all()
    assert ship["shipped_at"].str.fullmatch(r"\d{4}-\d{2}-\d{2}").all()
    assert ship["items"].between(1, 20).all()
    assert (ship["value_cny"] > 0).all()
    assert np.allclose(ship["value_cny"], ship["value_cny"].round(2))
    assert np.allclose(ship["lat"], ship["lat"].round(6))
    assert {"Nike", "Adidas", "Louis Vuitton", "Gucci", "Chanel", "SK-II", "La Mer"} <= set(
        ship["brand"]
    )
    ev = frames["evidence"]
    assert ev["file_sha256"].str.fullmatch(r"[0-9a-f]{64}").all()
    assert ev["file_sha256"].is_unique and ev["evidence_id"].is_unique
    assert set(ev["kind"]) <= {"test_buy", "complaint", "takedown"}
    assert set(ev["verdict"]) <= {"counterfeit", "genuine", "inconclusive"}
    assert set(frames["locations"]["kind"]) == {"warehouse", "return"}
    kinds = {"phone", "email", "bank_card", "id_document", "device", "payment_account", "address"}
    assert set(frames["identifiers"]["kind"]) == kinds


def test_identifiers_are_messy_but_valid(frames: dict[str, Any]) -> None:
    ids = frames["identifiers"]
    phones = ids.loc[ids["kind"] == "phone", "value"]
    assert phones.str.startswith("+86 ").any() and phones.str.startswith("0086-").any()
    cards = ids.loc[ids["kind"] == "bank_card", "value"]
    assert cards.str.contains(" ").any() and cards.str.contains("-").any()
    for card in cards.str.replace(r"\D", "", regex=True):  # Luhn check
        digits = [int(d) for d in reversed(card)]
        total = sum(digits[0::2]) + sum(sum(divmod(2 * d, 10)) for d in digits[1::2])
        assert total % 10 == 0, card
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for doc in ids.loc[ids["kind"] == "id_document", "value"]:  # 18-char resident ID checksum
        assert len(doc) == 18
        assert (
            "10X98765432"[sum(int(c) * w for c, w in zip(doc[:17], weights, strict=True)) % 11]
            == doc[-1]
        )


def test_coordinates_inside_china(frames: dict[str, Any]) -> None:
    truth = frames["truth"]
    lat = pd.concat([frames["shipments"]["lat"], frames["locations"]["lat"]])
    lon = pd.concat([frames["shipments"]["lon"], frames["locations"]["lon"]])
    lat = pd.concat([lat, pd.Series([p["lat"] for p in truth["sites"] + truth["hubs"]])])
    lon = pd.concat([lon, pd.Series([p["lon"] for p in truth["sites"] + truth["hubs"]])])
    assert lat.between(*LAT_RANGE).all() and lon.between(*LON_RANGE).all()


# -- planted structure ------------------------------------------------------------------------
def test_truth_networks_cover_every_seller(frames: dict[str, Any]) -> None:
    networks = frames["truth"]["networks"]
    assert set(networks) == set(frames["sellers"]["seller_id"])
    assert set(RINGS) <= set(networks.values())


def test_ring_sizes_within_bounds(frames: dict[str, Any]) -> None:
    sizes = pd.Series(frames["truth"]["networks"]).value_counts()
    assert sizes["putian-ring"] == 40  # the Putian ring: 40 accounts on fake ID documents
    for ring in LARGE_RINGS:
        assert 8 <= sizes[ring] <= 40, ring
    for ring in SMALL_RINGS:
        assert 7 <= sizes[ring] <= 12, ring
    assert {s["network"] for s in frames["truth"]["sites"]} == set(RINGS)


def test_ring_accounts_link_only_to_their_ring(frames: dict[str, Any]) -> None:
    ids = frames["identifiers"]
    ids = ids.assign(norm=[_norm(k, v) for k, v in zip(ids["kind"], ids["value"], strict=True)])
    infra = {_norm("phone", v) for v in frames["truth"]["infrastructure"]}
    strong = ids[ids["kind"].isin(STRONG) & ~ids["norm"].isin(infra)]
    comp = pd.Series(_components(list(frames["sellers"]["seller_id"]), strong))
    truth = pd.Series(frames["truth"]["networks"])
    for name in truth.dropna().unique():
        members = truth.index[truth == name]
        assert comp[members].nunique() == 1, name  # one connected network...
        assert (comp == comp[members[0]]).sum() == len(members), name  # ...and nobody else


def test_ring_waybills_repeat_exact_workshop_points(default_frames: dict[str, Any]) -> None:
    ship = default_frames["shipments"]  # at full size: the small workshops have ~70 waybills
    truth = default_frames["truth"]
    network = ship["seller_id"].map(truth["networks"])
    for site in truth["sites"]:
        ring = ship[network == site["network"]]
        near = [
            _distance_m(site["lat"], site["lon"], la, lo) <= 120
            for la, lo in zip(ring["lat"], ring["lon"], strict=True)
        ]
        at_site = ring[near]
        points = at_site.groupby(["lat", "lon"]).agg(
            n=("seller_id", "size"), sellers=("seller_id", "nunique")
        )
        repeated = points[points["n"] >= 2]
        assert 2 <= len(repeated) <= 6, site["name"]  # a few exact loading points...
        assert repeated["n"].sum() >= 0.9 * len(at_site)  # ...carry nearly all the waybills
        assert repeated["sellers"].max() >= 2  # ...and accounts of the ring share them
    for ring_name in RINGS:  # 80-95% of each ring's waybills leave from its workshop points
        ring = ship[network == ring_name]
        repeated = ring.groupby(["lat", "lon"])["seller_id"].transform("size") > 1
        assert 0.75 <= repeated.mean() <= 0.97, ring_name


def test_small_workshops_are_flagged_in_the_truth(frames: dict[str, Any]) -> None:
    sites = frames["truth"]["sites"]
    keys = {"name", "city", "lat", "lon", "network", "brands", "kind", "dense_district"}
    assert all(set(site) == keys and site["kind"] == "workshop" for site in sites)
    hidden = [s for s in sites if s["dense_district"]]
    assert [s["network"] for s in hidden] == list(SMALL_RINGS)  # one workshop each
    assert [s["city"] for s in hidden] == ["Shenzhen", "Dongguan", "Quanzhou"]
    assert all(len(s["brands"]) == 2 for s in hidden)
    assert all(not s["dense_district"] for s in sites if s["network"] in LARGE_RINGS)


def test_small_workshops_hide_in_busy_districts(default_frames: dict[str, Any]) -> None:
    ship, truth = default_frames["shipments"], default_frames["truth"]
    network = ship["seller_id"].map(truth["networks"])
    for site in (s for s in truth["sites"] if s["dense_district"]):
        d = _distances_m(site["lat"], site["lon"], ship)
        own = (network == site["network"]).to_numpy()
        at_workshop = int((own & (d <= 300)).sum())
        around = ship[~own & (d <= 2_000)]
        # a small workshop: some 60-80 of the 60,000 waybills (0.55% of the rings' 25%, 80-95%
        # of them from the workshop points), in a district whose 2 km hold >= 10x as many (~30x)
        assert 60 <= at_workshop <= 120, site["name"]
        assert len(around) >= 10 * at_workshop, site["name"]
        # ...shipped by many unrelated sellers, none of them dominant (no depot), bar a stray
        # scattered waybill of another ring
        per_seller = around["seller_id"].value_counts()
        assert len(per_seller) >= 50, site["name"]
        assert per_seller.iloc[0] <= 0.1 * len(around), site["name"]
        assert around["seller_id"].map(truth["networks"]).isin(RINGS).mean() < 0.01, site["name"]


@pytest.mark.parametrize("n", [60_000, 200_000])
def test_market_districts_come_out_of_the_background_share(n: int) -> None:
    got = demo_frames(seed=7, n_shipments=n)
    ship, truth, ids = got["shipments"], got["truth"], got["identifiers"]
    hub_users = set(ids.loc[ids["value"].isin(truth["infrastructure"]), "seller_id"])
    ring = ship["seller_id"].map(truth["networks"]).isin(RINGS)
    background = ~ring & ~ship["seller_id"].isin(hub_users)
    # shares stay 25% ring, 30% hub, 45% background; the districts are part of the 45%
    assert ring.mean() == pytest.approx(0.25, abs=0.002)
    assert background.mean() == pytest.approx(0.45, abs=0.002)
    network = ship["seller_id"].map(truth["networks"])
    for site in (s for s in truth["sites"] if s["dense_district"]):  # grows with n
        own = network == site["network"]
        assert own.sum() == int(n * 0.25 * 0.0055), site["name"]
    # each district: 15% of the 1,200 background sellers, its shops' 2-4 stalls and stockrooms
    # all within its radius, shipping 10% of the background's waybills
    warehouses = got["locations"].query("kind == 'warehouse'")
    for district in MARKET_DISTRICTS:
        inside = _distances_m(district.lat, district.lon, warehouses) <= district.radius_m + 100
        per_seller = warehouses.assign(inside=inside).groupby("seller_id")["inside"]
        shops = per_seller.all() & (per_seller.size() >= 2)
        shops = set(shops.index[shops]) - hub_users
        assert 170 <= len(shops) <= 190, district.name
        share = ship.loc[background, "seller_id"].isin(shops).mean()
        assert share == pytest.approx(0.10, abs=0.01), district.name


def test_hub_sellers_share_only_the_hotline(frames: dict[str, Any]) -> None:
    truth = frames["truth"]
    ids = frames["identifiers"]
    hotline = ids[ids["value"].isin(truth["infrastructure"])]
    assert hotline["value"].str.replace(r"\D", "", regex=True).str.startswith("400").all()
    hub = truth["hubs"][0]
    assert hotline["seller_id"].nunique() == hub["n_sellers"] == 300
    assert all(truth["networks"][s] is None for s in hotline["seller_id"])
    ship = frames["shipments"]
    at_hub = np.array(
        [
            _distance_m(hub["lat"], hub["lon"], la, lo) < 300
            for la, lo in zip(ship["lat"], ship["lon"], strict=True)
        ]
    )
    # the dock points: exact coordinates that repeat (a ring's scattered waybill may pass by)
    dense = ship[at_hub & ship.duplicated(["lat", "lon"], keep=False)]
    # hub users ship 30% of all waybills, 30-80% of theirs from the hub's dock points
    assert dense["seller_id"].nunique() > 100 and len(dense) > 0.1 * len(ship)
    assert set(dense["seller_id"]) <= set(hotline["seller_id"])


def test_evidence_points_at_rings(frames: dict[str, Any]) -> None:
    ev = frames["evidence"]
    network = ev["seller_id"].map(frames["truth"]["networks"])
    fakes = ev[(ev["kind"] == "test_buy") & (ev["verdict"] == "counterfeit")]
    for ring in RINGS:
        assert (fakes["seller_id"].map(frames["truth"]["networks"]) == ring).sum() >= 2, ring
    legit = ~network.isin(RINGS)
    assert (ev.loc[legit, "verdict"] != "counterfeit").all()
    assert ((ev["verdict"] == "genuine") & legit).sum() >= 5


@pytest.mark.parametrize("hostile", [False, True])
def test_hostile_names_only_when_asked(hostile: bool) -> None:
    got = demo_frames(seed=7, hostile_names=hostile, **SMALL)
    names = got["sellers"].set_index("seller_id")["name"]
    attacks = ["<img src=x onerror=alert(1)>", "${alert(1)}", "</script><script>alert(1)</script>"]
    assert got["truth"]["hostile_names"] == (attacks if hostile else [])
    assert names.isin(attacks).sum() == (3 if hostile else 0)
    if hostile:  # two on the top (Putian) ring, one on a background seller
        owners = names[names.isin(attacks)].index.map(got["truth"]["networks"])
        assert list(owners).count("putian-ring") == 2


# -- arguments and folders --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_shipments": 999}, r"n_shipments must be an integer of at least 1,000; received 999"),
        ({"n_shipments": 5_000.0}, r"n_shipments .* received 5000\.0"),
        ({"n_background_sellers": 3}, r"n_background_sellers .* at least 10; received 3"),
        ({"seed": -1}, r"seed must be an integer of at least 0; received -1"),
        ({"fmt": "xlsx"}, r"fmt must be one of csv, parquet; received 'xlsx'"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InputError, match=match):
        generate_demo(tmp_path / "x", **kwargs)
    assert not (tmp_path / "x").exists()


def test_foreign_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("case notes", encoding="utf-8")
    with pytest.raises(InputError, match=r"holds other files.*Pick a new folder"):
        generate_demo(tmp_path, **SMALL)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    file = tmp_path / "notes.txt"
    with pytest.raises(InputError, match=r"expected a directory"):
        generate_demo(file, **SMALL)


def test_previous_demo_is_replaced(tmp_path: Path) -> None:
    generate_demo(tmp_path, seed=1, **SMALL)
    demo = generate_demo(tmp_path, seed=2, fmt="parquet", **SMALL)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert "shipments.csv" not in names and "shipments.parquet" in names
    assert json.loads(demo.truth.read_text(encoding="utf-8"))["seed"] == 2


def test_package_exports_lazily() -> None:
    assert workbench.generate_demo is generate_demo
    assert workbench.DemoData is DemoData


def test_defects_land_in_the_quarantine_with_their_reasons(tmp_path: Path) -> None:
    from workbench.intake._table import load_shipments

    demo = generate_demo(tmp_path / "d", defects=True, **SMALL)
    truth = json.loads(demo.truth.read_text(encoding="utf-8"))
    result = load_shipments(demo.shipments)
    # the planted defects and nothing else are quarantined, each with its own reason
    assert result.report["quarantine_reasons"] == truth["defects"]
    # and the repairable ones are repaired and stored, each counted by how
    assert result.report["repairs"] == truth["repairs"]
    n_repaired = sum(truth["repairs"].values())
    assert result.report["rows_stored"] == SMALL["n_shipments"] + n_repaired
    assert result.report["rows_read"] == (
        SMALL["n_shipments"] + sum(truth["defects"].values()) + n_repaired
    )


def test_defects_need_csv(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"defects=True needs fmt='csv'"):
        generate_demo(tmp_path / "d", defects=True, fmt="parquet", **SMALL)
