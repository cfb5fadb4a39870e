"""Evidence-seeded sites (private to :mod:`workbench.sites._finder`).

The density pass finds places that stand out from their surroundings. A small workshop in a
busy city district does not: its few hundred waybills are a fraction of the district's. What
gives it away is who ships from it. So, besides the density pass, the ship-from points of
each *suspect* operator (a network, or an account linked to nobody, with a counterfeit
verdict) are clustered on their own, with the same radius and the same local rule applied to
that operator's points alone: a workshop stands out against the operator's own pick-ups
scattered over the city, whatever the district around it.

Each seeded cluster then either

* **splits** a density site it shares with seeded clusters of other operators, when each
  of them dominates its own points (``DOMINANT_SHARE`` of the waybills there) and they
  share no operator beyond ``SHARED_OPERATORS_MAX`` of either part's waybills: two
  workshops of different rings 400 m apart are two sites, each told the other's id;
* **coincides** with a site (``COINCIDE_SHARE`` of its waybills already in one): that site
  is the one place, found by both passes, and takes the cluster's unassigned points;
* or is a **new site** on its points that no site holds yet.

Everything is decided on unique points in (lat, lon) order and operators in name order, so
the result never depends on the order of the rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from workbench.coords import haversine_m
from workbench.sites import _waybills as _site_waybills
from workbench.sites._density import background_weight, dbscan
from workbench.sites._waybills import Waybills, each, frozen, kernels, row_shares

COINCIDE_SHARE = 0.5  # of a seeded cluster's waybills already in one site: the same place
DOMINANT_SHARE = 0.5  # of the waybills at a seeded cluster's points, for it to split a site
SHARED_OPERATORS_MAX = 0.1  # share of a part's waybills sent by operators of the other part
_NEAREST_POINTS = 256  # heaviest points of a part that the rest of a split site is matched to

FOUND_BY_DENSITY, FOUND_BY_EVIDENCE, FOUND_BY_BOTH = "density", "evidence", "density+evidence"


@dataclass(frozen=True)
class SuspectPoints:
    """The unique points of each suspect operator and its waybills there, grouped by
    operator in name order (``start``: group bounds). ``around`` caches, per group, the
    operator's own waybills within the context radius of each of its points (the same at
    every clustering radius)."""

    operator: np.ndarray  # operator code per group
    point: np.ndarray
    weight: np.ndarray
    start: np.ndarray
    around: dict[int, np.ndarray] = field(default_factory=dict)

    def only(self, operators: set[int]) -> SuspectPoints:
        """The groups of ``operators`` only (their cached surroundings kept)."""
        keep = [g for g, op in enumerate(self.operator.tolist()) if op in operators]
        spans = [np.arange(self.start[g], self.start[g + 1]) for g in keep]
        rows = np.concatenate(spans) if spans else np.empty(0, dtype=np.int64)
        sizes = [len(span) for span in spans]
        return SuspectPoints(
            self.operator[keep],
            self.point[rows],
            self.weight[rows],
            np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            {j: self.around[g] for j, g in enumerate(keep) if g in self.around},
        )


@dataclass
class Seeded:
    """Point labels after the seeded pass; per label how it was found and its split group
    (-1 when not split; labels split from one density site share a group)."""

    label: np.ndarray
    found_by: list[str]
    split_group: np.ndarray
    decisive: set[int] = field(default_factory=set)  # operators that made or split a site


@dataclass(frozen=True)
class _Cluster:
    operator: int
    point: np.ndarray  # unique point indices, ascending
    weight: np.ndarray  # the operator's waybills at each


def suspect_points(ways: Waybills, suspect: np.ndarray) -> SuspectPoints:
    """Points and waybills of the operators flagged in ``suspect`` (per operator code)."""
    # operators in name order (a network before a lone account of the same name)
    codes = np.flatnonzero(suspect)
    codes = np.array(
        sorted(
            codes.tolist(),
            key=lambda k: (str(ways.operator_names[k]), not ways.operator_is_network[k]),
        ),
        dtype=np.int64,
    )
    rank_of = np.full(len(suspect), -1, dtype=np.int64)
    rank_of[codes] = np.arange(len(codes))
    rank_of_seller = rank_of[ways.operator_of_seller]
    width = max(int(ways.point.max(initial=-1)) + 1, 1)
    keys, counts = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    if len(codes):  # one pass over the rows, their few distinct pairs in a hash table:
        # no operators x points array, no sort of the suspect operators' rows (at 10M
        # waybills 64 operators x 690,000 points). The seller stands in for the point and
        # its operator's rank for the point's label, so the keys are rank * width + point.
        # Consecutive shares of the rows on threads, their pairs added up after
        table, none = frozen(np.arange(width, dtype=np.int64)), frozen(np.empty(0))
        n = len(ways.seller)
        parallel = n >= _site_waybills.PARALLEL_MIN_WAYBILLS
        shares = row_shares(n, _site_waybills.threads() if parallel else 1)
        found = each(
            kernels().pair_counts,
            [
                (
                    frozen(ways.seller[lo:hi]),
                    frozen(rank_of_seller),
                    frozen(ways.point[lo:hi]),
                    table,
                    width,
                    none,
                )
                for lo, hi in shares
            ],
        )
        keys, inverse = np.unique(np.concatenate([k for k, _, _ in found]), return_inverse=True)
        counts = np.bincount(inverse, np.concatenate([c for _, c, _ in found]))
        counts = counts.astype(np.int64)
    rank, point = keys // width, keys % width
    start = np.concatenate([[0], np.flatnonzero(np.diff(rank)) + 1, [len(keys)]]).astype(np.int64)
    operator = codes[rank[start[:-1]]] if len(keys) else np.empty(0, dtype=np.int64)
    return SuspectPoints(operator, point, counts.astype(float), start)


def seed(
    points: tuple[np.ndarray, np.ndarray, np.ndarray],
    density_label: np.ndarray,
    ways: Waybills,
    suspects: SuspectPoints,
    rule: tuple[float, int, float, float],
) -> Seeded:
    """Add the seeded clusters to the density pass's labels (see the module docstring).

    ``points``: unique (lat, lon, waybills); ``rule``: (radius_m, min_shipments,
    density_factor, context_m), the density pass's rule applied to each operator's points.
    """
    lat, lon, _ = points
    label = density_label.copy()
    n_density = int(label.max(initial=-1)) + 1
    found = [FOUND_BY_DENSITY] * n_density
    groups: list[int] = [-1] * n_density
    clusters = _clusters(lat, lon, suspects, rule)
    taken = _split(points, label, ways, clusters, found, groups)
    decisive = {clusters[k].operator for k in taken}
    for k, cluster in enumerate(clusters):
        if k in taken:
            continue
        held = label[cluster.point]
        inside = held >= 0
        share = cluster.weight[inside].sum() / cluster.weight.sum()
        if share >= COINCIDE_SHARE:
            mass = np.bincount(held[inside], cluster.weight[inside])
            target = int(np.argmax(mass))
            if found[target] == FOUND_BY_DENSITY:
                found[target] = FOUND_BY_BOTH
        else:
            target = len(found)
            found.append(FOUND_BY_EVIDENCE)
            groups.append(-1)
            decisive.add(cluster.operator)
        label[cluster.point[~inside]] = target
    return Seeded(label, found, np.array(groups, dtype=np.int64), decisive)


def _clusters(
    lat: np.ndarray, lon: np.ndarray, suspects: SuspectPoints, rule: tuple[float, int, float, float]
) -> list[_Cluster]:
    """Each suspect operator's points clustered on their own, with the local rule."""
    radius_m, min_shipments, factor, context_m = rule
    out = []
    for g, op in enumerate(suspects.operator.tolist()):
        lo, hi = suspects.start[g], suspects.start[g + 1]
        pts, w = suspects.point[lo:hi], suspects.weight[lo:hi]
        if w.sum() < min_shipments:
            continue
        threshold: np.ndarray | float = float(min_shipments)
        if factor:
            if g not in suspects.around:
                suspects.around[g] = background_weight(lat[pts], lon[pts], w, context_m)
            around = suspects.around[g]
            threshold = np.maximum(threshold, factor * around * (radius_m / context_m) ** 2)
        labels = dbscan(lat[pts], lon[pts], w, radius_m, threshold)
        for c in range(int(labels.max(initial=-1)) + 1):
            mine = labels == c
            if w[mine].sum() >= min_shipments:
                out.append(_Cluster(int(op), pts[mine], w[mine]))
    return out


