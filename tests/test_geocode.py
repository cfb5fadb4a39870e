"""Offline address geocoding and the cached online geocoder (a fake one: no network)."""

from __future__ import annotations

import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from workbench.geocode import PRECISIONS, CachedGeocoder, geocode_addresses


def one(address: object) -> pd.Series:
    return geocode_addresses([address]).iloc[0]  # type: ignore[list-item]


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    dlat, dlon = a[0] - b[0], (a[1] - b[1]) * math.cos(math.radians(a[0]))
    return 111.2 * math.hypot(dlat, dlon)


def test_precisions_best_to_worst() -> None:
    assert PRECISIONS == ("exact", "street", "district", "city", "province")


@pytest.mark.parametrize(
    ("address", "province_zh", "city_zh", "district_zh"),
    [
        ("福建省莆田市城厢区龙桥街道荔城中大道88号", "福建省", "莆田市", "城厢区"),
        ("浙江义乌市北苑街道", "浙江省", "金华市", "义乌市"),
        ("广州市白云区", "广东省", "广州市", "白云区"),
        ("福建省晋江市陈埭镇", "福建省", "泉州市", "晋江市"),
        ("莆田仙游县榜头镇", "福建省", "莆田市", "仙游县"),
        ("北京市朝阳区建国路", "北京市", "北京市", "朝阳区"),
        ("重庆市渝北区", "重庆市", "重庆市", "渝北区"),
        ("广东 广州 白云区 三元里", "广东省", "广州市", "白云区"),
    ],
)
def test_chinese_addresses_at_district_level(
    address: str, province_zh: str, city_zh: str, district_zh: str
) -> None:
    row = one(address)
    assert (row["province_zh"], row["city_zh"], row["district_zh"]) == (
        province_zh,
        city_zh,
        district_zh,
    )
    assert row["precision"] == "district" and row["source"] == "gazetteer"
    assert np.isfinite(row["lat"]) and np.isfinite(row["lon"])


@pytest.mark.parametrize(
    ("address", "province", "city", "district"),
    [
        ("88 Lichengzhong Ave, Chengxiang District, Putian, Fujian, China", "Fujian", "Putian",
         "Chengxiang District"),
        ("Yiwu, Zhejiang", "Zhejiang", "Jinhua", "Yiwu"),
        ("Jinjiang City, Quanzhou, Fujian Province", "Fujian", "Quanzhou", "Jinjiang"),
        ("Chendai Town, Jinjiang, Fujian", "Fujian", "Quanzhou", "Jinjiang"),
        ("Baiyun District, Guangzhou", "Guangdong", "Guangzhou", "Baiyun District"),
        ("No. 5 Nan’an Road, Nan'an, Fujian", "Fujian", "Quanzhou", "Nan'an"),
    ],
)  # fmt: skip
def test_english_addresses_at_district_level(
    address: str, province: str, city: str, district: str
) -> None:
    row = one(address)
    assert (row["province"], row["city"], row["district"]) == (province, city, district)
    assert row["precision"] == "district"


def test_points_are_where_the_places_are() -> None:
    yiwu = one("浙江义乌市北苑街道")
    assert km((yiwu["lat"], yiwu["lon"]), (29.31, 120.08)) < 10
    chendai = one("Chendai Town, Jinjiang, Fujian")
    assert chendai["matched"] == "Chendai"
    assert km((chendai["lat"], chendai["lon"]), (24.82, 118.60)) < 5
    putian = one("88 Lichengzhong Ave, Chengxiang District, Putian, Fujian, China")
    assert km((putian["lat"], putian["lon"]), (25.43, 119.0)) < 25  # the district's towns


@pytest.mark.parametrize(
    ("address", "precision", "province_zh", "city_zh"),
    [
        ("Putian", "city", "福建省", "莆田市"),
        ("福建莆田", "city", "福建省", "莆田市"),
        ("广州市北京路", "city", "广东省", "广州市"),  # 北京路 is a street, not Beijing
        ("延边州", "city", "吉林省", "延边朝鲜族自治州"),
        ("Fujian", "province", "福建省", ""),
        ("Inner Mongolia", "province", "内蒙古自治区", ""),
        ("江苏省鼓楼区", "province", "江苏省", ""),  # Gulou of Nanjing or of Xuzhou: unsaid
        ("贵州省白云区", "city", "贵州省", "贵阳市"),  # no point for this district: the city's
    ],
)
def test_city_and_province_precision(
    address: str, precision: str, province_zh: str, city_zh: str
) -> None:
    row = one(address)
    assert (row["precision"], row["province_zh"], row["city_zh"]) == (
        precision,
        province_zh,
        city_zh,
    )


