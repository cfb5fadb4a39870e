"""Production sites: cluster ship-from points into candidate workshops and rank them.

Identical coordinates collapse to one weighted point before clustering, which gives exactly
the result of clustering every waybill (DBSCAN's ``sample_weight`` counts a point as that
many repeats) at a fraction of the cost.

The score (0-100) is a weighted sum of four parts, each between 0 and 1:

* ``evidence`` (40%): for each operator (a network, or an account linked to nobody) the
  ratio ``counterfeit / (counterfeit + genuine + 1)`` of verdicts against all its accounts,
  averaged over the site weighted by the operator's share of the site's waybills; a ring
  that sends a few parcels through a busy depot lends the depot little of its evidence;
* ``concentration`` (25%): few operators behind many accounts, ``1 - operators / sellers``
  where an operator is a network, or an account linked to nobody;
* ``brand_focus`` (20%): share of the site's waybills claiming a brand that has a
  counterfeit verdict anywhere in the case;
* ``contrast`` (15%): the site's share of all waybills within ``context_m`` of its medoid,
  so a workshop stands out from its surroundings.

A site with at least ``hub_min_operators`` independent operators and concentration below
0.5 is labelled ``hub`` (a logistics park or express depot): shown, but ranked low. Any
other site whose evidence part reaches ``WORKSHOP_EVIDENCE`` is labelled ``workshop``, the
rest ``mixed`` (dense, without enough evidence either way).

>>> finder = SiteFinder(radius_m=300).fit(shipments)     # doctest: +SKIP
>>> finder.sites_[["site_id", "score", "label", "place"]]  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from sklearn.cluster import DBSCAN
from sklearn.neighbors import BallTree

from workbench._site_geometry import (
    EARTH_RADIUS_M,
    haversine_m,
    hull_polygon,
    weighted_medoid,
    weighted_quantile,
)
from workbench.errors import InputError, MissingColumnsError
from workbench.gazetteer import jurisdictions

__all__ = ["SCORE_WEIGHTS", "SiteFinder", "find_sites"]

SCORE_WEIGHTS = {"evidence": 0.40, "concentration": 0.25, "brand_focus": 0.20, "contrast": 0.15}
PRECISE_ENOUGH = ("exact", "street")
WORKSHOP_EVIDENCE = 0.25


class SiteFinder:
    """Find candidate production sites in ship-from points (scikit-learn estimator contract).

    Parameters
    ----------
    radius_m : neighbourhood radius of the density clustering, in metres
    min_shipments : waybills needed within ``radius_m`` for a point to seed a site
    min_sellers : sites with fewer distinct sellers are dropped
    hub_min_operators : independent operators from which a diffuse site counts as a hub
    context_m : radius of the surroundings the site is contrasted with
    coverage : share of a site's waybills its reported radius must hold
    """

    def __init__(
        self,
        radius_m: float = 300.0,
        *,
        min_shipments: int = 50,
        min_sellers: int = 2,
        hub_min_operators: int = 40,
        context_m: float = 2_000.0,
        coverage: float = 0.9,
    ) -> None:
        self.radius_m = radius_m
        self.min_shipments = min_shipments
        self.min_sellers = min_sellers
        self.hub_min_operators = hub_min_operators
        self.context_m = context_m
        self.coverage = coverage

    def get_params(self) -> dict[str, Any]:
        return {
            k: getattr(self, k)
            for k in (
                "radius_m",
                "min_shipments",
                "min_sellers",
                "hub_min_operators",
                "context_m",
                "coverage",
            )
        }

    def _validate(self, shipments: pd.DataFrame) -> None:
        missing = [c for c in ("seller_id", "lat", "lon") if c not in shipments.columns]
        if missing:
            raise MissingColumnsError("shipments", missing, list(shipments.columns))
        if not 0 < self.radius_m <= 50_000:
            raise InputError(f"radius_m must be in (0, 50000] metres, got {self.radius_m!r}")
        if self.min_shipments < 1 or self.min_sellers < 1:
            raise InputError(
                f"min_shipments and min_sellers must be >= 1, got {self.min_shipments} and "
                f"{self.min_sellers}"
            )
        if not 0 < self.coverage <= 1:
            raise InputError(f"coverage must be in (0, 1], got {self.coverage!r}")

    def fit(
        self,
        shipments: pd.DataFrame,
        *,
        networks: pd.DataFrame | None = None,
        evidence: pd.DataFrame | None = None,
    ) -> SiteFinder:
        """Cluster ``shipments`` and score the sites; sets ``labels_``, ``sites_``, ``run_id_``."""
        self._validate(shipments)
        usable = shipments["lat"].notna() & shipments["lon"].notna()
        if "precision" in shipments.columns:
            usable &= shipments["precision"].isin(PRECISE_ENOUGH)
        self.n_excluded_ = int((~usable).sum())
        ships = shipments.loc[usable].reset_index(drop=True)
        codes, points = _collapse(ships)
        self.run_id_ = _run_id(self.get_params(), points)
        point_label = self._cluster(points)
        labels = point_label[codes] if len(codes) else np.array([], dtype=int)
        labels = _drop_small(labels, ships["seller_id"].to_numpy(), self.min_sellers)
        point_label = _relabel_points(point_label, codes, labels)
        operators = _operators(ships, networks)
        sites = self._describe(ships, labels, points, point_label, operators, evidence)
        # renumber so that labels_ == k means the site in row k of sites_ (-1: no site)
        remap = np.full(int(labels.max(initial=-1)) + 2, -1)
        remap[sites["cluster"].to_numpy(dtype=int)] = np.arange(len(sites))
        labels = np.where(labels >= 0, remap[labels], -1)
        self.labels_ = np.full(len(shipments), -1, dtype=int)
        self.labels_[np.flatnonzero(usable.to_numpy())] = labels
        self.sites_ = sites.drop(columns="cluster")
        self.activity_ = _weekly_activity(ships, labels, self.sites_)
        return self

    def _cluster(self, points: pd.DataFrame) -> np.ndarray:
        if points.empty:
            return np.array([], dtype=int)
        model = DBSCAN(
            eps=self.radius_m / EARTH_RADIUS_M,
            min_samples=self.min_shipments,
            metric="haversine",
            algorithm="ball_tree",
        )
        coords = np.radians(points[["lat", "lon"]].to_numpy())
        labels: np.ndarray = model.fit(coords, sample_weight=points["weight"].to_numpy()).labels_
        return labels

    def _describe(
        self,
        ships: pd.DataFrame,
        labels: np.ndarray,
        points: pd.DataFrame,
        point_label: np.ndarray,
        operators: pd.Series,
        evidence: pd.DataFrame | None,
    ) -> gpd.GeoDataFrame:
        in_site = labels >= 0
        if not in_site.any():
            return _empty_sites()
        rows = [
            self._site_row(
                int(label), ships.loc[in_site & (labels == label)], points[point_label == label]
            )
            for label in np.unique(labels[in_site])
        ]
        sites = pd.DataFrame(rows)
        tree = BallTree(np.radians(points[["lat", "lon"]].to_numpy()), metric="haversine")
        around = tree.query_radius(
            np.radians(sites[["lat", "lon"]].to_numpy()), r=self.context_m / EARTH_RADIUS_M
        )
        weight = points["weight"].to_numpy()
        sites["context_shipments"] = [int(weight[idx].sum()) for idx in around]
        sites = _score(sites, ships, labels, operators, evidence, self.hub_min_operators)
        sites = sites.sort_values(["score", "n_shipments"], ascending=False, ignore_index=True)
        sites.insert(0, "rank", np.arange(1, len(sites) + 1))
        sites.insert(0, "site_id", [f"S{r:03d}" for r in sites["rank"]])
        sites["run_id"] = self.run_id_
        place = jurisdictions(sites["lat"].to_numpy(), sites["lon"].to_numpy())
        sites = pd.concat([sites, place.drop(columns="distance_km")], axis=1)
        geometry = gpd.points_from_xy(sites["lon"], sites["lat"])
        return gpd.GeoDataFrame(sites, geometry=geometry, crs="EPSG:4326")

    def _site_row(self, label: int, site: pd.DataFrame, pts: pd.DataFrame) -> dict[str, Any]:
        lat, lon, w = (pts[c].to_numpy() for c in ("lat", "lon", "weight"))
        m = weighted_medoid(lat, lon, w)
        dist = haversine_m(lat[m], lon[m], lat, lon)
        radius = max(weighted_quantile(dist, w, self.coverage), 1.0)
        brands = site["brand"].value_counts().index.tolist() if "brand" in site.columns else []
        dates = site["shipped_at"] if "shipped_at" in site.columns else pd.Series(dtype="object")
        return {
            "cluster": label,
            "lat": float(lat[m]),
            "lon": float(lon[m]),
            "radius_m": float(np.ceil(radius * 10) / 10),  # round up: never below coverage
            "hull": hull_polygon(lat, lon, (lat[m], lon[m]), radius),
            "n_shipments": len(site),
            "n_points": len(pts),
            "n_sellers": site["seller_id"].nunique(),
            "sellers": sorted(site["seller_id"].astype(str).unique()),
            "brands": brands,
            "value_cny": float(site["value_cny"].sum()) if "value_cny" in site else float("nan"),
            "first_shipped": dates.min() if len(dates) else pd.NaT,
            "last_shipped": dates.max() if len(dates) else pd.NaT,
        }


def find_sites(
    shipments: pd.DataFrame,
    *,
    networks: pd.DataFrame | None = None,
    evidence: pd.DataFrame | None = None,
    radius_m: float = 300.0,
    **params: Any,
) -> gpd.GeoDataFrame:
    """One-line form of :class:`SiteFinder`: returns the ranked sites."""
    finder = SiteFinder(radius_m, **params).fit(shipments, networks=networks, evidence=evidence)
    return finder.sites_


def _collapse(ships: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Unique coordinates with their waybill counts, and each waybill's point index."""
    lat = ships["lat"].to_numpy(dtype=float).round(6)
    lon = ships["lon"].to_numpy(dtype=float).round(6)
    keys = pd.MultiIndex.from_arrays([lat, lon])
    codes, uniques = pd.factorize(keys)
    weight = np.bincount(codes, minlength=len(uniques)).astype(float)
    points = pd.DataFrame(
        {
            "lat": uniques.get_level_values(0).to_numpy(),
            "lon": uniques.get_level_values(1).to_numpy(),
            "weight": weight,
        }
    )
    return codes, points


