"""Offline jurisdiction look-up: which province and city a point lies in or near.

Uses the bundled GeoNames-derived gazetteer of Chinese places (``workbench/data``); nothing
is fetched. Points further than ``max_km`` from every known place get no jurisdiction.

>>> jurisdiction(25.44, 119.01)["place"]
'Putian'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

__all__ = ["ATTRIBUTION", "Jurisdiction", "jurisdiction", "jurisdictions"]

ATTRIBUTION = "Contains data from GeoNames (geonames.org), licensed under CC BY 4.0."
_DATA = Path(__file__).parent / "data"
_EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class _Gazetteer:
    places: pd.DataFrame
    tree: cKDTree


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    places = pd.read_csv(_DATA / "gazetteer_cn.csv", dtype={"admin1": str, "name_zh": str})
    provinces = pd.read_csv(_DATA / "cn_provinces.csv", dtype=str)
    places = places.merge(
        provinces.rename(columns={"name": "province", "name_zh": "province_zh"}),
        on="admin1",
        how="left",
    )
    places["name_zh"] = places["name_zh"].fillna("")
    xyz = _unit_vectors(places["lat"].to_numpy(float), places["lon"].to_numpy(float))
    return _Gazetteer(places.reset_index(drop=True), cKDTree(xyz))


@dataclass(frozen=True)
class Jurisdiction:
    """Where a point lies: country, province and nearest place, in English and Chinese."""

    country: str
    country_zh: str
    province: str
    province_zh: str
    place: str
    place_zh: str
    distance_km: float

    def label(self, lang: str = "en") -> str:
        """Human label such as ``Putian, Fujian, China`` or ``中国福建省莆田``."""
        if not self.country:
            return "outside the gazetteer" if lang == "en" else "不在地名库范围内"
        if lang.startswith("zh"):
            return f"{self.country_zh}{self.province_zh}{self.place_zh or self.place}"
        return ", ".join(p for p in (self.place, self.province, self.country) if p)

    def __getitem__(self, key: str) -> str | float:
        value: str | float = getattr(self, key)
        return value


def jurisdictions(lat: np.ndarray, lon: np.ndarray, *, max_km: float = 60.0) -> pd.DataFrame:
    """Vectorised look-up: one row per point with country, province, place and distance."""
    gaz = _gazetteer()
    lat_a, lon_a = np.asarray(lat, dtype=float), np.asarray(lon, dtype=float)
    chord, idx = gaz.tree.query(_unit_vectors(lat_a, lon_a))
    dist_km = 2 * _EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord) / 2, 0, 1))
    near = gaz.places.iloc[np.asarray(idx)].reset_index(drop=True)
    inside = dist_km <= max_km
    out = pd.DataFrame(
        {
            "country": np.where(inside, "China", ""),
            "country_zh": np.where(inside, "中国", ""),
            "province": np.where(inside, near["province"].fillna(""), ""),
            "province_zh": np.where(inside, near["province_zh"].fillna(""), ""),
            "place": np.where(inside, near["name"], ""),
            "place_zh": np.where(inside, near["name_zh"], ""),
            "distance_km": np.round(dist_km, 2),
        }
    )
    return out


def jurisdiction(lat: float, lon: float, *, max_km: float = 60.0) -> Jurisdiction:
    """Jurisdiction of one WGS-84 point (nearest gazetteer place within ``max_km``)."""
    row = jurisdictions(np.array([lat]), np.array([lon]), max_km=max_km).iloc[0]
    fields = {k: str(row[k]) for k in Jurisdiction.__dataclass_fields__ if k != "distance_km"}
    return Jurisdiction(**fields, distance_km=float(row["distance_km"]))