def _split(
    points: tuple[np.ndarray, np.ndarray, np.ndarray],
    label: np.ndarray,
    ways: Waybills,
    clusters: list[_Cluster],
    found: list[str],
    groups: list[int],
) -> set[int]:
    """Split density sites that seeded clusters of unrelated operators share (in place);
    returns the clusters used."""
    lat, lon, weight = points
    home: dict[int, list[int]] = {}
    for k, cluster in enumerate(clusters):
        held = label[cluster.point]
        inside = held >= 0
        if cluster.weight[inside].sum() < COINCIDE_SHARE * cluster.weight.sum():
            continue
        if cluster.weight.sum() < DOMINANT_SHARE * weight[cluster.point].sum():
            continue  # the operator does not dominate its points: e.g. a ring at a hub
        site = int(np.argmax(np.bincount(held[inside], cluster.weight[inside])))
        home.setdefault(site, []).append(k)
    taken: set[int] = set()
    for site in sorted(home):
        parts = _one_per_operator(clusters, home[site])
        if len(parts) < 2 or not _unrelated(ways, [clusters[k] for k in parts], len(lat)):
            continue
        members = np.flatnonzero(label == site)
        distance = np.full((len(parts), len(members)), np.inf)
        for j, k in enumerate(parts):
            pts = clusters[k].point
            pts = pts[np.argsort(-clusters[k].weight, kind="stable")[:_NEAREST_POINTS]]
            for p in pts:
                np.minimum(
                    distance[j],
                    haversine_m(lat[p], lon[p], lat[members], lon[members]),
                    out=distance[j],
                )
        nearest = np.argmin(distance, axis=0)
        own = []  # each part's own points: in this site or in none
        for k in parts:
            pts = clusters[k].point
            own.append(pts[(label[pts] == site) | (label[pts] < 0)])
        group = max(groups, default=-1) + 1
        for j in range(len(parts)):
            target = site if j == 0 else len(found)
            if j:
                found.append(FOUND_BY_BOTH)
                groups.append(group)
            label[members[nearest == j]] = target
        for j in range(len(parts)):
            label[own[j]] = site if j == 0 else len(found) - len(parts) + j
        found[site], groups[site] = FOUND_BY_BOTH, group
        taken.update(parts)
    return taken