def test_a_district_name_in_two_provinces_is_resolved_by_the_province() -> None:
    guangzhou, guiyang = one("广东省白云区"), one("贵州省白云区")
    assert (guangzhou["city_zh"], guangzhou["district_zh"]) == ("广州市", "白云区")
    assert (guiyang["city_zh"], guiyang["district_zh"]) == ("贵阳市", "白云区")
    assert one("福建鼓楼区")["city_zh"] == "福州市"  # Fujian has one Gulou: Fuzhou's


@pytest.mark.parametrize(
    "address",
    [
        "白云区",  # Guangzhou or Guiyang: nothing disambiguates, so no guess
        "朝阳区",  # Beijing or Changchun
        "Baiyun District",
        "城厢",  # a bare district name with nothing above it
        "浙江省莆田市",  # the province and the city disagree
        "Hong Kong",
        "台北市",
        "某某工业园",
    ],
)
def test_ambiguous_or_unknown_addresses_are_not_guessed(address: str) -> None:
    row = one(address)
    assert row["precision"] == "" and math.isnan(row["lat"]) and row["province"] == ""


def test_bare_district_counts_once_its_city_is_named() -> None:
    assert one("莆田城厢")["district_zh"] == "城厢区"
    assert one("Chengxiang, Putian")["district"] == "Chengxiang District"


HOSTILE = [
    "",
    "   ",
    None,
    pd.NA,
    float("nan"),
    12345,
    "x" * 5000,
    "福" * 5000,
    "\u202e市田莆省建福",  # right-to-left override, text reversed
    "\x00\x01\x1b[31m\x7f",
    "\ud800",  # lone surrogate
    "\u200b\u200d\ufeff",
]


def test_hostile_inputs_do_not_crash() -> None:
    out = geocode_addresses(pd.Series(HOSTILE, dtype=object))
    assert len(out) == len(HOSTILE)
    assert (out["precision"] == "").all() and out["lat"].isna().all()


def test_control_and_invisible_characters_are_ignored() -> None:
    assert one("福建\x00莆田")["city_zh"] == "莆田市"
    assert one("莆\u200b田\u202e")["city_zh"] == "莆田市"
    assert one("福建省莆田市" + "x" * 5000)["city_zh"] == "莆田市"


def test_one_row_per_input_in_order_with_the_index_kept() -> None:
    addresses = pd.Series(
        ["Yiwu, Zhejiang", None, "广州市白云区", "Yiwu, Zhejiang", "白云区"],
        index=[10, 11, 12, 13, 14],
    )
    out = geocode_addresses(addresses)
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert list(out["district_zh"]) == ["义乌市", "", "白云区", "义乌市", ""]
    assert list(out.columns[:8]) == [
        "lat", "lon", "precision", "matched", "province", "province_zh", "city", "city_zh",
    ]  # fmt: skip
    assert geocode_addresses([]).empty


def test_a_million_rows_with_five_thousand_distinct_addresses() -> None:
    rng = np.random.default_rng(3)
    cities = ["福建省莆田市", "浙江省金华市", "广东省广州市", "福建省泉州市", "Yiwu, Zhejiang "]
    distinct = np.array([f"{cities[i % 5]}某某路{i}号" for i in range(5000)], dtype=object)
    series = pd.Series(distinct[rng.integers(0, 5000, 1_000_000)]).astype("str")
    geocode_addresses(series[:10])  # load the gazetteer first
    start = time.perf_counter()
    out = geocode_addresses(series)
    elapsed = time.perf_counter() - start
    print(f"\n1,000,000 rows, 5,000 distinct addresses: {elapsed:.2f} s")
    assert len(out) == 1_000_000 and out["precision"].isin(["city", "district"]).all()


# --- the optional online geocoder --------------------------------------------------------


@dataclass
class Location:
    latitude: float
    longitude: float


class FakeGeocoder:
    """geopy-like: .geocode(query) -> Location | None; records every query."""

    def __init__(self, answers: dict[str, tuple[float, float] | None]) -> None:
        self.answers = answers
        self.queries: list[str] = []

    def geocode(self, query: str) -> Location | None:
        self.queries.append(query)
        point = self.answers.get(query)
        return None if point is None else Location(*point)


WORKSHOP = "福建省莆田市某某工业园3号楼"  # the gazetteer only knows the city
WORKSHOP_POINT = (25.4512, 119.0231)


def test_online_geocoder_is_asked_only_for_what_the_gazetteer_cannot_place(
    tmp_path: Path,
) -> None:
    fake = FakeGeocoder({WORKSHOP: WORKSHOP_POINT})
    online = CachedGeocoder(fake, tmp_path / "cache.sqlite", min_delay_s=0)
    out = geocode_addresses([WORKSHOP, "广州市白云区", WORKSHOP], online=online)
    assert fake.queries == [WORKSHOP]  # once for the two rows, never for the district
    first = out.iloc[0]
    assert (first["lat"], first["lon"]) == WORKSHOP_POINT
    assert (first["precision"], first["source"]) == ("street", "online")
    assert (first["city_zh"], first["province_zh"]) == ("莆田市", "福建省")
    assert out.iloc[1]["source"] == "gazetteer"


