"""The site finder on waybills collapsed share by share where they were read (private to
``sites``; the case's workers read its Parquet parts: :mod:`workbench.case._distributed_input`).

A *share* is a run of waybills in input order (some row groups of one part). Where it is
read, :func:`collapse_share` turns it into what the finder needs of it: its unique usable
points (sorted, with their waybills and the coordinates of their first waybill), the point
of each row, each text column as integer codes into the share's own names (in order of
first appearance) and the declared values. The driver joins the shares in input order
(:class:`Joined`) and :class:`SharedSiteFinder` fits on them. Nothing of a waybill but its
codes and value ever reaches the driver: no text, no coordinates per row, no collapse there.

Why the result is that of :class:`SiteFinder` on all the waybills at once:

* a point's key is its coordinates at 1e-7 degree (:func:`point_keys`, the kernels' key);
  the joined points are the distinct keys, sorted, as :func:`collapse` sorts them; each
  takes the coordinates of the first share holding it, whose first row holding it is the
  first such row of all (shares are in input order); its waybills are whole numbers, whose
  float sum is exact in any order;
* names joined share after share in order of first appearance are the names the
  single-process reader gives (:mod:`workbench.case._site_input`: each row group's names,
  new ones appended), so every code means the same;
* the waybills left out are counted per reason in each share and summed, and listed in the
  order :func:`usable_rows` lists them.

>>> share = collapse_share(pd.DataFrame({
...     "seller_id": pd.Categorical(["A", "B", "A"]), "lat": [30.0, 30.0, 95.0],
...     "lon": [120.0, 120.0, 0.0], "value_cny": [1.0, 2.0, 3.0]}))
>>> share.point.tolist(), share.weight.tolist(), share.excluded
([0, 0, -1], [2.0], {'out_of_range': 1})
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InputError
from workbench.progress import Progress
from workbench.sites._finder import SiteFinder
from workbench.sites._waybills import collapse, floats, usable_rows

__all__ = ["CODED", "Joined", "Share", "SharedSiteFinder", "collapse_share", "point_keys"]

CODED = ("seller_id", "brand", "precision", "shipped_at")  # text (and day) columns as codes
_LON_STEPS = 3_600_000_001  # as the kernels key points (workbench.sites._jit.point_key)
_FIXED_REASONS = ("no_coordinates", "out_of_range")  # listed first, then precision_* by name
_DAY = np.datetime64("1970-01-01", "D")


@dataclass(frozen=True)
class Share:
    """One share of the waybills, collapsed where it was read.

    Per unique usable point (sorted by key): ``key``, ``lat``, ``lon`` (its first row's)
    and ``weight`` (waybills). Per row: ``point`` (-1: left out), ``codes`` of each column
    of :data:`CODED` present (-1: missing) and ``value`` (declared CNY; empty without such
    a column). ``names``: each coded column's values by code (days since 1970-01-01 for
    ``shipped_at``); ``excluded``: waybills left out by reason.
    """

    key: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    weight: np.ndarray
    point: np.ndarray
    codes: dict[str, np.ndarray]
    names: dict[str, list[Hashable]]
    value: np.ndarray | None
    excluded: dict[str, int]

    @property
    def n_rows(self) -> int:
        return len(self.point)

    def points_only(self) -> Share:
        """The share without its rows: what the driver needs before it joins the rows."""
        empty = np.empty(0, dtype=np.int32)
        return Share(
            self.key,
            self.lat,
            self.lon,
            self.weight,
            empty,
            {},
            self.names,
            None,
            self.excluded,
        )


def point_keys(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """One int64 per coordinate pair at 1e-7 degree: :func:`workbench.sites._jit.point_key`
    (the same IEEE operations), for many points at once."""
    la = np.rint((np.asarray(lat, dtype=float) + 90.0) * 1e7).astype(np.int64)
    lo = np.rint((np.asarray(lon, dtype=float) + 180.0) * 1e7).astype(np.int64)
    return la * _LON_STEPS + lo


def collapse_share(frame: pd.DataFrame) -> Share:
    """A share of waybills (``seller_id``, ``lat``, ``lon``, and optionally ``brand``,
    ``precision``, ``shipped_at``, ``value_cny``; text as categoricals or strings, dates as
    dates or categoricals of dates) collapsed into a :class:`Share`."""
    for name in ("seller_id", "lat", "lon"):
        if name not in frame.columns:
            raise InputError(f"collapse_share: the share has no column {name!r}")
    lat, lon = floats(frame["lat"]), floats(frame["lon"])
    usable, excluded = usable_rows(frame, lat, lon)
    plat, plon, weight, point = collapse(lat, lon, usable)
    key = point_keys(plat, plon)
    if len(key) > 1 and not (np.diff(key) > 0).all():  # the kernels' order: never wrong
        raise RuntimeError("collapse_share: the points are not in the order of their keys")
    codes, names = {}, {}
    for name in CODED:
        if name in frame.columns:
            codes[name], names[name] = _coded(frame[name], days=name == "shipped_at")
    value = floats(frame["value_cny"]) if "value_cny" in frame.columns else None
    return Share(key, plat, plon, weight, point, codes, names, value, excluded)


def _coded(values: pd.Series, *, days: bool) -> tuple[np.ndarray, list[Hashable]]:
    """Codes (-1: missing) and the values they stand for, in order of first appearance."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        if days:
            values = pd.Series(pd.to_datetime(values).to_numpy(dtype="datetime64[D]"))
        values = values.astype("category")
        seen = values.cat.codes.to_numpy()
        order = pd.unique(seen[seen >= 0])  # the codes in order of first appearance
        values = values.cat.reorder_categories(list(values.cat.categories.take(order)))
    categories = values.cat.categories
    width = np.int16 if len(categories) < 2**15 else np.int32  # 2 bytes a row to the driver
    codes = np.asarray(values.cat.codes, dtype=width)
    if days:
        as_days = np.asarray(categories, dtype="datetime64[D]") - _DAY
        return codes, [int(d) for d in as_days.astype(np.int64)]
    return codes, list(categories)