def _one_per_operator(clusters: list[_Cluster], ks: list[int]) -> list[int]:
    """The heaviest cluster of each operator among ``ks``, in operator order."""
    best: dict[int, int] = {}
    for k in ks:
        op = clusters[k].operator
        if op not in best or clusters[k].weight.sum() > clusters[best[op]].weight.sum():
            best[op] = k
    return sorted(best.values(), key=ks.index)


def _unrelated(ways: Waybills, parts: list[_Cluster], n_points: int) -> bool:
    """True when the parts' points are disjoint and no operator sends more than
    ``SHARED_OPERATORS_MAX`` of a part's waybills while also shipping from another part."""
    mark = np.full(n_points + 1, -1, dtype=np.int64)  # index -1 (no point): unmarked
    for j, part in enumerate(parts):
        if (mark[part.point] >= 0).any():
            return False
        mark[part.point] = j
    part_of_row = mark[ways.point]
    rows = np.flatnonzero(part_of_row >= 0)
    seller = ways.seller[rows]
    op = np.where(seller >= 0, ways.operator_of_seller[seller], -1)
    part = part_of_row[rows]
    for j in range(len(parts)):
        mine = part == j
        total = mine.sum()
        ops_here = np.unique(op[mine & (op >= 0)])
        for other in range(len(parts)):
            if other == j:
                continue
            theirs = part == other
            shared = np.isin(op, ops_here) & theirs
            if shared.sum() > SHARED_OPERATORS_MAX * theirs.sum():
                return False
        if total == 0:
            return False
    return True
