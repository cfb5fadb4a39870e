"""Known offenders for the demo: an earlier case and a partner platform's data that share
planted identities with the current demo investigation, with the answer key.

:func:`generate_known_offenders` writes, under one folder:

* ``current/``: the demo investigation exactly as :func:`generate_demo` writes it with the
  same arguments (byte for byte: the current demo is never changed);
* ``earlier/fujian-2025/``: the exports of an earlier investigation (a smaller Putian ring,
  the Jinjiang ring, the Yiwu logistics hub, background shops; dated a year earlier), whose
  accounts (``T000001``...) hold some of the current demo's identifiers, written another
  way; ``review_plan`` in the truth file says which of its sites the earlier investigators
  confirmed (Putian), left to work on (Jinjiang) or rejected (the hub):
  :meth:`KnownOffenders.reviews` maps the plan onto the sites of a clustering run;
* ``partner/``: the sellers, identifiers and evidence of a partner platform (Xinghe Mall),
  from which the partner exports its exchange list: four of its accounts confirmed
  counterfeit by test buys hold current identifiers;
* ``exchange.key``: the exchange's shared key (64 hex digits) and ``other-exchange.key``,
  another exchange's key (a list hashed with it matches nothing): demo keys derived from the
  seed, never for a real exchange; the partner's signing keys are made where the list is
  exported (``workbench.init_keys``);
* ``planted.csv``: the answer key, one row per planted match: ``match`` (``identifier`` or
  ``seller``), ``kind``, ``value_norm`` (as linking normalises it), ``this_sellers`` (the
  current accounts holding it, ``;``-separated), ``this_group`` (their ring), how each side
  spells it, ``earlier_group`` and ``earlier_sellers``, ``partner_sellers`` and
  ``on_partner_list``;
* ``decoys.csv``: values placed where they must not match (the hub's hotline on hundreds
  of accounts, a phone one digit off, a weak address, an unconfirmed partner account), each
  with the reason;
* ``known-offenders.json``: the arguments, the folders, the review plan, the chance
  collisions dropped, written last.

>>> known = generate_known_offenders("known", n_shipments=8_000)      # doctest: +SKIP
>>> pd.read_csv(known.planted)[["kind", "this_group", "earlier_group"]]   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.demo._accounts import Population
from workbench.demo._generate import (
    DemoData,
    _by_seller,
    _check_int,
    _evidence,
    _population,
    _sellers,
    _write_shipments,
    generate_demo,
)
from workbench.demo._planting import (
    EARLIER_RINGS,
    PARTNER_PLATFORM,
    Decoy,
    earlier_population,
    partner_population,
    plant,
    plants_frame,
)
from workbench.demo._shipments import draw_shipments
from workbench.errors import InputError

__all__ = ["EARLIER_CASE", "PARTNER", "KnownOffenders", "generate_known_offenders"]

EARLIER_CASE = "fujian-2025"
PARTNER = PARTNER_PLATFORM  # the partner's name: the issuer of its exchange list
TRUTH_FILE = "known-offenders.json"
_FILES = ("planted.csv", "decoys.csv", "exchange.key", "other-exchange.key", TRUTH_FILE)
_TABLES = ("sellers.csv", "identifiers.csv", "shipments.csv", "evidence.csv", "locations.csv")
_YEAR_EARLIER = np.timedelta64(365, "D")
_REVIEW_REACH_M = 300.0  # a planned review goes to the nearest site within its radius + this
_REVIEWS = {  # what the earlier investigators decided, by planted place
    "putian-ring": ("confirmed", "test buys matched the workshop's stock (demo review)"),
    "jinjiang-ring": ("needs-work", "waiting for a second test buy (demo review)"),
    "hub": ("rejected", "a logistics park: many unrelated shops, no workshop (demo review)"),
}


@dataclass(frozen=True)
class KnownOffenders:
    """Where :func:`generate_known_offenders` wrote everything."""

    folder: Path
    current: DemoData
    earlier: Path  # the folder holding the earlier investigation's exports (one subfolder)
    earlier_case: str  # its case name, as cross-references name it
    partner: Path  # the partner platform's exports
    partner_name: str
    shared_key: Path
    other_key: Path
    planted: Path
    decoys: Path
    truth: Path

    @property
    def earlier_exports(self) -> Path:
        """The earlier investigation's export folder."""
        return self.earlier / self.earlier_case

    def reviews(self, sites: pd.DataFrame) -> pd.DataFrame:
        """The earlier investigators' decisions on ``sites`` (a run of the earlier case):
        site_id, status, note, place; each planned place goes to the nearest site whose
        circle reaches it."""
        from workbench.coords import haversine_m

        plan = json.loads(self.truth.read_text(encoding="utf-8"))["review_plan"]
        rows = []
        lat, lon = sites["lat"].to_numpy(float), sites["lon"].to_numpy(float)
        reach = sites["radius_m"].to_numpy(float) + _REVIEW_REACH_M
        for item in plan:
            if not len(sites):
                break
            dist = haversine_m(lat, lon, item["lat"], item["lon"])
            best = int(np.argmin(dist))
            if dist[best] <= reach[best]:
                site = str(sites["site_id"].iloc[best])
                rows.append((site, item["status"], item["note"], item["place"]))
        return pd.DataFrame(rows, columns=["site_id", "status", "note", "place"])