class _Names:
    """Names joined share after share (new ones appended in order) and the joined codes of
    every row: int16 while the names fit, as the finder's own codes are (so the frame of
    categoricals uses them as they are), int32 beyond."""

    def __init__(self, n_rows: int) -> None:
        self.index: dict[Hashable, int] = {}
        self.codes = np.empty(n_rows, dtype=np.int16)

    def add(self, names: list[Hashable], codes: np.ndarray, lo: int) -> None:
        """A share's codes (into its ``names``; -1 missing) as joined codes, from row ``lo``."""
        got = [self.index.setdefault(v, len(self.index)) for v in names]
        if len(self.index) > np.iinfo(self.codes.dtype).max:
            self.codes = self.codes.astype(np.int32)
        remap = np.array([*got, -1], dtype=self.codes.dtype)  # code -1 picks the last: -1
        self.codes[lo : lo + len(codes)] = remap[codes]

    def categories(self, days: bool) -> pd.Index:
        names = list(self.index)
        if days:
            found = np.array(names, dtype=np.int64).astype("datetime64[D]")
            return pd.Index(found).astype("datetime64[s]")
        return pd.Index(names, dtype=str if names else object)


@dataclass
class Joined:
    """The shares joined in input order: unique points (sorted), their waybills, the point
    of each row, the coded columns as a frame of categoricals (with ``value_cny``) and the
    waybills left out by reason. Fill it with :meth:`points` (every share's points, in
    order) and then :meth:`rows` (each share's rows, in order)."""

    lat: np.ndarray = field(default_factory=lambda: np.empty(0))
    lon: np.ndarray = field(default_factory=lambda: np.empty(0))
    weight: np.ndarray = field(default_factory=lambda: np.empty(0))
    excluded: dict[str, int] = field(default_factory=dict)
    _key: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _point: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int32))
    _value: np.ndarray | None = None
    _names: dict[str, _Names] = field(default_factory=dict)
    _rows: int = 0

    @classmethod
    def of(cls, shares: Iterable[Share]) -> Joined:
        """All at once, for shares already here."""
        shares = list(shares)
        joined = cls()
        joined.points(shares, sum(s.n_rows for s in shares))
        for share in shares:
            joined.rows(share)
        return joined

    def points(self, shares: list[Share], n_rows: int) -> None:
        """The joined points of ``shares`` (all of them, in input order; rows not needed)
        and room for ``n_rows`` rows."""
        keys = np.concatenate([s.key for s in shares]) if shares else np.empty(0, np.int64)
        self._key, first, where = np.unique(keys, return_index=True, return_inverse=True)
        self.lat = np.concatenate([s.lat for s in shares])[first] if shares else np.empty(0)
        self.lon = np.concatenate([s.lon for s in shares])[first] if shares else np.empty(0)
        weights = np.concatenate([s.weight for s in shares]) if shares else np.empty(0)
        self.weight = np.bincount(where, weights, minlength=len(self._key)).astype(float)
        counts: dict[str, int] = {}
        for share in shares:
            for reason, n in share.excluded.items():
                counts[reason] = counts.get(reason, 0) + n
        fixed = [r for r in _FIXED_REASONS if counts.get(r)]
        levels = sorted(r for r in counts if r not in _FIXED_REASONS and counts[r])
        self.excluded = {r: counts[r] for r in fixed + levels}
        self._point = np.empty(n_rows, dtype=np.int32)
        self._rows = 0

    def rows(self, share: Share) -> None:
        """Add the rows of the next share (after :meth:`points`)."""
        lo, hi = self._rows, self._rows + share.n_rows
        if hi > len(self._point):
            raise RuntimeError(f"Joined.rows: more rows than the {len(self._point)} announced")
        at = np.searchsorted(self._key, share.key).astype(np.int32)
        self._point[lo:hi] = np.append(at, -1)[share.point]  # -1 (left out) picks the -1
        for name, codes in share.codes.items():
            if name not in self._names:
                if lo:
                    raise InputError(f"Joined.rows: column {name!r} missing from a share")
                self._names[name] = _Names(len(self._point))
            self._names[name].add(share.names[name], codes, lo)
        if share.value is not None:
            if self._value is None:
                self._value = np.empty(len(self._point))
            self._value[lo:hi] = share.value
        self._rows = hi

    @property
    def point(self) -> np.ndarray:
        return self._point[: self._rows]

    def frame(self) -> pd.DataFrame:
        """The coded columns per row, as the finder reads them (no coordinates)."""
        n = self._rows
        columns: dict[str, Any] = {}
        for name in CODED:
            if name in self._names:
                names = self._names[name]
                dtype = pd.CategoricalDtype(names.categories(days=name == "shipped_at"))
                columns[name] = pd.Categorical.from_codes(
                    names.codes[:n], dtype=dtype, validate=False
                )
        if self._value is not None:
            columns["value_cny"] = self._value[:n]
        return pd.DataFrame(columns, copy=False)


