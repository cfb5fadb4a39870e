"""Offline jurisdiction look-up: province by polygon, prefecture and district by tied towns."""

from __future__ import annotations

import functools
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, shape

from workbench.gazetteer import ATTRIBUTION, Jurisdiction, divisions, jurisdiction, jurisdictions

DATA = Path(__file__).resolve().parents[1] / "workbench" / "data"

# (lat, lon) -> province_zh, prefecture_zh, district_zh, district (en)
KNOWN = {
    "Putian, Hanjiang": ((25.46, 119.11), "福建省", "莆田市", "涵江区", "Hanjiang District"),
    "Putian, Xianyou": ((25.36, 118.69), "福建省", "莆田市", "仙游县", "Xianyou County"),
    "Guangzhou, Baiyun (Renhe)": ((23.34, 113.29), "广东省", "广州市", "白云区", "Baiyun District"),
    "Guangzhou, Baiyun (Tonghe)": (
        (23.19, 113.29),
        "广东省",
        "广州市",
        "白云区",
        "Baiyun District",
    ),
    "Yiwu": ((29.306, 120.075), "浙江省", "金华市", "义乌市", "Yiwu"),
    "Jinjiang, Chendai": ((24.82, 118.60), "福建省", "泉州市", "晋江市", "Jinjiang"),
    "Beijing, Chaoyang": ((39.92, 116.45), "北京市", "北京市", "朝阳区", "Chaoyang District"),
}
OUTSIDE = {
    "East China Sea": (30.0, 125.0),
    "South China Sea": (20.0, 115.0),
    "Hanoi": (21.03, 105.85),
    "Seoul": (37.56, 126.98),
    "Ulaanbaatar": (47.92, 106.92),
    "Taipei (not covered)": (25.03, 121.56),
    "Hong Kong (not covered)": (22.28, 114.16),
}
TEXT = [
    "country", "country_zh", "province", "province_zh", "place", "place_zh",
    "prefecture", "prefecture_zh", "district", "district_zh",
]  # fmt: skip


@pytest.mark.parametrize("name", list(KNOWN))
def test_known_points_get_province_prefecture_and_district(name: str) -> None:
    (lat, lon), province_zh, prefecture_zh, district_zh, district = KNOWN[name]
    j = jurisdiction(lat, lon)
    assert (j.country, j.country_zh) == ("China", "中国")
    assert (j.province_zh, j.prefecture_zh, j.district_zh) == (
        province_zh,
        prefecture_zh,
        district_zh,
    )
    assert j.district == district
    assert j.province and j.prefecture and j.place  # English names too


def test_english_names_of_the_putian_point() -> None:
    j = jurisdiction(25.46, 119.11)
    assert (j.province, j.prefecture) == ("Fujian", "Putian")
    assert j.label("zh") == "中国福建省莆田市涵江区"
    assert "Fujian, China" in j.label()


def test_city_centre_keeps_its_place_and_prefecture() -> None:
    j = jurisdiction(25.44, 119.01)
    assert (j.place, j.province, j.prefecture) == ("Putian", "Fujian", "Putian")
    assert j["place"] == "Putian" and j.distance_km < 1


def test_county_under_the_province_has_no_prefecture() -> None:
    j = jurisdiction(30.36, 113.45)  # Xiantao, Hubei: a county-level city under the province
    assert (j.province_zh, j.district_zh, j.prefecture_zh) == ("湖北省", "仙桃市", "")


@pytest.mark.parametrize("name", list(OUTSIDE))
def test_sea_and_abroad_get_empty_strings(name: str) -> None:
    lat, lon = OUTSIDE[name]
    row = jurisdictions(np.array([lat]), np.array([lon])).iloc[0]
    assert all(row[c] == "" for c in TEXT), row.to_dict()
    assert jurisdiction(lat, lon).label() == "outside the gazetteer"


def test_missing_coordinates_get_empty_strings() -> None:
    out = jurisdictions(np.array([np.nan, 25.46]), np.array([119.11, np.nan]))
    assert (out[TEXT] == "").all().all()
    assert out["distance_km"].isna().all()


def _province_polygons() -> dict[str, shapely.Geometry]:
    raw = json.loads((DATA / "cn_provinces.geojson").read_text(encoding="utf-8"))
    names = pd.read_csv(DATA / "cn_provinces.csv", dtype=str).set_index("admin1")["name"]
    return {names[f["properties"]["admin1"]]: shape(f["geometry"]) for f in raw["features"]}


