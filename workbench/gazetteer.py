"""Offline jurisdiction look-up: which province, prefecture and district a point lies in.

Everything comes from the bundled files in ``workbench/data`` (see its README); nothing is
fetched. Three sources are combined:

* **province**: point-in-polygon on Natural Earth 1:10m admin-1 polygons of China
  (simplified as a coverage to about 1 km). A point within ``coast_km`` of a province but in
  none (a pier, a boat near the shore, a sliver lost to simplification) takes the nearest
  province. Hong Kong, Macao and Taiwan are not covered: points there get empty strings.
* **place**: the nearest GeoNames populated place (``cities500``, 16,048 places in China)
  within ``max_km``.
* **district** (区/县/县级市/旗) and **prefecture** (地级市/自治州/地区/盟): at build time
  GeoNames places were tied to the National Bureau of Statistics division codes by the
  Chinese name of their township (镇/乡/街道: about 10,400 places) or of the county or city
  they are the seat of (about 1,300); at load time an untied place takes the county (or
  prefecture) its three nearest tied places in the same province agree on, the nearest within
  8 km (30 km for the prefecture). A point's district is then the county of the nearest place
  *in the point's province*, if that place is within ``district_km``; its prefecture is that
  county's prefecture, or the place's own within ``max_km``.

  Limits, stated plainly: districts are the Voronoi cells of their towns, not surveyed
  boundaries, so within a few km of a boundary the answer can be the neighbour. About 780 of
  the 2,843 county-level units have no tied place at all (mostly small inner-city districts,
  e.g. Guangzhou's Yuexiu and Haizhu, Xiamen's Siming) and are never returned. City-centre
  places tied only to their prefecture (Putian, Xiamen, Guangzhou...) give no district, so
  the centres of big cities get the prefecture and an empty district rather than a guess.
  Municipalities (Beijing, Tianjin, Shanghai, Chongqing) are their own prefecture; county-level
  units directly under a province (Xiantao, Jiyuan, Shihezi...) have an empty prefecture.

>>> jurisdiction(25.44, 119.01)["place"]
'Putian'
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pv
import shapely

from workbench.coords import EARTH_RADIUS_M

if TYPE_CHECKING:  # imported where a tree is made: scipy.spatial takes 0.15 s to import
    from scipy.spatial import cKDTree

__all__ = ["ATTRIBUTION", "Jurisdiction", "divisions", "jurisdiction", "jurisdictions"]

ATTRIBUTION = (
    "Contains data from GeoNames (geonames.org), licensed under CC BY 4.0. "
    "Province boundaries: Natural Earth (public domain). "
    "Division names and codes: National Bureau of Statistics of China."
)
_DATA = Path(__file__).parent / "data"
_EARTH_RADIUS_KM = EARTH_RADIUS_M / 1000
_NEIGHBOURS = 4  # nearest places examined per point to find one in the point's province
_INFER_COUNTY_KM = 8.0
_INFER_PREFECTURE_KM = 30.0


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def _chord_to_km(chord: np.ndarray) -> np.ndarray:
    return 2 * _EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, float) / 2, 0, 1))


@lru_cache(maxsize=1)
def divisions() -> pd.DataFrame:
    """Provinces (level 1), prefectures (2) and counties (3), indexed by their GB code.

    Columns: parent, level, name_zh, stem_zh, kind, name_en, lat, lon (the seat, else the
    median of the unit's towns; NaN where neither is known), coord (how the point was found),
    province (GB code of the province), prefecture (GB code, '' above or outside one).
    """
    div = pd.read_csv(
        _DATA / "cn_divisions.csv",
        dtype={"code": str, "parent": str, "stem_zh": str, "kind": str, "coord": str},
        keep_default_na=False,
        na_values={"lat": [""], "lon": [""], "geonameid": [""]},
    ).set_index("code")
    parent = div["parent"].to_dict()
    level = div["level"].to_dict()

    def up(code: str, to: int) -> str:
        while code and level.get(code, 0) > to:
            code = parent.get(code, "")
        return code if level.get(code, 0) == to else ""

    div["province"] = [up(c, 1) for c in div.index]
    div["prefecture"] = [up(c, 2) for c in div.index]
    return div


@dataclass(frozen=True)
class _Gazetteer:
    places: pd.DataFrame  # + county, prefecture (GB codes, tied or inferred), province names
    tree: cKDTree
    # per place: province row (in ``prov_*``), county and prefecture rows (in ``div_*``);
    # -1 is "none" and picks the empty string appended at the end of each name array
    place_prov: np.ndarray
    place_county: np.ndarray
    place_pref: np.ndarray
    place_en: np.ndarray
    place_zh: np.ndarray
    div_pref: np.ndarray
    div_en: np.ndarray
    div_zh: np.ndarray
    prov_en: np.ndarray
    prov_zh: np.ndarray
    polygons: list[shapely.Geometry]
    bounds: np.ndarray  # (n, 4) minx, miny, maxx, maxy of each polygon
    polygon_prov: np.ndarray


def _township_parents(codes: np.ndarray) -> np.ndarray:
    """The county (or prefecture) each township code in ``codes`` belongs to, '' when the
    code is not a known township. Read with Arrow, looked up without a Python loop: the
    gazetteer loads on the site finder's path."""
    towns = pv.read_csv(
        _DATA / "cn_townships.csv.gz",
        convert_options=pv.ConvertOptions(
            include_columns=["code", "parent"],
            column_types={"code": pa.string(), "parent": pa.string()},
        ),
    )
    known = pd.Index(towns.column("code").to_numpy(zero_copy_only=False))
    parents = np.append(towns.column("parent").to_numpy(zero_copy_only=False), "")
    return parents[known.get_indexer(pd.Index(codes, dtype=object))].astype(str)


def _infer(codes: np.ndarray, admin1: np.ndarray, xyz: np.ndarray, within_km: float) -> np.ndarray:
    """``codes`` filled in for untied places ('') whose three nearest tied places in the same
    province agree on one code, the nearest of them within ``within_km``."""
    codes = codes.copy()
    tied = np.flatnonzero(codes != "")
    todo = np.flatnonzero(codes == "")
    if len(tied) < 3 or not len(todo):
        return codes
    from scipy.spatial import cKDTree

    chord, idx = cKDTree(xyz[tied]).query(xyz[todo], k=3)
    rows = tied[idx]
    cand = codes[rows]
    agree = (
        (cand == cand[:, :1]).all(axis=1)
        & (admin1[rows] == admin1[todo][:, None]).all(axis=1)
        & (_chord_to_km(chord[:, 0]) <= within_km)
    )
    codes[todo[agree]] = cand[agree, 0]
    return codes


def _rows(codes: np.ndarray, index: pd.Index) -> np.ndarray:
    """Row of each code in ``index``; -1 for '' or unknown codes."""
    return np.asarray(index.get_indexer(pd.Index(codes.astype(object))), dtype=np.intp)


def _with_blank(values: pd.Series) -> np.ndarray:
    return np.append(values.fillna("").to_numpy(dtype=object), "")


def load_ahead() -> None:
    """Build the gazetteer's index on a background thread and return at once (0.3 s); the
    first lookup waits for it then rather than building it again."""
    threading.Thread(target=_gazetteer, name="gazetteer", daemon=True).start()


def _gazetteer() -> _Gazetteer:
    """The gazetteer's index, built once (a caller meanwhile waits for it)."""
    with _building:
        return _built()


_building = threading.Lock()


@lru_cache(maxsize=1)
def _built() -> _Gazetteer:
    from scipy.spatial import cKDTree

    places = pd.read_csv(
        _DATA / "gazetteer_cn.csv",
        dtype={"admin1": str, "name_zh": str, "division": str},
        keep_default_na=False,
        na_values={"population": [""]},
    )
    provinces = pd.read_csv(_DATA / "cn_provinces.csv", dtype=str).set_index("admin1")
    div = divisions()
    division = places["division"].to_numpy(dtype=object).astype(str)
    admin1 = places["admin1"].to_numpy(dtype=object).astype(str)
    unit = np.where(np.char.str_len(division) == 9, _township_parents(division), division)
    level = div["level"].reindex(unit).fillna(0).to_numpy(int)
    xyz = _unit_vectors(places["lat"].to_numpy(float), places["lon"].to_numpy(float))
    # city centres (tied to a prefecture only) get no district from their neighbours:
    # districts are small there and their towns often missing, so it would be a guess
    county = _infer(np.where(level == 3, unit, ""), admin1, xyz, _INFER_COUNTY_KM)
    county = np.where(np.char.str_len(division) == 4, "", county)
    pref_of = div["prefecture"].reindex(county).fillna("").to_numpy(str)
    own_pref = div["prefecture"].reindex(unit).fillna("").to_numpy(str)
    has_county = county != ""
    pref = np.where(has_county, pref_of, own_pref)
    pref = np.where(has_county, pref_of, _infer(pref, admin1, xyz, _INFER_PREFECTURE_KM))
    raw = json.loads((_DATA / "cn_provinces.geojson").read_text(encoding="utf-8"))
    geoms = list(shapely.from_geojson([json.dumps(f["geometry"]) for f in raw["features"]]))
    shapely.prepare(geoms)
    poly_admin1 = np.array([f["properties"]["admin1"] for f in raw["features"]], dtype=str)
    return _Gazetteer(
        places=places.assign(county=county, prefecture=pref),
        tree=cKDTree(xyz),
        place_prov=_rows(admin1, provinces.index),
        place_county=_rows(county, div.index),
        place_pref=_rows(pref, div.index),
        place_en=_with_blank(places["name"]),
        place_zh=_with_blank(places["name_zh"]),
        div_pref=np.append(_rows(div["prefecture"].to_numpy(str), div.index), -1),
        div_en=_with_blank(div["name_en"]),
        div_zh=_with_blank(div["name_zh"]),
        prov_en=_with_blank(provinces["name"]),
        prov_zh=_with_blank(provinces["name_zh"]),
        polygons=geoms,
        bounds=shapely.bounds(geoms),
        polygon_prov=_rows(poly_admin1, provinces.index),
    )


@dataclass(frozen=True)
class Jurisdiction:
    """Where a point lies: country, province, nearest place, prefecture and district."""

    country: str
    country_zh: str
    province: str
    province_zh: str
    place: str
    place_zh: str
    distance_km: float
    prefecture: str = ""
    prefecture_zh: str = ""
    district: str = ""
    district_zh: str = ""

    def label(self, lang: str = "en") -> str:
        """Human label such as ``Putian, Fujian, China`` or ``中国福建省莆田市荔城区``."""
        if not self.country:
            return "outside the gazetteer" if lang == "en" else "不在地名库范围内"
        if lang.startswith("zh"):
            if self.prefecture_zh or self.district_zh:
                pref = "" if self.prefecture_zh == self.province_zh else self.prefecture_zh
                return f"{self.country_zh}{self.province_zh}{pref}{self.district_zh}"
            return f"{self.country_zh}{self.province_zh}{self.place_zh or self.place}"
        return ", ".join(p for p in (self.place, self.province, self.country) if p)

    def __getitem__(self, key: str) -> str | float:
        value: str | float = getattr(self, key)
        return value


def _province_rows(
    gaz: _Gazetteer, lat: np.ndarray, lon: np.ndarray, near_km: np.ndarray, coast_km: float
) -> np.ndarray:
    """Province row of the polygon holding each point (-1 for none)."""
    out = np.full(len(lat), -1, dtype=np.intp)
    todo = np.isfinite(lat) & np.isfinite(lon)
    for poly, (x0, y0, x1, y1), prov in zip(
        gaz.polygons, gaz.bounds, gaz.polygon_prov, strict=True
    ):
        rows = np.flatnonzero(todo & (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        if len(rows):
            hit = rows[shapely.contains_xy(poly, lon[rows], lat[rows])]
            out[hit] = prov
            todo[hit] = False
    # off the simplified coast or in a sliver between provinces: the nearest within coast_km
    rows = np.flatnonzero(todo & (near_km <= coast_km + 30.0))
    if coast_km <= 0 or not len(rows):
        return out
    best = np.full(len(lat), np.inf)
    pad = coast_km / 111.32 / np.cos(np.radians(np.clip(lat[rows], -80, 80)))  # km -> degrees
    for poly, (x0, y0, x1, y1), prov in zip(
        gaz.polygons, gaz.bounds, gaz.polygon_prov, strict=True
    ):
        sub = rows[
            (lon[rows] >= x0 - pad) & (lon[rows] <= x1 + pad)
            & (lat[rows] >= y0 - pad) & (lat[rows] <= y1 + pad)
        ]  # fmt: skip
        if not len(sub):
            continue
        # degrees scaled as degrees of longitude: never more than the true distance in km
        km = shapely.distance(poly, shapely.points(lon[sub], lat[sub])) * 111.32
        km = km * np.cos(np.radians(lat[sub]))
        better = (km <= coast_km) & (km < best[sub])
        out[sub[better]] = prov
        best[sub[better]] = km[better]
    return out


def jurisdictions(
    lat: np.ndarray,
    lon: np.ndarray,
    *,
    max_km: float = 60.0,
    district_km: float = 15.0,
    coast_km: float = 5.0,
) -> pd.DataFrame:
    """Vectorised look-up: one row per point (WGS-84 degrees).

    Columns: country, country_zh, province, province_zh, place, place_zh, distance_km (to the
    nearest place), prefecture, prefecture_zh, district, district_zh. Points outside China's
    provinces (abroad, at sea, Hong Kong, Macao, Taiwan) or with missing coordinates get empty
    strings; place and prefecture are empty beyond ``max_km`` of the nearest place, district
    beyond ``district_km`` (see the module docstring for the method and its limits).
    """
    gaz = _gazetteer()
    lat_a = np.atleast_1d(np.asarray(lat, dtype=float))
    lon_a = np.atleast_1d(np.asarray(lon, dtype=float))
    n = len(lat_a)
    finite = np.isfinite(lat_a) & np.isfinite(lon_a)
    xyz = _unit_vectors(np.where(finite, lat_a, 0.0), np.where(finite, lon_a, 0.0))
    k = min(_NEIGHBOURS, len(gaz.place_prov))
    chord, idx = gaz.tree.query(xyz, k=k)
    idx = np.asarray(idx).reshape(n, k)
    near_km = np.where(finite[:, None], _chord_to_km(np.asarray(chord).reshape(n, k)), np.nan)
    prov = _province_rows(gaz, lat_a, lon_a, near_km[:, 0], coast_km)
    inside = prov >= 0
    nearest = np.where(inside & (near_km[:, 0] <= max_km), idx[:, 0], -1)

    # the nearest place in the point's own province gives district and prefecture
    same = gaz.place_prov[idx] == prov[:, None]
    col = same.argmax(axis=1)
    own = idx[np.arange(n), col]
    own_km = near_km[np.arange(n), col]
    ok = inside & same.any(axis=1)
    district = np.where(ok & (own_km <= district_km), gaz.place_county[own], -1)
    pref = np.where(ok & (own_km <= max_km), gaz.place_pref[own], -1)
    # a known district decides the prefecture (none for counties under the province)
    pref = np.where(district >= 0, gaz.div_pref[district], pref)
    return pd.DataFrame(
        {
            "country": np.where(inside, "China", ""),
            "country_zh": np.where(inside, "中国", ""),
            "province": gaz.prov_en[prov],
            "province_zh": gaz.prov_zh[prov],
            "place": gaz.place_en[nearest],
            "place_zh": gaz.place_zh[nearest],
            "distance_km": np.round(near_km[:, 0], 2),
            "prefecture": gaz.div_en[pref],
            "prefecture_zh": gaz.div_zh[pref],
            "district": gaz.div_en[district],
            "district_zh": gaz.div_zh[district],
        }
    )


def jurisdiction(
    lat: float,
    lon: float,
    *,
    max_km: float = 60.0,
    district_km: float = 15.0,
    coast_km: float = 5.0,
) -> Jurisdiction:
    """Jurisdiction of one WGS-84 point; see :func:`jurisdictions`."""
    row = jurisdictions(
        np.array([lat]),
        np.array([lon]),
        max_km=max_km,
        district_km=district_km,
        coast_km=coast_km,
    ).iloc[0]
    fields = {k: str(row[k]) for k in Jurisdiction.__dataclass_fields__ if k != "distance_km"}
    return Jurisdiction(**fields, distance_km=float(row["distance_km"]))
