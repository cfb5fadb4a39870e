"""Production sites: cluster ship-from points into candidate workshops and rank them.

Identical coordinates collapse to one weighted point before clustering, which gives exactly
the result of clustering every waybill (a weighted point counts as that many repeats) at a
fraction of the cost. Clustering is density-based (DBSCAN on the sphere, exact haversine
distances, :mod:`workbench.sites._density`) with a *local* seed threshold: a point seeds a site
where the waybills within ``radius_m`` reach ``density_factor`` times what its surroundings
(``context_m``) would put there if spread evenly, and at least ``min_shipments``. So a
workshop in a quiet suburb and one in a dense city district are both found, and an evenly
busy district is not one big site. Only points geocoded to ``exact`` or ``street``
precision take part; the rest are counted in ``excluded_``. A second pass clusters the
points of each operator with counterfeit verdicts on their own (:mod:`workbench.sites._seeded`):
it finds a small workshop that never stands out in a dense district, and splits a density
site that two unrelated rings share; ``score_parts["found_by"]`` says which pass found a
site. Each site also says whether it persists at half and twice the radius (``stability``,
``stable``).

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
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from workbench import gazetteer
from workbench.errors import InputError, require_columns
from workbench.gazetteer import jurisdictions
from workbench.progress import Progress, step
from workbench.sites import _describe as describe
from workbench.sites._density import background_weight
from workbench.sites._describe import SCORE_WEIGHTS, WORKSHOP_EVIDENCE
from workbench.sites._distributed import Density
from workbench.sites._seeded import Seeded, SuspectPoints, seed, suspect_points
from workbench.sites._tally import Tally, tally
from workbench.sites._waybills import (
    PRECISE_ENOUGH,
    Waybills,
    collapse,
    floats,
    paused_gc,
    row_labels,
    usable_rows,
    waybills,
)

__all__ = ["PRECISE_ENOUGH", "SCORE_WEIGHTS", "WORKSHOP_EVIDENCE", "SiteFinder", "find_sites"]

STABILITY_FACTORS = (0.5, 2.0)  # radii tried besides the chosen one: 150 and 600 m for 300 m
FIT_STEPS = 8  # the steps SiteFinder.fit reports to a Progress
_kernels_ready = False
_kernels_lock = threading.Lock()  # one loader; the others wait for it
STABLE_SHARE = 0.5  # a site persists at a radius when half its waybills stay in one site there


class SiteFinder:
    """Find candidate production sites in ship-from points (scikit-learn estimator contract).

    Parameters
    ----------
    radius_m : neighbourhood radius of the density clustering, in metres
    min_shipments : waybills needed within ``radius_m`` for a point to seed a site, at least
        (the floor of the local threshold)
    density_factor : a point seeds a site only where the waybills within ``radius_m`` reach
        this many times what the surroundings (``context_m``) would put there if spread
        evenly; 0 switches the local threshold off (plain weighted DBSCAN)
    min_sellers : sites with fewer distinct sellers are dropped
    hub_min_operators : independent operators from which a diffuse site counts as a hub
    context_m : radius of the surroundings, for the local threshold and the contrast part
    coverage : share of a site's waybills its reported radius must hold
    stability : also cluster at half and twice the radius and say which sites persist

    Attributes after ``fit``: ``labels_`` (site row per waybill, -1 for none), ``sites_``,
    ``site_points_`` (the unique points of each site), ``activity_`` (weekly waybills per
    site), ``run_id_``, ``n_excluded_`` and ``excluded_`` (waybills left out, by reason).
    """

    def __init__(
        self,
        radius_m: float = 300.0,
        *,
        min_shipments: int = 20,
        density_factor: float = 4.0,
        min_sellers: int = 2,
        hub_min_operators: int = 40,
        context_m: float = 2_000.0,
        coverage: float = 0.9,
        stability: bool = True,
    ) -> None:
        self.radius_m = radius_m
        self.min_shipments = min_shipments
        self.density_factor = density_factor
        self.min_sellers = min_sellers
        self.hub_min_operators = hub_min_operators
        self.context_m = context_m
        self.coverage = coverage
        self.stability = stability

    _name_places = True  # False only for the toy case that loads the kernels

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters by name, as scikit-learn estimators report them."""
        return {
            k: getattr(self, k)
            for k in (
                "radius_m",
                "min_shipments",
                "density_factor",
                "min_sellers",
                "hub_min_operators",
                "context_m",
                "coverage",
                "stability",
            )
        }

    def set_params(self, **params: Any) -> SiteFinder:
        """Set parameters by name; unknown names are an error."""
        for key, value in params.items():
            if key not in self.get_params():
                raise InputError(f"SiteFinder has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        return f"SiteFinder(radius_m={self.radius_m!r}, min_shipments={self.min_shipments!r})"

    def _validate(self, shipments: pd.DataFrame) -> None:
        require_columns(shipments, "shipments", ("seller_id", "lat", "lon"))
        radius = self.radius_m
        valid = isinstance(radius, int | float) and np.isfinite(radius)
        if not valid or not 0 < radius <= 50_000:
            raise InputError(f"radius_m must be in (0, 50000] metres, got {radius!r}")
        if self.min_shipments < 1 or self.min_sellers < 1:
            raise InputError(
                f"min_shipments and min_sellers must be >= 1, got {self.min_shipments} and "
                f"{self.min_sellers}"
            )
        if not 0 < self.coverage <= 1:
            raise InputError(f"coverage must be in (0, 1], got {self.coverage!r}")
        if self.density_factor < 0 or self.context_m <= self.radius_m:
            raise InputError(
                f"density_factor must be >= 0 and context_m larger than radius_m, got "
                f"{self.density_factor!r} and {self.context_m!r}"
            )

    def fit(
        self,
        shipments: pd.DataFrame,
        y: None = None,
        *,
        networks: pd.DataFrame | None = None,
        evidence: pd.DataFrame | None = None,
        progress: Progress | None = None,
        client: Any = None,
    ) -> SiteFinder:
        """Cluster ``shipments`` and score the sites; returns ``self``.

        ``progress`` (a :class:`workbench.progress.Progress`) is told each of the
        ``FIT_STEPS`` steps as it starts. With ``client`` (a ``distributed.Client``) the
        clustering at each radius runs on its workers, tile by tile, with the same result
        (:mod:`workbench.sites._distributed`).
        """
        self._density = Density(client)
        try:
            with paused_gc():
                return self._fit(shipments, networks, evidence, progress)
        finally:
            del self._density  # the client is no fitted state

    def _fit(
        self,
        shipments: pd.DataFrame,
        networks: pd.DataFrame | None,
        evidence: pd.DataFrame | None,
        progress: Progress | None,
    ) -> SiteFinder:
        self._validate(shipments)
        if progress is not None:
            progress.step("loading the clustering kernels (the first run compiles them, ~30 s)")
            compile_kernels()
        step(progress, "collapsing identical ship-from points")
        lat, lon, weight, point = self._points(shipments)
        self.run_id_ = _run_id(self.get_params(), lat, lon, weight)
        ways = waybills(shipments, point, networks)
        # waybills within context_m of each point: the local threshold and the contrast part
        step(progress, f"density of the surroundings ({self.context_m:g} m)")
        background = background_weight(lat, lon, weight, self.context_m)
        verdicts = _evidence(evidence, ways, networks)
        suspects = suspect_points(ways, verdicts[0] > 0)
        step(progress, f"clustering {len(lat):,} points at {self.radius_m:g} m")
        seeded = self._cluster((lat, lon, weight), self.radius_m, background, ways, suspects)
        with ThreadPoolExecutor(1) as pool:  # the other radii cluster meanwhile
            # there the seeded pass runs again for the operators that made or split a site
            decisive = suspects.only(seeded.decisive)
            other = pool.submit(self._other_radii, (lat, lon, weight), background, ways, decisive)
            step(progress, "counting sellers, networks and verdicts per site")
            counts = tally(ways, seeded.label, len(seeded.found_by), verdicts, weight)
            point_label, counts, keep = _drop_small(
                seeded.label, counts, self.min_sellers, self.min_shipments
            )
            step(progress, "describing and scoring the sites")
            sites = self._describe(
                (lat, lon, weight), background, point_label, ways, counts, verdicts
            )
            found_by = np.asarray(seeded.found_by, dtype=object)[keep]
            for parts, how in zip(sites["score_parts"], found_by, strict=True):
                parts["found_by"] = how
            step(progress, "checking stability at half and twice the radius")
            if self.stability:
                stability, stable = _stability(point_label, other.result(), weight)
                sites["stability"] = pd.Series(stability, index=sites.index, dtype=object)
                sites["stable"] = stable
        step(progress, "ranking and naming the sites")
        rank_of, site_ids = self._rank(sites)
        _name_splits(self.sites_, seeded.split_group[keep], rank_of, site_ids)
        ranked = np.full(len(point_label), -1, dtype=np.int64)  # site row of each point
        ranked[point_label >= 0] = rank_of[point_label[point_label >= 0]]
        self._labels: np.ndarray | tuple[np.ndarray, np.ndarray] = (point, ranked)
        in_site = ranked >= 0
        self.site_points_ = pd.DataFrame(
            {
                "site_id": site_ids[ranked[in_site]],
                "lat": lat[in_site],
                "lon": lon[in_site],
                "n_shipments": weight[in_site].astype(np.int64),
            }
        )
        self.activity_ = describe.weekly(counts, rank_of, site_ids)
        return self

    @property
    def labels_(self) -> np.ndarray:
        """Site row of each waybill (``sites_`` order), -1 for none; made on first use
        from the point of each waybill and the site of each point (a case storing a run
        never needs the 10M-row array)."""
        if "_labels" not in self.__dict__:
            raise AttributeError("labels_ is set by fit; call fit first")
        if isinstance(self._labels, tuple):
            self._labels = row_labels(*self._labels)
        return self._labels

    def _points(
        self, shipments: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unique usable points, their waybills and each row's point (sets ``excluded_``)."""
        lat, lon = floats(shipments["lat"]), floats(shipments["lon"])
        usable, self.excluded_ = usable_rows(shipments, lat, lon)
        self.n_excluded_ = int(sum(self.excluded_.values()))
        return collapse(lat, lon, usable)

    def _describe(
        self,
        points: tuple[np.ndarray, np.ndarray, np.ndarray],
        background: np.ndarray,
        point_label: np.ndarray,
        ways: Waybills,
        counts: Tally,
        verdicts: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> pd.DataFrame:
        """One row per site: geometry, counts and lists, score parts, score and label."""
        n_sites = len(counts.n_shipments)
        geo = describe.geometry(*points, point_label, n_sites, self.coverage)
        table = describe.describe(ways, counts, verdicts)
        table["context_shipments"] = background[geo["medoid"].to_numpy()].round().astype(int)
        table["contrast"] = (table["n_shipments"] / table["context_shipments"]).clip(0, 1)
        scored = describe.score(table, table["n_operators"].to_numpy(), self.hub_min_operators)
        sites = pd.concat([geo.drop(columns="medoid"), table, scored], axis=1)
        sites["n_points"] = np.bincount(point_label[point_label >= 0], minlength=n_sites)
        return sites

    def _rank(self, sites: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Rank the sites, name them and set ``sites_``; returns each site's rank and the
        names in rank order.

        The label comes first (:func:`rank_tier`: workshops, then clusters with some
        evidence, then hubs, then clusters without evidence), then the score, the volume
        and the place: never the input order.
        """
        n_sites = len(sites)
        if n_sites:
            tier = rank_tier(sites["label"], sites["score_parts"])
            keys = (sites["lon"], sites["lat"], -sites["n_shipments"], -sites["score"], tier)
            order = np.lexsort(keys)
        else:
            order = np.array([], dtype=np.int64)
        rank_of = np.empty(n_sites, dtype=np.int64)
        rank_of[order] = np.arange(n_sites)
        sites = sites.iloc[order].reset_index(drop=True)
        site_ids = np.array([f"S{r:03d}" for r in range(1, n_sites + 1)], dtype=object)
        sites.insert(0, "rank", np.arange(1, n_sites + 1))
        sites.insert(0, "site_id", site_ids)
        sites["run_id"] = self.run_id_
        if self._name_places:
            place = jurisdictions(sites["lat"].to_numpy(float), sites["lon"].to_numpy(float))
            sites = pd.concat([sites, place.drop(columns="distance_km")], axis=1)
        self.sites_ = gpd.GeoDataFrame(
            sites, geometry=gpd.points_from_xy(sites["lon"], sites["lat"]), crs="EPSG:4326"
        )
        return rank_of, site_ids

    def _cluster(
        self,
        points: tuple[np.ndarray, np.ndarray, np.ndarray],
        radius_m: float,
        background: np.ndarray,
        ways: Waybills,
        suspects: SuspectPoints,
    ) -> Seeded:
        """Point labels at ``radius_m``: the density pass (seeds need ``density_factor``
        times the even share of their surroundings, ``background``, and at least
        ``min_shipments``), then the evidence-seeded pass (:mod:`workbench.sites._seeded`)."""
        lat, lon, weight = points
        if len(lat) == 0:
            return Seeded(np.array([], dtype=np.int64), [], np.array([], dtype=np.int64))
        threshold: np.ndarray | float = float(self.min_shipments)
        if self.density_factor:
            expected = background * (radius_m / self.context_m) ** 2
            threshold = np.maximum(threshold, self.density_factor * expected)
        density = self._density.dbscan(lat, lon, weight, radius_m, threshold)
        rule = (radius_m, self.min_shipments, self.density_factor, self.context_m)
        return seed(points, density, ways, suspects, rule)

    def _other_radii(
        self,
        points: tuple[np.ndarray, np.ndarray, np.ndarray],
        background: np.ndarray,
        ways: Waybills,
        suspects: SuspectPoints,
    ) -> dict[str, np.ndarray]:
        """Point labels at the radii of the stability check (none without it), by radius."""
        if not self.stability:
            return {}
        return {
            f"{self.radius_m * f:g}": self._cluster(
                points, self.radius_m * f, background, ways, suspects
            ).label
            for f in STABILITY_FACTORS
        }


def _stability(
    point_label: np.ndarray, others: dict[str, np.ndarray], weight: np.ndarray
) -> tuple[list[dict[str, float]], np.ndarray]:
    """Share of each site's waybills that stay together in one site at other radii
    (``others``: point labels by radius), and whether half stay at every radius."""
    n_sites = int(point_label.max(initial=-1)) + 1
    shares: dict[str, np.ndarray] = {}
    inside = point_label >= 0
    for radius, other in others.items():
        both = inside & (other >= 0)
        key = point_label[both].astype(np.int64) * (int(other.max(initial=0)) + 1) + other[both]
        keys, inverse = np.unique(key, return_inverse=True)
        mass = np.bincount(inverse, weight[both])
        best = np.zeros(n_sites)
        np.maximum.at(best, keys // (int(other.max(initial=0)) + 1), mass)
        total = np.bincount(point_label[inside], weight[inside], minlength=n_sites)
        shares[radius] = np.round(best / np.maximum(total, 1), 3)
    records = [{r: float(v[k]) for r, v in shares.items()} for k in range(n_sites)]
    stable = np.all(np.column_stack(list(shares.values())) >= STABLE_SHARE, axis=1)
    return records, stable


def rank_tier(labels: pd.Series, score_parts: pd.Series) -> np.ndarray:
    """The order of labels in the ranking: 0 workshop, 1 a cluster with some evidence,
    2 hub, 3 a cluster without evidence, whatever their scores. A hub never ranks above a
    workshop, and busy legitimate places without evidence come last."""
    evidence = np.array([float((parts or {}).get("evidence", 0.0)) for parts in score_parts])
    label = labels.to_numpy(str)
    return np.select(
        [label == "workshop", label == "hub", evidence > 0], [0, 2, 1], default=3
    ).astype(np.int64)


def find_sites(
    data: pd.DataFrame,
    *,
    networks: pd.DataFrame | None = None,
    evidence: pd.DataFrame | None = None,
    radius_m: float = 300.0,
    client: Any = None,
    **params: Any,
) -> gpd.GeoDataFrame:
    """Ranked sites of a shipments frame (a case finds and stores its own:
    :meth:`Case.find_sites`); ``client`` as for :meth:`SiteFinder.fit`."""
    if not isinstance(data, pd.DataFrame):
        raise InputError(
            f"data: expected a shipments frame, got {type(data).__name__}; for a case, call "
            "case.find_sites(radius_m) and then case.sites(run_id)"
        )
    finder = SiteFinder(radius_m, **params).fit(
        data, networks=networks, evidence=evidence, client=client
    )
    return finder.sites_


def compile_kernels() -> None:
    """Compile the site finder's numba kernels, or load them from numba's cache (once a process).

    A first run on a new install compiles them (20-40 s on 2 cores); :meth:`SiteFinder.fit`
    calls this as its first reported step, so a progress bar says what the wait is. While
    :func:`load_kernels_ahead` is loading them, this waits for it.
    """
    global _kernels_ready
    with _kernels_lock, paused_gc():  # numba's import and loading make many objects
        if not _kernels_ready:
            _fit_toy_case()
            _kernels_ready = True
            # the places of the sites are named last: the gazetteer's index is built on a
            # thread of its own meanwhile, while the fit's kernels leave the interpreter free
            gazetteer.load_ahead()


def load_kernels_ahead() -> None:
    """Start :func:`compile_kernels` on a background thread and return at once: a caller
    with other work first (linking the sellers, reading the waybills) overlaps the ~0.5 s
    of loading the cached kernels with it, and ``fit`` then finds them loaded."""
    if not _kernels_ready:
        threading.Thread(target=compile_kernels, name="site-kernels", daemon=True).start()


def _fit_toy_case() -> None:
    rng = np.random.default_rng(0)
    # a workshop (few accounts, one network), a hub (many unrelated accounts) and scattered
    # background: every kernel of fit runs on it, with the dtypes of a real run
    workshop = (25.4394 + rng.normal(0, 2e-4, 300), 119.0103 + rng.normal(0, 2e-4, 300))
    hub = (29.33 + rng.choice([0.0, 4.5e-4], 600), np.full(600, 120.10))
    scatter = (22.5 + rng.normal(0, 0.05, 100), 114.0 + rng.normal(0, 0.05, 100))
    sellers = [f"R{i % 8}" for i in range(300)] + [f"H{i % 120}" for i in range(600)]
    sellers += [f"B{i % 30}" for i in range(100)]
    ships = pd.DataFrame(
        {
            "shipment_id": [f"W{i}" for i in range(1000)],
            "seller_id": sellers,
            "lat": np.concatenate([workshop[0], hub[0], scatter[0]]),
            "lon": np.concatenate([workshop[1], hub[1], scatter[1]]),
            "shipped_at": pd.Timestamp("2026-03-02") + pd.to_timedelta(np.arange(1000) % 90, "D"),
            "brand": "Nike",
        }
    )
    networks = pd.DataFrame({"seller_id": [f"R{i}" for i in range(8)], "network_id": "N0001"})
    evidence = pd.DataFrame({"seller_id": ["R1"], "verdict": ["counterfeit"], "brand": ["Nike"]})
    toy = SiteFinder(300)
    toy._name_places = False  # no kernel there: the gazetteer is built after, beside the fit
    toy.fit(ships, networks=networks, evidence=evidence)


def _name_splits(
    sites: pd.DataFrame, split_group: np.ndarray, rank_of: np.ndarray, site_ids: np.ndarray
) -> None:
    """Tell each site split from a shared density cluster the ids of the other parts
    (``score_parts["split_with"]``); ``split_group`` is per site before ranking."""
    ranked_group = np.full(len(sites), -1, dtype=np.int64)
    ranked_group[rank_of] = split_group
    for group in np.unique(ranked_group[ranked_group >= 0]):
        members = np.flatnonzero(ranked_group == group)
        if len(members) < 2:
            continue  # the other part was dropped (too few sellers or waybills)
        for k in members:
            others = [str(site_ids[j]) for j in members if j != k]
            sites["score_parts"].iloc[k]["split_with"] = others


def _run_id(params: dict[str, Any], lat: np.ndarray, lon: np.ndarray, weight: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(params, sort_keys=True).encode())
    for array in (lat, lon, weight):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:12]


def _drop_small(
    point_label: np.ndarray, counts: Tally, min_sellers: int, min_shipments: int
) -> tuple[np.ndarray, Tally, np.ndarray]:
    """Drop sites with fewer than ``min_sellers`` sellers or ``min_shipments`` waybills.

    The second rule matters for border points: a seed's neighbours may all be claimed by a
    neighbouring site, leaving it with almost nothing. The rest are renumbered 0..k-1;
    returns the labels, the tallies and the old label of each site kept.
    """
    n_labels = len(counts.n_shipments)
    if n_labels == 0:
        return point_label, counts, np.array([], dtype=np.int64)
    per_site = np.bincount(counts.sellers[0], minlength=n_labels)
    keep = np.flatnonzero((per_site >= min_sellers) & (counts.n_shipments >= min_shipments))
    remap = np.full(n_labels, -1, dtype=np.int64)
    remap[keep] = np.arange(len(keep))
    label = np.where(point_label >= 0, remap[np.maximum(point_label, 0)], -1)
    return label, counts.subset(keep), keep


def _evidence(
    evidence: pd.DataFrame | None, ways: Waybills, networks: pd.DataFrame | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counterfeit and genuine verdicts per operator code; suspect flag per brand code.

    A verdict on any account of a network counts for the network, also when that account
    sent no waybill itself.
    """
    n_ops = len(ways.operator_names)
    counterfeit, genuine = np.zeros(n_ops), np.zeros(n_ops)
    suspect = np.zeros(len(ways.brand_names), dtype=bool)
    if evidence is None or evidence.empty:
        return counterfeit, genuine, suspect
    require_columns(evidence, "evidence", ("seller_id", "verdict"))
    network_of: dict[str, str] = {}
    if networks is not None and len(networks):
        net = networks.dropna(subset=["network_id"])
        network_of = dict(
            zip(net["seller_id"].astype(str), net["network_id"].astype(str), strict=True)
        )
    code = {
        (bool(is_net), str(name)): i
        for i, (is_net, name) in enumerate(
            zip(ways.operator_is_network, ways.operator_names, strict=True)
        )
    }
    for sid, verdict in zip(evidence["seller_id"].astype(str), evidence["verdict"], strict=True):
        net_id = network_of.get(sid)
        op = code.get((True, net_id)) if net_id is not None else code.get((False, sid))
        if op is None:
            continue  # an operator with no waybill in these shipments
        if verdict == "counterfeit":
            counterfeit[op] += 1
        elif verdict == "genuine":
            genuine[op] += 1
    if "brand" in evidence.columns and len(ways.brand_names):
        bad = set(evidence.loc[evidence["verdict"] == "counterfeit", "brand"].dropna().astype(str))
        suspect = np.isin(ways.brand_names.astype(str), list(bad))
    return counterfeit, genuine, suspect