def test_province_comes_from_the_polygon_not_the_nearest_town() -> None:
    # near the Fujian-Zhejiang border the nearest town (Fuding) is in the other province
    lat, lon = 27.42, 120.17
    j = jurisdiction(lat, lon)
    holding = [n for n, g in _province_polygons().items() if g.contains(Point(lon, lat))]
    assert holding == [j.province] == ["Zhejiang"]
    assert j.place == "Fuding"  # a Fujian town


def test_points_just_off_the_coast_keep_their_province() -> None:
    fujian = _province_polygons()["Fujian"]
    x0, _, x1, _ = fujian.bounds
    # the easternmost coast at Putian's latitude, then 2 km and 60 km out to sea
    coast = fujian.intersection(LineString([(x0, 25.3), (x1 + 1, 25.3)]))
    east = max(x for x, _ in shapely.get_coordinates(coast))
    assert jurisdiction(25.3, east + 0.02).province == "Fujian"
    assert jurisdiction(25.3, east + 0.6).province == ""
    assert jurisdiction(25.3, east + 0.02, coast_km=0).province == ""


def test_vectorised_equals_scalar() -> None:
    pts = [p for p, *_ in KNOWN.values()] + list(OUTSIDE.values())
    lat, lon = np.array(pts).T
    table = jurisdictions(lat, lon)
    assert list(table.columns) == [*TEXT[:6], "distance_km", *TEXT[6:]]
    for i, (a, b) in enumerate(pts):
        one = jurisdiction(a, b)
        assert {c: table.iloc[i][c] for c in TEXT} == {c: getattr(one, c) for c in TEXT}
        assert table.iloc[i]["distance_km"] == pytest.approx(one.distance_km)


def test_ten_thousand_points_are_fast() -> None:
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(20, 45, 10_000), rng.uniform(100, 122, 10_000)
    jurisdictions(lat[:10], lon[:10])  # load the data first
    best = min(_timed(jurisdictions, lat, lon) for _ in range(3))
    print(f"\n10,000 points: {best * 1000:.1f} ms")
    assert best < 1.0  # about 30 ms on the reference machine; generous for busy CI


def _timed(fn: object, *args: object) -> float:
    start = time.perf_counter()
    fn(*args)  # type: ignore[operator]
    return time.perf_counter() - start


def test_jurisdiction_dataclass_keeps_its_old_fields_first() -> None:
    fields = list(Jurisdiction.__dataclass_fields__)
    assert fields[:7] == [*TEXT[:6], "distance_km"]
    assert fields[7:] == TEXT[6:]


def test_divisions_table() -> None:
    div = divisions()
    assert (div["level"] == 1).sum() == 31
    assert div.loc["350302", "name_zh"] == "城厢区" and div.loc["350302", "prefecture"] == "3503"
    assert div.loc["3503", "name_en"] == "Putian" and div.loc["3503", "province"] == "35"
    assert div.loc["1101", "name_zh"] == "北京市"  # municipalities are their own prefecture


def test_bundled_data_is_small_and_attributed() -> None:
    total = sum(f.stat().st_size for f in DATA.iterdir() if f.is_file())
    assert total < 3_000_000
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in readme and "Natural Earth" in readme and "public domain" in readme
    assert "GeoNames" in ATTRIBUTION and "Natural Earth" in ATTRIBUTION


def test_chinese_names_are_simplified() -> None:
    text = (DATA / "gazetteer_cn.csv").read_text(encoding="utf-8")
    assert not set(text) & set("広県沢辺斉徳栄桜")  # Japanese-only forms


def test_the_index_is_built_once_when_a_lookup_comes_while_it_is_built_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workbench import gazetteer

    builds = []
    real = gazetteer._built.__wrapped__

    def counted():  # type: ignore[no-untyped-def]
        builds.append(1)
        time.sleep(0.2)  # still building when the lookup comes
        return real()

    monkeypatch.setattr(gazetteer, "_built", functools.lru_cache(maxsize=1)(counted))
    gazetteer.load_ahead()
    time.sleep(0.05)
    place = jurisdictions(np.array([25.4394]), np.array([119.0103]))
    assert len(place) == 1 and builds == [1]