def test_cache_hits_misses_and_persistence(tmp_path: Path) -> None:
    cache = tmp_path / "cache.sqlite"
    fake = FakeGeocoder({WORKSHOP: WORKSHOP_POINT})
    with CachedGeocoder(fake, cache, min_delay_s=0) as online:
        assert online(WORKSHOP) == WORKSHOP_POINT
        assert online("nowhere at all") is None
        assert online(WORKSHOP) == WORKSHOP_POINT
        assert online("nowhere at all") is None
        assert online.stats == {"hits": 2, "calls": 2, "errors": 0}
    assert len(fake.queries) == 2
    # a new instance on the same file asks nothing again, misses included
    again = FakeGeocoder({})
    with CachedGeocoder(again, cache, min_delay_s=0) as online:
        assert online(WORKSHOP) == WORKSHOP_POINT
        assert online("nowhere at all") is None
        out = geocode_addresses([WORKSHOP], online=online)
    assert again.queries == [] and out.iloc[0]["source"] == "online"
    rows = sqlite3.connect(cache).execute("SELECT count(*) FROM geocode_cache").fetchone()
    assert rows == (2,)


def test_a_plain_function_works_too(tmp_path: Path) -> None:
    calls: list[str] = []

    def geocode(query: str) -> tuple[float, float] | None:
        calls.append(query)
        return WORKSHOP_POINT

    online = CachedGeocoder(geocode, tmp_path / "c.sqlite", precision="exact", min_delay_s=0)
    row = geocode_addresses([WORKSHOP], online=online).iloc[0]
    assert row["precision"] == "exact" and calls == [WORKSHOP]


def test_uncached_calls_are_spaced_by_min_delay(tmp_path: Path) -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    online = CachedGeocoder(
        FakeGeocoder({}), tmp_path / "c.sqlite", min_delay_s=1.5,
        clock=lambda: now[0], sleep=sleep,
    )  # fmt: skip
    online("a")
    online("b")
    online("a")  # cached: no wait
    now[0] += 5.0
    online("c")  # enough time has passed
    assert slept == [1.5]


def test_errors_are_counted_and_not_cached(tmp_path: Path) -> None:
    class Flaky:
        def __init__(self) -> None:
            self.calls = 0

        def geocode(self, query: str) -> Location:
            self.calls += 1
            if self.calls == 1:
                raise TimeoutError("service unavailable")
            return Location(*WORKSHOP_POINT)

    flaky = Flaky()
    online = CachedGeocoder(flaky, tmp_path / "c.sqlite", min_delay_s=0)
    assert online(WORKSHOP) is None and online.stats["errors"] == 1
    assert online(WORKSHOP) == WORKSHOP_POINT and flaky.calls == 2


def test_an_online_answer_in_another_province_is_not_taken(tmp_path: Path) -> None:
    yiwu = (29.31, 120.08)  # Zhejiang, but the address says Fujian
    online = CachedGeocoder(FakeGeocoder({WORKSHOP: yiwu}), tmp_path / "c.sqlite", min_delay_s=0)
    row = geocode_addresses([WORKSHOP], online=online).iloc[0]
    assert (row["source"], row["precision"], row["city_zh"]) == ("gazetteer", "city", "莆田市")


def test_an_online_answer_fills_in_the_jurisdiction(tmp_path: Path) -> None:
    address = "某某工业园3号楼"  # the gazetteer knows nothing here
    online = CachedGeocoder(
        FakeGeocoder({address: (29.306, 120.075)}), tmp_path / "c.sqlite", min_delay_s=0
    )
    row = geocode_addresses([address], online=online).iloc[0]
    assert (row["province_zh"], row["city_zh"], row["district_zh"]) == (
        "浙江省",
        "金华市",
        "义乌市",
    )
    assert row["matched"] == ""


def test_bad_online_answers_are_misses(tmp_path: Path) -> None:
    answers = {"a": (float("nan"), 1.0), "b": (95.0, 10.0), "c": ("x", "y")}
    online = CachedGeocoder(answers.get, tmp_path / "c.sqlite", min_delay_s=0)
    assert [online(q) for q in "abc"] == [None, None, None]


def test_precision_and_geocoder_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        CachedGeocoder(FakeGeocoder({}), tmp_path / "c.sqlite", precision="house")
    with pytest.raises(TypeError):
        CachedGeocoder(42, tmp_path / "c.sqlite")