def _run_id(params: dict[str, Any], points: pd.DataFrame) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    digest.update(np.ascontiguousarray(points.to_numpy()).tobytes())
    return digest.hexdigest()[:12]


def _drop_small(labels: np.ndarray, sellers: np.ndarray, min_sellers: int) -> np.ndarray:
    if min_sellers <= 1 or not (labels >= 0).any():
        return labels
    frame = pd.DataFrame({"label": labels, "seller": sellers})
    counts = frame[frame["label"] >= 0].groupby("label")["seller"].nunique()
    small = counts.index[counts < min_sellers]
    return np.where(np.isin(labels, small), -1, labels)


def _relabel_points(point_label: np.ndarray, codes: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = np.full(len(point_label), -1, dtype=int)
    out[codes] = labels
    return out


def _operators(ships: pd.DataFrame, networks: pd.DataFrame | None) -> pd.Series:
    """Operator of each seller: its network id, or the seller itself when linked to nobody."""
    sellers = pd.Index(ships["seller_id"].astype(str).unique())
    operator = pd.Series(sellers, index=sellers, dtype=object)
    if networks is not None and len(networks):
        net = networks.dropna(subset=["network_id"]).set_index("seller_id")["network_id"]
        known = operator.index.intersection(net.index)
        operator[known] = net[known].astype(str)
    return operator


def _score(
    sites: pd.DataFrame,
    ships: pd.DataFrame,
    labels: np.ndarray,
    operators: pd.Series,
    evidence: pd.DataFrame | None,
    hub_min_operators: int,
) -> pd.DataFrame:
    site_ops = [sorted(set(operators[s])) for s in sites["sellers"]]
    sites["networks"] = [
        [o for o in ops if o not in set(s)]
        for ops, s in zip(site_ops, sites["sellers"], strict=True)
    ]
    sites["n_networks"] = sites["networks"].map(len)
    sites["n_operators"] = [len(o) for o in site_ops]
    counterfeit, genuine, suspect_brands = _evidence_by_operator(evidence, operators)
    sites["n_counterfeit"] = [int(sum(counterfeit.get(o, 0) for o in ops)) for ops in site_ops]
    sites["n_genuine"] = [int(sum(genuine.get(o, 0) for o in ops)) for ops in site_ops]
    parts = pd.DataFrame(index=sites.index)
    parts["evidence"] = (
        _evidence_share(ships, labels, operators, counterfeit, genuine)
        .reindex(sites["cluster"])
        .fillna(0.0)
        .to_numpy()
    )
    parts["concentration"] = 1 - sites["n_operators"] / sites["n_sellers"]
    if "brand" in ships.columns and suspect_brands:
        suspect = ships["brand"].isin(suspect_brands).to_numpy()
        share = pd.Series(suspect[labels >= 0]).groupby(labels[labels >= 0]).mean()
        parts["brand_focus"] = sites["cluster"].map(share).fillna(0.0)
    else:
        parts["brand_focus"] = 0.0
    parts["contrast"] = (sites["n_shipments"] / sites["context_shipments"]).clip(0, 1)
    parts = parts.round(3)
    weights = pd.Series(SCORE_WEIGHTS)
    sites["score"] = (100 * parts[weights.index].mul(weights).sum(axis=1)).round(1)
    sites["score_parts"] = pd.Series(parts.to_dict(orient="records"), index=sites.index)
    hub = (sites["n_operators"] >= hub_min_operators) & (parts["concentration"] < 0.5)
    workshop = ~hub & (parts["evidence"] >= WORKSHOP_EVIDENCE)
    sites["label"] = np.select([hub, workshop], ["hub", "workshop"], default="mixed")
    return sites


def _evidence_share(
    ships: pd.DataFrame,
    labels: np.ndarray,
    operators: pd.Series,
    counterfeit: dict[str, int],
    genuine: dict[str, int],
) -> pd.Series:
    """Per cluster: operators' verdict ratios weighted by their share of its waybills."""
    in_site = labels >= 0
    op = ships.loc[in_site, "seller_id"].astype(str).map(operators).to_numpy()
    cf = pd.Series(counterfeit, dtype=float).reindex(op).fillna(0.0).to_numpy()
    gen = pd.Series(genuine, dtype=float).reindex(op).fillna(0.0).to_numpy()
    return pd.Series(cf / (cf + gen + 1)).groupby(labels[in_site]).mean()


def _evidence_by_operator(
    evidence: pd.DataFrame | None, operators: pd.Series
) -> tuple[dict[str, int], dict[str, int], set[str]]:
    if evidence is None or evidence.empty:
        return {}, {}, set()
    missing = [c for c in ("seller_id", "verdict") if c not in evidence.columns]
    if missing:
        raise MissingColumnsError("evidence", missing, list(evidence.columns))
    ev = evidence.assign(seller_id=evidence["seller_id"].astype(str))
    ev["operator"] = ev["seller_id"].map(operators).fillna(ev["seller_id"])
    counts = ev.groupby(["operator", "verdict"]).size().unstack(fill_value=0)
    counterfeit = {str(k): int(v) for k, v in counts.get("counterfeit", {}).items()}
    genuine = {str(k): int(v) for k, v in counts.get("genuine", {}).items()}
    brands = set()
    if "brand" in ev.columns:
        brands = set(ev.loc[ev["verdict"] == "counterfeit", "brand"].dropna().astype(str))
    return counterfeit, genuine, brands


def _weekly_activity(
    ships: pd.DataFrame, labels: np.ndarray, sites: gpd.GeoDataFrame
) -> pd.DataFrame:
    """Waybills per site and week (weeks start on Monday), for activity charts."""
    if sites.empty or "shipped_at" not in ships.columns:
        return pd.DataFrame({"site_id": [], "week": [], "n_shipments": []})
    in_site = labels >= 0
    frame = pd.DataFrame(
        {
            "site_id": sites["site_id"].to_numpy()[labels[in_site]],
            "week": pd.to_datetime(ships.loc[in_site, "shipped_at"])
            .dt.to_period("W-SUN")
            .dt.start_time,
        }
    )
    return frame.groupby(["site_id", "week"]).size().rename("n_shipments").reset_index()


def _empty_sites() -> gpd.GeoDataFrame:
    columns = [
        "site_id",
        "rank",
        "lat",
        "lon",
        "radius_m",
        "hull",
        "score",
        "label",
        "n_shipments",
        "n_sellers",
        "n_networks",
        "sellers",
        "brands",
        "place",
        "province",
        "cluster",
    ]
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs="EPSG:4326")