class SharedSiteFinder(SiteFinder):
    """:class:`SiteFinder` fitted on waybills collapsed where they were read (a
    :class:`Joined`): the same sites, labels, points, activity and run id as ``fit`` on the
    waybills themselves. Parameters as for :class:`SiteFinder`.

    >>> finder = SharedSiteFinder(300).fit_joined(joined, networks=nets)  # doctest: +SKIP
    """

    def fit_joined(
        self,
        joined: Joined,
        *,
        networks: pd.DataFrame | None = None,
        evidence: pd.DataFrame | None = None,
        progress: Progress | None = None,
        client: Any = None,
    ) -> SharedSiteFinder:
        """Cluster the joined waybills and score the sites; returns ``self``. ``client``
        as for :meth:`SiteFinder.fit`."""
        if not isinstance(joined, Joined):
            raise InputError(f"joined: expected a Joined, got {type(joined).__name__}")
        self._joined = joined
        try:
            self.fit(
                joined.frame(),
                networks=networks,
                evidence=evidence,
                progress=progress,
                client=client,
            )
        finally:
            del self._joined  # the input is no fitted state
        return self

    def _validate(self, shipments: pd.DataFrame) -> None:
        if "_joined" not in self.__dict__:  # plain fit on a frame of waybills
            super()._validate(shipments)
            return
        # the parameters; the rows have no coordinates here, their points are joined already
        super()._validate(pd.DataFrame(columns=["seller_id", "lat", "lon"]))
        if "seller_id" not in shipments.columns:
            raise InputError("joined: the shares have no seller_id column")

    def _points(
        self, shipments: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        if "_joined" not in self.__dict__:  # plain fit on a frame of waybills
            return super()._points(shipments)
        joined = self._joined
        self.excluded_ = dict(joined.excluded)
        self.n_excluded_ = int(sum(self.excluded_.values()))
        return joined.lat, joined.lon, joined.weight, joined.point