def _prepare(root: Path) -> None:
    if root.exists() and not root.is_dir():
        raise InputError(f"folder: expected a directory; {str(root)!r} is a file.")
    if root.is_dir() and any(root.iterdir()) and not (root / TRUTH_FILE).is_file():
        raise InputError(
            f"folder: expected an empty folder or one holding earlier known-offenders demo "
            f"data ({TRUTH_FILE}); {str(root)!r} holds other files. Pick a new folder."
        )
    (root / TRUTH_FILE).unlink(missing_ok=True)  # first: an interrupted run is incomplete
    for name in _FILES:
        (root / name).unlink(missing_ok=True)
    for sub in (root / "earlier" / EARLIER_CASE, root / "partner"):
        for name in _TABLES:
            (sub / name).unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def _year_earlier(date: str) -> str:
    return str(np.datetime64(date) - _YEAR_EARLIER)


def _date_a_year_earlier(pop: Population, shipments: pa.Table) -> pa.Table:
    """Move the population's dates (registrations, evidence) and its waybills a year back."""
    for s in pop.sellers:
        s.registered_at = _year_earlier(s.registered_at)
    pop.evidence = [(i, b, k, v, _year_earlier(d)) for i, b, k, v, d in pop.evidence]
    frame = shipments.to_pandas()
    days = pd.to_datetime(frame["shipped_at"]).to_numpy().astype("datetime64[D]") - _YEAR_EARLIER
    frame["shipped_at"] = np.datetime_as_string(days, unit="D")
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_tables(pop: Population, folder: Path, shipments: pa.Table | None) -> None:
    """The population's exports into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    frames = {
        "sellers": _sellers(pop),
        "identifiers": _by_seller(pop, pop.identifiers, ["seller_id", "kind", "value"]),
        "evidence": _evidence(pop),
    }
    if pop.locations:
        columns = ["seller_id", "kind", "address", "lat", "lon"]
        frames["locations"] = _by_seller(pop, pop.locations, columns)
    for name, frame in frames.items():
        path = folder / f"{name}.csv"
        frame.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")
    if shipments is not None:
        _write_shipments(shipments, folder / "shipments.csv", "csv")


def _review_plan(pop: Population) -> list[dict[str, Any]]:
    """The earlier decisions, by planted place (workshops of the two rings, the hub)."""
    places = [(str(s["network"]), s) for s in pop.sites] + [("hub", h) for h in pop.hubs]
    return [
        {
            "place": str(place["name"]),
            "group": group,
            "lat": float(place["lat"]),  # type: ignore[arg-type]
            "lon": float(place["lon"]),  # type: ignore[arg-type]
            "status": _REVIEWS[group][0],
            "note": _REVIEWS[group][1],
        }
        for group, place in places
        if group in _REVIEWS
    ]


def _keys(seed: int) -> tuple[str, str]:
    """The exchange's demo key and another exchange's, 32 bytes each as hex, from the seed."""
    rng = np.random.default_rng([seed, 3232])
    return rng.bytes(32).hex(), rng.bytes(32).hex()


def generate_known_offenders(
    folder: str | os.PathLike[str],
    *,
    seed: int = 7,
    n_shipments: int = 60_000,
    n_background_sellers: int = 1_200,
    earlier_shipments: int | None = None,
    earlier_background_sellers: int | None = None,
) -> KnownOffenders:
    """Write the demo, an earlier case's exports and a partner's data that share planted
    identities with it, and the answer key (see the module docstring for the files).

    Parameters
    ----------
    folder : a new or empty folder, or one holding an earlier run of this function.
    seed, n_shipments, n_background_sellers : the current demo's (:func:`generate_demo`).
    earlier_shipments : waybills of the earlier case (default: half the current ones,
        at least 1,000).
    earlier_background_sellers : its background shops (default: half the current ones).

    The same seed gives the same files. The partner's signing keys are not made here:
    they are made where its list is exported.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     known = generate_known_offenders(tmp, n_shipments=2_000, n_background_sellers=40)
    ...     print(known.earlier_case, len(pd.read_csv(known.planted)))
    fujian-2025 8
    """
    _check_int("seed", seed, 0)
    _check_int("n_shipments", n_shipments, 1_000)
    _check_int("n_background_sellers", n_background_sellers, 10)
    n_earlier = max(1_000, n_shipments // 2) if earlier_shipments is None else earlier_shipments
    n_earlier_bg = (
        max(10, n_background_sellers // 2)
        if earlier_background_sellers is None
        else earlier_background_sellers
    )
    _check_int("earlier_shipments", n_earlier, 1_000)
    _check_int("earlier_background_sellers", n_earlier_bg, 10)
    root = Path(folder)
    _prepare(root)
    current = generate_demo(
        root / "current", seed=seed, n_shipments=n_shipments,
        n_background_sellers=n_background_sellers,
    )  # fmt: skip
    earlier = earlier_population(seed, n_earlier_bg)
    partner = partner_population(seed)
    plants, decoys, dropped = plant(
        seed, _population(seed, n_background_sellers, False), earlier, partner
    )
    earlier_folder = root / "earlier" / EARLIER_CASE
    ships = draw_shipments(np.random.default_rng([seed, 2026]), n_earlier, earlier)
    ships = _date_a_year_earlier(earlier, ships)
    _write_tables(earlier, earlier_folder, ships)
    _write_tables(partner, root / "partner", None)
    planted, decoys_path = root / "planted.csv", root / "decoys.csv"
    plants_frame(plants).to_csv(planted, index=False, encoding="utf-8", lineterminator="\n")
    _decoys_frame(decoys).to_csv(decoys_path, index=False, encoding="utf-8", lineterminator="\n")
    key, other = _keys(seed)
    (root / "exchange.key").write_text(key + "\n", encoding="ascii")
    (root / "other-exchange.key").write_text(other + "\n", encoding="ascii")
    truth = {
        "seed": seed,
        "n_shipments": n_shipments,
        "n_background_sellers": n_background_sellers,
        "earlier_shipments": n_earlier,
        "earlier_background_sellers": n_earlier_bg,
        "earlier_case": EARLIER_CASE,
        "earlier_rings": [r.network for r in EARLIER_RINGS],
        "partner": PARTNER,
        "review_plan": _review_plan(earlier),
        "chance_collisions_dropped": dropped,
        "n_planted": len(plants),
        "n_decoys": len(decoys),
    }
    truth_path = root / TRUTH_FILE  # written last: its presence marks a complete run
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return KnownOffenders(
        folder=root, current=current, earlier=root / "earlier", earlier_case=EARLIER_CASE,
        partner=root / "partner", partner_name=PARTNER, shared_key=root / "exchange.key",
        other_key=root / "other-exchange.key", planted=planted, decoys=decoys_path,
        truth=truth_path,
    )  # fmt: skip


def _decoys_frame(decoys: list[Decoy]) -> pd.DataFrame:
    rows = [(d.kind, d.value_norm, d.spelling, d.where, d.why) for d in decoys]
    return pd.DataFrame(rows, columns=["kind", "value_norm", "spelling", "where", "why"])
