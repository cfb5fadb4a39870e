"""Synthetic histories with known moves: rings that relocate after a raid, rings with
parallel sites, seasonal pauses, and the answer key.

:func:`generate_relocations` writes a year of waybills (48 weeks from Monday 2026-01-05) in
which every workshop pauses over the Spring Festival (17 February 2026) for two to four
weeks, and:

* ``move`` rings: a police raid on the workshop, a takedown of its accounts a few days
  later, and in the week of the raid or up to five weeks later the ring ships again from a
  new workshop (in the same city 4-15 km away, or in another city) under new accounts, some
  of which hold a bank card of the accounts taken down; a stray waybill may still leave the
  old site;
* ``parallel`` rings: two or three workshops at once (one of them may open mid-year while
  the others go on): one operation with several sites, no move;
* ``pause`` rings: one workshop that also stops for three to five weeks in summer and
  resumes at the same place;
* ``steady`` rings; ``closed`` rings (raided, never seen again) and ``new`` rings (opening
  mid-year, tied to nobody): what must not be taken for moves;
* background shops shipping from scattered points, and a logistics park where 40 shops
  (one of them an account of a moving ring) ship all year.

Files: ``sellers.csv``, ``identifiers.csv``, ``shipments.csv``; ``events.csv`` (the raids
and takedowns to record: kind, date, the raided place, the accounts taken down, a note);
``planted.csv``, the answer key, one row per move: ring, from and to places, the raid,
the old site's last and the new site's first week, accounts; ``planted_sites.csv``, every
ring site with its pattern; ``relocations.json``, the arguments, written last.

>>> demo = generate_relocations("moves", seed=7)                        # doctest: +SKIP
>>> pd.read_csv(demo.planted)[["ring", "from_city", "to_city"]]        # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.demo._generate import _check_int
from workbench.demo._identity import IdentityFactory, offset
from workbench.demo._places import CITIES, City
from workbench.errors import InputError

__all__ = ["RelocationDemo", "generate_relocations"]

FIRST_WEEK = np.datetime64("2026-01-05")  # a Monday
N_WEEKS = 48
SPRING_FESTIVAL_WEEK = 6  # the week of 16 February 2026
_PATTERNS = ("move", "parallel", "pause", "steady", "closed", "new")
_FILES = ("sellers.csv", "identifiers.csv", "shipments.csv", "events.csv", "planted.csv",
          "planted_sites.csv")  # fmt: skip
TRUTH_FILE = "relocations.json"
_APART_M = 1_500.0
_METRES_PER_DEGREE = 111_320.0  # a rough metre: enough to keep workshops apart
_HOME_CITIES = ("putian", "guangzhou", "jinjiang", "yiwu", "quanzhou", "shantou", "wenzhou",
                "dongguan", "foshan", "xiamen")  # fmt: skip


@dataclass(frozen=True)
class RelocationDemo:
    """Where :func:`generate_relocations` wrote everything."""

    folder: Path
    sellers: Path
    identifiers: Path
    shipments: Path
    events: Path
    planted: Path
    planted_sites: Path
    truth: Path


@dataclass
class _Site:
    ring: str
    pattern: str
    key: str
    city: City
    lat: float
    lon: float
    weeks: np.ndarray  # the active weeks
    accounts: list[str] = field(default_factory=list)


@dataclass
class _World:
    rng: np.random.Generator
    ids: IdentityFactory
    sites: list[_Site] = field(default_factory=list)
    identifiers: list[tuple[str, str, str]] = field(default_factory=list)
    events: list[dict[str, object]] = field(default_factory=list)
    moves: list[dict[str, object]] = field(default_factory=list)
    strays: list[tuple[int, int]] = field(default_factory=list)  # (site index, week)
    n_accounts: int = 0

    def accounts(self, n: int, city: City, shared: str | None = None) -> list[str]:
        """``n`` new accounts, each with its own phone and device, linked through one
        payment account ``shared`` by all (a fresh one when None)."""
        shared = shared or self.ids.new("payment_account", city)
        out = []
        for _ in range(n):
            self.n_accounts += 1
            seller = f"M{self.n_accounts:05d}"
            for kind in ("phone", "device"):
                value = self.ids.new(kind, city)
                self.identifiers.append((seller, kind, self.ids.render(kind, value)))
            self.identifiers.append((seller, "payment_account", shared))
            out.append(seller)
        return out

    def place(self, lat: float, lon: float, near_m: tuple[float, float]) -> tuple[float, float]:
        """A point ``near_m`` (min, max) metres from (lat, lon), at least ``_APART_M`` from
        every workshop placed so far (two rings never share a compound by chance); a
        crowded city pushes new workshops further out."""
        low, high = near_m
        for attempt in range(1, 10_000):
            if attempt % 50 == 0:
                high *= 1.25
            distance = float(self.rng.uniform(low, high))
            spot = offset(lat, lon, distance, float(self.rng.uniform(0, 2 * math.pi)))
            taken = [(s.lat, s.lon) for s in self.sites]
            if not taken or min(math.dist(spot, t) * _METRES_PER_DEGREE for t in taken) >= _APART_M:
                return spot
        raise InputError("too many workshops to keep them apart; plant fewer rings")

    def site(
        self,
        ring: str,
        pattern: str,
        key: str,
        city: City,
        weeks: np.ndarray,
        at: tuple[float, float] | None = None,
    ) -> _Site:
        """A workshop at ``at``, else 2-8 km from the centre of ``city``."""
        lat, lon = at or self.place(city.lat, city.lon, (2_000, 8_000))
        spot = _Site(ring, pattern, key, city, lat, lon, self._pause(weeks))
        self.sites.append(spot)
        return spot

    def _pause(self, weeks: np.ndarray) -> np.ndarray:
        """The Spring Festival break of two to four weeks, taken by every workshop."""
        length = int(self.rng.integers(2, 5))
        stop = SPRING_FESTIVAL_WEEK + length
        return weeks[(weeks < SPRING_FESTIVAL_WEEK) | (weeks >= stop)]


def _day(week: int, weekday: int = 0) -> str:
    return str(FIRST_WEEK + np.timedelta64(7 * int(week) + int(weekday), "D"))


def _ring_move(w: _World, ring: str, city: City) -> None:
    rng = w.rng
    raid_week = int(rng.integers(14, 31))
    gap = int(rng.integers(0, 6))  # weeks without a workshop
    old = w.site(ring, "move", "a", city, np.arange(0, raid_week))
    old.accounts = w.accounts(int(rng.integers(4, 9)), city)
    far = rng.random() < 0.4
    to_city = CITIES[str(rng.choice([c for c in _HOME_CITIES if c != city.key]))] if far else city
    at = None if far else w.place(old.lat, old.lon, (4_000, 15_000))  # 4-15 km, same city
    new = w.site(ring, "move", "b", to_city, np.arange(raid_week + gap, N_WEEKS), at)
    new.accounts = w.accounts(int(rng.integers(5, 11)), to_city)
    cards = [w.ids.new("bank_card", city) for _ in range(2)]
    for k, seller in enumerate(old.accounts):
        w.identifiers.append((seller, "bank_card", w.ids.render("bank_card", cards[k % 2])))
    n_sharing = int(rng.integers(2, len(new.accounts) + 1))
    for seller in new.accounts[:n_sharing]:  # the new accounts paid with the old cards
        card = cards[int(rng.integers(0, 2))]
        w.identifiers.append((seller, "bank_card", w.ids.render("bank_card", card)))
    raid = _day(raid_week, int(rng.integers(0, 5)))
    takedown = str(np.datetime64(raid) + np.timedelta64(int(rng.integers(2, 6)), "D"))
    w.events += [
        {"ring": ring, "kind": "raid", "date": raid, "lat": old.lat, "lon": old.lon,
         "seller_ids": "", "note": f"police raid on the {city.name_en} workshop ({ring})"},
        {"ring": ring, "kind": "takedown", "date": takedown, "lat": None, "lon": None,
         "seller_ids": ";".join(old.accounts),
         "note": f"{len(old.accounts)} accounts of {ring} taken down after the raid"},
    ]  # fmt: skip
    if rng.random() < 0.5:  # a late return scanned at the old site
        w.strays.append((len(w.sites) - 2, int(rng.integers(raid_week + 3, N_WEEKS))))
    w.moves.append(
        {
            "ring": ring, "from_lat": old.lat, "from_lon": old.lon, "from_city": city.name_en,
            "to_lat": new.lat, "to_lon": new.lon, "to_city": to_city.name_en,
            "raid_date": raid, "takedown_date": takedown,
            "from_last_week": _day(raid_week - 1), "to_first_week": _day(raid_week + gap),
            "n_old_accounts": len(old.accounts), "n_new_accounts": len(new.accounts),
            "n_sharing": n_sharing, "old_accounts": ";".join(old.accounts),
            "new_accounts": ";".join(new.accounts),
        }
    )  # fmt: skip


def _ring(w: _World, ring: str, pattern: str, city: City) -> None:
    rng = w.rng
    if pattern == "move":
        _ring_move(w, ring, city)
        return
    shared = w.ids.new("payment_account", city)
    all_year = np.arange(N_WEEKS)
    if pattern == "parallel":
        n_sites = int(rng.integers(2, 4))
        for k in range(n_sites):
            start = int(rng.integers(16, 26)) if k == n_sites - 1 and rng.random() < 0.5 else 0
            spot = w.site(ring, pattern, "abc"[k], city, all_year[start:])
            spot.accounts = w.accounts(int(rng.integers(3, 7)), city, shared)
        return
    weeks = {
        "pause": None,
        "steady": all_year,
        "closed": np.arange(0, int(rng.integers(14, 31))),
        "new": np.arange(int(rng.integers(15, 36)), N_WEEKS),
    }[pattern]
    if weeks is None:  # a summer break of three to five weeks, then the same place again
        start = int(rng.integers(22, 32))
        weeks = all_year[(all_year < start) | (all_year >= start + int(rng.integers(3, 6)))]
    spot = w.site(ring, pattern, "a", city, weeks)
    spot.accounts = w.accounts(int(rng.integers(4, 9)), city, shared)
    if pattern == "closed":
        raid = _day(int(weeks[-1]) + 1, int(rng.integers(0, 5)))
        w.events.append(
            {"ring": ring, "kind": "raid", "date": raid, "lat": spot.lat, "lon": spot.lon,
             "seller_ids": "", "note": f"police raid on the {city.name_en} workshop ({ring})"}
        )  # fmt: skip


def _waybills(w: _World, weekly: int, n_background: int) -> pd.DataFrame:
    """Every waybill: ring sites week by week, strays, the logistics park, background."""
    rng = w.rng
    parts = []
    for i, spot in enumerate(w.sites):
        counts = rng.poisson(weekly, len(spot.weeks))
        week = np.repeat(spot.weeks, counts)
        strays = [wk for s, wk in w.strays if s == i]
        week = np.concatenate([week, np.asarray(strays, dtype=np.int64)])
        n = len(week)
        points = [offset(spot.lat, spot.lon, 25.0 * k, 1.3 * k) for k in range(3)]
        pick = rng.integers(0, 3, n)
        parts.append(
            pd.DataFrame(
                {
                    "seller_id": np.asarray(spot.accounts)[rng.integers(0, len(spot.accounts), n)],
                    "lat": np.asarray([p[0] for p in points])[pick],
                    "lon": np.asarray([p[1] for p in points])[pick],
                    "week": week,
                }
            )
        )
    park = CITIES["yiwu"]
    park_lat, park_lon = offset(park.lat, park.lon, 3_500.0, 2.0)
    mover = next(s for s in w.sites if s.pattern == "move")
    tenants = [*(f"P{i:04d}" for i in range(39)), mover.accounts[0]]
    n = 40 * N_WEEKS * 3
    parts.append(
        pd.DataFrame(
            {
                "seller_id": np.asarray(tenants)[rng.integers(0, 40, n)],
                "lat": park_lat + rng.choice([0.0, 0.0004], n),
                "lon": park_lon,
                "week": rng.integers(0, N_WEEKS, n),
            }
        )
    )
    shops = [f"B{i:05d}" for i in range(n_background)]
    n = n_background * N_WEEKS
    home = rng.choice(list(CITIES.values()), n_background)  # type: ignore[arg-type]
    owner = rng.integers(0, n_background, n)
    spread = 4_000 / 111_320.0
    parts.append(
        pd.DataFrame(
            {
                "seller_id": np.asarray(shops)[owner],
                "lat": np.asarray([c.lat for c in home])[owner] + rng.normal(0, spread, n),
                "lon": np.asarray([c.lon for c in home])[owner] + rng.normal(0, spread, n),
                "week": rng.integers(0, N_WEEKS, n),
            }
        )
    )
    ships = pd.concat(parts, ignore_index=True)
    days = FIRST_WEEK + (ships["week"].to_numpy() * 7 + rng.integers(0, 7, len(ships))).astype(
        "timedelta64[D]"
    )
    order = np.lexsort((ships["seller_id"].to_numpy(), days))
    ships = ships.iloc[order].reset_index(drop=True)
    return pd.DataFrame(
        {
            "shipment_id": [f"Y{i:08d}" for i in range(len(ships))],
            "seller_id": ships["seller_id"],
            "lat": ships["lat"].round(6),
            "lon": ships["lon"].round(6),
            "shipped_at": np.datetime_as_string(days[order], unit="D"),
            "items": 1,
            "brand": "Nike",
        }
    )


def _plan(rng: np.random.Generator, counts: dict[str, int]) -> list[tuple[str, str, City]]:
    rings = [p for p in _PATTERNS for _ in range(counts[p])]
    rings = [rings[i] for i in rng.permutation(len(rings))]
    homes = [CITIES[str(rng.choice(_HOME_CITIES))] for _ in rings]
    return [(f"ring-{i + 1:02d}", p, c) for i, (p, c) in enumerate(zip(rings, homes, strict=True))]


def generate_relocations(
    folder: str | os.PathLike[str],
    *,
    seed: int = 7,
    n_moves: int = 10,
    n_parallel: int = 4,
    n_pauses: int = 4,
    n_steady: int = 3,
    n_closed: int = 3,
    n_new: int = 3,
    weekly_shipments: int = 40,
    n_background_sellers: int = 200,
) -> RelocationDemo:
    """Write a year of exports with planted moves, parallel sites and pauses, and the key.

    ``n_moves`` ... ``n_new`` rings of each pattern (module docstring); each ring site ships
    ``weekly_shipments`` waybills a week on average. The same seed gives the same files;
    the existing demo (:func:`generate_demo`) is not touched.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     demo = generate_relocations(tmp, n_moves=2, weekly_shipments=10)
    ...     print(len(pd.read_csv(demo.planted)))
    2
    """
    counts = {"move": n_moves, "parallel": n_parallel, "pause": n_pauses, "steady": n_steady,
              "closed": n_closed, "new": n_new}  # fmt: skip
    _check_int("seed", seed, 0)
    for pattern, name in zip(_PATTERNS, ("n_moves", "n_parallel", "n_pauses", "n_steady",
                                         "n_closed", "n_new"), strict=True):  # fmt: skip
        _check_int(name, counts[pattern], 0)
    _check_int("n_moves", n_moves, 1)
    _check_int("weekly_shipments", weekly_shipments, 5)
    _check_int("n_background_sellers", n_background_sellers, 0)
    root = Path(folder)
    _prepare(root)
    rng = np.random.default_rng([seed, 4242])
    world = _World(rng, IdentityFactory(rng))
    for ring, pattern, city in _plan(rng, counts):
        _ring(world, ring, pattern, city)
    ships = _waybills(world, weekly_shipments, n_background_sellers)
    sellers = sorted(set(ships["seller_id"]) | {s for s, _, _ in world.identifiers})
    paths = {name: root / name for name in _FILES}
    frames = {
        "sellers.csv": pd.DataFrame({"seller_id": sellers, "platform": "Taobao"}),
        "identifiers.csv": pd.DataFrame(world.identifiers, columns=["seller_id", "kind", "value"]),
        "shipments.csv": ships,
        "events.csv": pd.DataFrame(world.events),
        "planted.csv": pd.DataFrame(world.moves),
        "planted_sites.csv": pd.DataFrame(
            [(s.ring, s.pattern, s.key, s.city.name_en, s.lat, s.lon, _day(s.weeks[0]),
              _day(s.weeks[-1]), ";".join(s.accounts)) for s in world.sites],
            columns=["ring", "pattern", "site", "city", "lat", "lon", "first_week",
                     "last_week", "accounts"],
        ),
    }  # fmt: skip
    for name, frame in frames.items():
        frame.to_csv(paths[name], index=False, encoding="utf-8", lineterminator="\n")
    truth = {
        "seed": seed, **{f"n_{p}": n for p, n in counts.items()},
        "weekly_shipments": weekly_shipments, "n_background_sellers": n_background_sellers,
        "first_week": str(FIRST_WEEK), "n_weeks": N_WEEKS, "n_waybills": len(ships),
    }  # fmt: skip
    (root / TRUTH_FILE).write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return RelocationDemo(
        folder=root, sellers=paths["sellers.csv"], identifiers=paths["identifiers.csv"],
        shipments=paths["shipments.csv"], events=paths["events.csv"],
        planted=paths["planted.csv"], planted_sites=paths["planted_sites.csv"],
        truth=root / TRUTH_FILE,
    )  # fmt: skip


def _prepare(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f"folder: expected a directory; {str(root)!r} is a file.")
    if root.is_dir() and any(root.iterdir()) and not (root / TRUTH_FILE).is_file():
        raise InputError(
            f"folder: expected an empty folder or one holding an earlier relocations demo "
            f"({TRUTH_FILE}); {str(root)!r} holds other files. Pick a new folder."
        )
    (root / TRUTH_FILE).unlink(missing_ok=True)  # first: an interrupted run is incomplete
    for name in _FILES:
        (root / name).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)
