"""Offline geocoding of Chinese addresses, in Chinese or English, to a district, city or province.

The bundled division list (National Bureau of Statistics codes: 31 provinces, 337 prefecture
level units, 2,843 county-level units, 41,352 townships; see ``workbench/data/README.md``)
is searched for every name written in the address: full names (福建省, 莆田市, 城厢区,
陈埭镇), short forms (福建, 莆田, 义乌, 延边州) and, in English, pinyin names with or without
their kind (Putian, Chengxiang District, Xianyou County, Fujian Province). Each name found
is a *token* with one or more candidate divisions; the answer is the division that the most
tokens agree with (a token agrees with a division when it names that division or one above
it); among equals on one line of descent (福建 > 莆田 > 城厢区) the deepest. When the best
candidates disagree (白云区 alone is a district of both Guangzhou and Guiyang; 江苏鼓楼区
could be Nanjing's or Xuzhou's; 浙江省莆田市 contradicts itself) the answer falls back to
what they share (nothing, or Jiangsu) instead of guessing. Bare district and county
names (城厢, "Chengxiang") count only when a province or city above them is also named, and
short names followed by 路/街/道/巷/大 ("北京路", "荔城中大道") are read as street names.

Precision is that of the point returned: ``district`` (a township or county-level unit with
a known point: its GeoNames place, seat, or the median of its towns), ``city`` (the
prefecture's seat, or for some autonomous prefectures its largest county seat), ``province``
(Natural Earth's label point), ``""`` when nothing was found. A district without a point of
its own (about 770 of them) is answered at city precision, its name still in ``district``.
Precision ``exact`` and ``street`` only come from an optional online geocoder, wrapped
in :class:`CachedGeocoder`, which is asked only about addresses the gazetteer cannot place
better than city level, with every answer (misses too) kept in a sqlite file.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.gazetteer import divisions, jurisdictions

__all__ = ["PRECISIONS", "CachedGeocoder", "geocode_addresses"]

PRECISIONS = ("exact", "street", "district", "city", "province")
COLUMNS = (
    "lat", "lon", "precision", "matched", "province", "province_zh", "city", "city_zh",
    "district", "district_zh", "source",
)  # fmt: skip
_DATA = Path(__file__).parent / "data"
_MAX_CHARS = 300  # longer input is cut: no real address needs more
_LEVEL_PRECISION = {1: "province", 2: "city", 3: "district", 4: "district"}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_ROADISH = set("路街道巷弄大")  # a short name followed by these is a street: 北京路, 荔城中大道
_ROADISH_EN = {
    "road", "rd", "street", "st", "avenue", "ave", "lane", "ln", "lu", "jie", "dadao", "blvd",
    "boulevard", "alley", "xiang", "hutong", "dajie", "middle", "zhong",
}  # fmt: skip
_KIND_WORDS = {
    "区": ("district", "qu"),
    "新区": ("new area", "new district", "xinqu"),
    "县": ("county", "xian"),
    "自治县": ("autonomous county", "county"),
    "市": ("city", "shi"),
    "旗": ("banner", "qi"),
    "自治旗": ("autonomous banner", "banner"),
    "自治州": ("autonomous prefecture", "prefecture", "zhou"),
    "地区": ("prefecture", "diqu"),
    "盟": ("league", "meng"),
}
_PROVINCE_WORDS = ("province", "sheng", "autonomous region", "municipality", "shi", "city")
_PROVINCE_ALIASES = {
    "内蒙古": ("nei mongol", "nei menggu", "neimenggu", "inner mongol"),
    "西藏": ("xizang",),
    "新疆": ("xinjiang uygur", "xinjiang uyghur"),
    "广西": ("guangxi zhuang",),
    "宁夏": ("ningxia hui",),
}
_TOWN_WORDS = ("town", "zhen", "township", "subdistrict", "jiedao", "sub district")


@dataclass(frozen=True)
class _Index:
    zh: dict[str, list[tuple[int, bool]]]  # name -> [(unit row, weak)]
    en: dict[str, list[tuple[int, bool]]]  # folded words joined by " " -> [(unit row, weak)]
    zh_prefixes: frozenset[str]  # first two characters of every Chinese name
    zh_max: int
    en_max: int  # most words in an English name
    chain: list[tuple[int, ...]]  # unit row -> rows of itself and every unit above it
    level: np.ndarray
    name_zh: list[str]
    name_en: list[str]
    lat: np.ndarray
    lon: np.ndarray


def _fold(text: str) -> str:
    """Lower-case ASCII words: 'Nan’an  Fujian' -> 'nanan fujian'."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = re.sub(r"['’‘`]", "", "".join(c for c in text if not unicodedata.combining(c)))
    return " ".join(re.findall(r"[a-z0-9]+", text))


def _add(index: dict[str, list[tuple[int, bool]]], key: str, row: int, weak: bool) -> None:
    if key and (row, weak) not in index.setdefault(key, []):
        index[key].append((row, weak))


@lru_cache(maxsize=1)
def _index() -> _Index:
    div = divisions().reset_index()
    towns = pd.read_csv(
        _DATA / "cn_townships.csv.gz",
        dtype={"code": str, "parent": str, "name_zh": str, "name_en": str},
        keep_default_na=False,
        na_values={"lat": [""], "lon": [""]},
    )
    codes = div["code"].tolist() + towns["code"].tolist()
    row_of = {c: i for i, c in enumerate(codes)}
    parents = div["parent"].tolist() + towns["parent"].tolist()
    level = np.concatenate([div["level"].to_numpy(int), np.full(len(towns), 4)])
    name_zh = div["name_zh"].tolist() + towns["name_zh"].tolist()
    name_en = div["name_en"].tolist() + towns["name_en"].tolist()
    lat = np.concatenate([div["lat"].to_numpy(float), towns["lat"].to_numpy(float)])
    lon = np.concatenate([div["lon"].to_numpy(float), towns["lon"].to_numpy(float)])
    chain: list[tuple[int, ...]] = []
    for i in range(len(codes)):
        rows = [i]
        up = parents[i]
        while up in row_of:
            rows.append(row_of[up])
            up = parents[row_of[up]]
        chain.append(tuple(rows))

    zh: dict[str, list[tuple[int, bool]]] = {}
    en: dict[str, list[tuple[int, bool]]] = {}
    columns = zip(div["stem_zh"].tolist(), div["kind"].tolist(), div["level"].tolist(), strict=True)
    for i, (stem, kind, lvl) in enumerate(columns):
        _add(zh, name_zh[i], i, False)
        if len(stem) >= 2:
            # provinces, prefectures and county-level cities go by their short names alone
            _add(zh, stem, i, lvl == 3 and kind != "市")
            if kind == "自治州":
                _add(zh, stem + "州", i, False)
        base = _fold(name_en[i])
        if lvl == 1:
            for key in {base, *_PROVINCE_ALIASES.get(stem, ())} - {""}:
                _add(en, key, i, False)
                for word in _PROVINCE_WORDS:
                    _add(en, f"{key} {word}", i, False)
            continue
        words = _KIND_WORDS.get(kind, ())
        suffix = _fold(words[0]) if words else ""
        if suffix and base.endswith(" " + suffix):
            base = base[: -len(suffix) - 1]
        _add(en, base, i, lvl == 3 and kind != "市")
        for word in words:
            _add(en, f"{base} {word}", i, False)
    offset = len(div)
    for row in range(offset, len(codes)):
        _add(zh, name_zh[row], row, False)
        key = _fold(name_en[row]) if name_en[row] else ""
        if key:
            _add(en, key, row, True)
            for word in _TOWN_WORDS:
                _add(en, f"{key} {word}", row, False)
    return _Index(
        zh=zh,
        en=en,
        zh_prefixes=frozenset(k[:2] for k in zh),
        zh_max=max(len(k) for k in zh),
        en_max=max(k.count(" ") + 1 for k in en),
        chain=chain,
        level=level,
        name_zh=name_zh,
        name_en=name_en,
        lat=lat,
        lon=lon,
    )


def _clean(text: str) -> str:
    """NFKC, control and format characters (RTL overrides, zero-width) made spaces, cut."""
    text = unicodedata.normalize("NFKC", text[: _MAX_CHARS * 2])[:_MAX_CHARS]
    return "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text).strip()


def _tokens_zh(text: str, idx: _Index) -> list[list[tuple[int, bool]]]:
    s = "".join(text.split())
    out: list[list[tuple[int, bool]]] = []
    i, n = 0, len(s)
    while i < n - 1:
        if s[i : i + 2] not in idx.zh_prefixes:
            i += 1
            continue
        for size in range(min(idx.zh_max, n - i), 1, -1):
            cands = idx.zh.get(s[i : i + size])
            if cands is None:
                continue
            after = s[i + size : i + size + 1]
            full = any(idx.name_zh[row] == s[i : i + size] for row, _ in cands)
            if after in _ROADISH and not full:
                continue  # 北京路, 荔城中大道: a street named after a place
            out.append(cands)
            i += size
            break
        else:
            i += 1
    return out


def _tokens_en(text: str, idx: _Index) -> list[list[tuple[int, bool]]]:
    words = _fold(text).split()
    out: list[list[tuple[int, bool]]] = []
    i, n = 0, len(words)
    while i < n:
        for size in range(min(idx.en_max, n - i), 0, -1):
            cands = idx.en.get(" ".join(words[i : i + size]))
            if cands is None:
                continue
            if i + size < n and words[i + size] in _ROADISH_EN:
                continue  # "Baiyun Road"
            out.append(cands)
            i += size
            break
        else:
            i += 1
    return out


def _resolve(tokens: list[list[tuple[int, bool]]], idx: _Index) -> int:
    """Row of the division most tokens agree with; -1 when nothing or nothing shared."""
    named = [{row for row, _ in cands} for cands in tokens]
    best: list[int] = []
    best_support = 0
    for cands in tokens:
        for row, weak in cands:
            chain = idx.chain[row]
            support = sum(1 for rows in named if any(r in rows for r in chain))
            if weak and support < 2:
                continue  # a bare district name with no province or city named above it
            if support > best_support:
                best, best_support = [row], support
            elif support == best_support and row not in best:
                best.append(row)
    if not best:
        return -1
    deepest = max(best, key=lambda r: len(idx.chain[r]))
    if all(r in idx.chain[deepest] for r in best):
        return deepest  # one line of descent: 福建 > 莆田 > 城厢区
    shared = set(idx.chain[best[0]])  # rivals (白云区 of Guangzhou and of Guiyang): what
    for row in best[1:]:  # they have in common, which may be nothing
        shared &= set(idx.chain[row])
    return max(shared, key=lambda r: len(idx.chain[r]), default=-1)


_NOT_FOUND: tuple[Any, ...] = (math.nan, math.nan, "", "", "", "", "", "", "", "", "")


def _geocode_one(address: object) -> tuple[Any, ...]:
    if not isinstance(address, str):
        return _NOT_FOUND
    text = _clean(address)
    if not text:
        return _NOT_FOUND
    idx = _index()
    chinese = bool(_CJK.search(text))
    tokens = (_tokens_zh(text, idx) if chinese else []) + _tokens_en(text, idx)
    row = _resolve(tokens, idx)
    if row < 0:
        return _NOT_FOUND
    chain = idx.chain[row]
    located = next((r for r in chain if not math.isnan(idx.lat[r])), -1)
    if located < 0:
        return _NOT_FOUND
    by_level = {int(idx.level[r]): r for r in chain}

    def names(level: int) -> tuple[str, str]:
        r = by_level.get(level)
        return ("", "") if r is None else (idx.name_en[r], idx.name_zh[r])

    return (
        float(idx.lat[located]),
        float(idx.lon[located]),
        _LEVEL_PRECISION[int(idx.level[located])],
        idx.name_zh[row] if chinese else idx.name_en[row] or idx.name_zh[row],
        *names(1),
        *names(2),
        *names(3),
        "gazetteer",
    )


Geocode = Callable[[str], "tuple[float, float] | None"]


class CachedGeocoder:
    """An online geocoder behind a persistent cache and a rate limit.

    ``geocode`` is either a function ``query -> (lat, lon) | None`` or a geopy-style object
    whose ``.geocode(query)`` returns something with ``.latitude``/``.longitude``, or None.
    Every answer, misses included, is kept in the sqlite file ``cache_path``, so a re-run never
    asks the same query twice; uncached calls are spaced at least ``min_delay_s`` apart. A
    call that raises is counted in ``stats['errors']`` and not cached (it may work next time).
    ``precision`` is what its answers are worth ("exact" or "street" for a street-level
    service). Nothing here imports geopy or touches the network by itself.
    """

    def __init__(
        self,
        geocode: Geocode | Any,
        cache_path: str | PathLike[str],
        precision: str = "street",
        *,
        min_delay_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        method = getattr(geocode, "geocode", None)
        self._ask: Callable[[str], Any] = method if callable(method) else geocode
        if not callable(self._ask):
            raise TypeError("geocode must be callable or have a .geocode(query) method")
        self.precision = precision
        self.min_delay_s = float(min_delay_s)
        self._clock, self._sleep = clock, sleep
        self._last: float | None = None
        self.stats = {"hits": 0, "calls": 0, "errors": 0}
        self._db = sqlite3.connect(str(cache_path))
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS geocode_cache ("
            "query TEXT PRIMARY KEY, lat REAL, lon REAL, asked_at TEXT NOT NULL)"
        )
        self._db.commit()

    def __call__(self, query: str) -> tuple[float, float] | None:
        """(lat, lon) for ``query`` from the cache, else from the geocoder (then cached)."""
        row = self._db.execute(
            "SELECT lat, lon FROM geocode_cache WHERE query = ?", (query,)
        ).fetchone()
        if row is not None:
            self.stats["hits"] += 1
            return None if row[0] is None else (float(row[0]), float(row[1]))
        if self._last is not None:
            wait = self.min_delay_s - (self._clock() - self._last)
            if wait > 0:
                self._sleep(wait)
        self.stats["calls"] += 1
        try:
            point = _as_point(self._ask(query))
        except Exception:  # a failing service must not stop the batch
            self.stats["errors"] += 1
            return None
        finally:
            self._last = self._clock()
        lat, lon = point if point else (None, None)
        self._db.execute(
            "INSERT OR REPLACE INTO geocode_cache VALUES (?, ?, ?, datetime('now'))",
            (query, lat, lon),
        )
        self._db.commit()
        return point

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> CachedGeocoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_point(answer: Any) -> tuple[float, float] | None:
    """(lat, lon) from a tuple or a geopy-like Location; None when absent or invalid."""
    if answer is None:
        return None
    if hasattr(answer, "latitude") and hasattr(answer, "longitude"):
        lat, lon = answer.latitude, answer.longitude
    else:
        try:
            lat, lon = answer
        except (TypeError, ValueError):
            return None
    try:
        lat, lon = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        return None
    return lat, lon


def _ask_online(table: pd.DataFrame, texts: list[object], online: CachedGeocoder) -> None:
    """Replace rows placed no better than city level by the online answer, where it agrees."""
    worse = ~table["precision"].isin(("exact", "street", "district")).to_numpy()
    rows, points = [], []
    for i in np.flatnonzero(worse):
        text = texts[i]
        query = _clean(text) if isinstance(text, str) else ""
        point = online(query) if query else None
        if point is not None:
            rows.append(i)
            points.append(point)
    if not rows:
        return
    lat = np.array([p[0] for p in points])
    lon = np.array([p[1] for p in points])
    where = jurisdictions(lat, lon)
    for k, i in enumerate(rows):
        here = where.iloc[k]
        prov, city = table.at[i, "province_zh"], table.at[i, "city_zh"]
        if prov and here["province_zh"] != prov:
            continue  # the service put it in another province than the address says
        if city and here["prefecture_zh"] and here["prefecture_zh"] != city:
            continue
        table.loc[i, ["lat", "lon", "precision", "source"]] = [
            lat[k],
            lon[k],
            online.precision,
            "online",
        ]
        for ours, theirs in (("province", "province"), ("city", "prefecture"),
                             ("district", "district")):  # fmt: skip
            if not table.at[i, ours + "_zh"]:
                table.at[i, ours] = here[theirs]
                table.at[i, ours + "_zh"] = here[theirs + "_zh"]


def geocode_addresses(
    addresses: Sequence[str | None] | pd.Series, *, online: CachedGeocoder | None = None
) -> pd.DataFrame:
    """One row per address (same index and order): where the gazetteer places it.

    Columns: lat, lon (WGS-84; NaN when not found), precision (one of :data:`PRECISIONS`,
    "" when not found), matched (the division name the answer rests on), province,
    province_zh, city, city_zh (the prefecture-level city), district, district_zh, source
    ("gazetteer", "online" or ""). Each distinct address is geocoded once. With ``online``,
    addresses the gazetteer places no better than city level are also asked there (through
    its cache); its answer is kept unless it lies outside the province or city the address
    names.
    """
    series = (
        addresses if isinstance(addresses, pd.Series) else pd.Series(list(addresses), dtype=object)
    )
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = list(uniques)
    rows = [_geocode_one(t) for t in texts] + [_NOT_FOUND]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    if online is not None and texts:
        _ask_online(table, [*texts, None], online)
    for col in COLUMNS:
        if col not in ("lat", "lon"):
            table[col] = table[col].astype("str")
    out = table.take(np.where(codes < 0, len(texts), codes))
    out.index = series.index
    return out
