"""A deterministic demo investigation: platform exports plus the ground truth behind them.

The demo plants seven counterfeit rings, each a group of seller accounts linked through
shared phones, bank cards, ID documents, devices and payment accounts: four large ones with
workshops in real manufacturing places (Putian, Guangzhou Baiyun, Yiwu, Jinjiang), and three
small ones hidden in busy market districts (below). Around them: one dense legitimate
logistics hub in Yiwu whose ~300 sellers share only a courier hotline, and legitimate
background sellers in fifteen other cities. Ring accounts ship most waybills from a few
exact points at their workshop, so identical coordinates repeat, as they do in real exports.

Nearly half the background sellers are small shops in three busy market districts
(Shenzhen Huaqiangbei, Dongguan Humen, Quanzhou Fengze), their stalls and stockrooms spread
evenly within 2.2 km of the centre; each district ships a tenth of the background's
waybills. In each hides a small workshop: a ring of 7-12 accounts with 0.55% of the ring
waybills (about 70 at the default 60,000, 240 at 200,000), whose 2 km surroundings hold
about 30 times its own waybills. It does not stand out by density alone, only through
the network's own points and its evidence.

Files: ``sellers.csv``, ``identifiers.csv``, ``shipments.csv`` (or ``.parquet``),
``evidence.csv``, ``locations.csv`` and ``truth.json``, the answer key: ``sites`` (the
planted workshops, each with its ``network``, ``brands`` and ``dense_district``, true for
the three hidden in a market district), ``hubs``, ``networks`` (every seller id -> its
ring, a two-account ``family-NN`` household, or null), ``infrastructure`` (the hub hotline
as written), ``weak_identifiers`` (city-level addresses unrelated sellers give),
``hostile_names``, and the arguments it was generated with.

The same seed gives byte-identical files. Waybills are drawn with numpy (no loop per
waybill): a million of them take about two seconds in memory.

>>> demo = generate_demo("demo-data", seed=7)                     # doctest: +SKIP
>>> frames = demo_frames(seed=7, n_shipments=5_000)
>>> sorted(frames)
['evidence', 'identifiers', 'locations', 'sellers', 'shipments', 'truth']
>>> len(frames["shipments"])
5000
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from workbench.demo import _places as places
from workbench.demo._accounts import (
    BACKGROUND_VOLUME,
    HUB_VOLUME,
    RING_VOLUME,
    Builder,
    Population,
    name_hostile,
)
from workbench.demo._legit import add_background, add_hub
from workbench.demo._rings import add_ring
from workbench.demo._shipments import draw_shipments, value_text
from workbench.errors import InputError
from workbench.schema import TABLE_NAMES

__all__ = ["DemoData", "demo_frames", "generate_demo"]

FORMATS = ("csv", "parquet")
MIN_SHIPMENTS = 1_000
MIN_BACKGROUND_SELLERS = 10
_DEMO_FILES = (
    "sellers.csv",
    "identifiers.csv",
    "shipments.csv",
    "shipments.parquet",
    "evidence.csv",
    "locations.csv",
    "truth.json",
)


@dataclass(frozen=True)
class DemoData:
    """Where :func:`generate_demo` wrote each export and the ground truth."""

    folder: Path
    sellers: Path
    identifiers: Path
    shipments: Path
    evidence: Path
    locations: Path
    truth: Path


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise InputError(
            f"{name} must be an integer of at least {minimum:,}; received {value!r}. "
            f"Pass {name}={minimum:,} or more."
        )
    return int(value)


def _check_args(seed: object, n_shipments: object, n_background_sellers: object) -> None:
    _check_int("seed", seed, 0)
    _check_int("n_shipments", n_shipments, MIN_SHIPMENTS)
    _check_int("n_background_sellers", n_background_sellers, MIN_BACKGROUND_SELLERS)


def _population(seed: int, n_background_sellers: int, hostile_names: bool) -> Population:
    """Every account of the demo; seller ids are handed out in a shuffled order."""
    rng = np.random.default_rng([seed, 1])
    b = Builder(rng)
    for ring in places.RINGS:
        add_ring(b, ring)
        b.pop.group_volume[ring.network] = RING_VOLUME * ring.volume_share
    add_hub(b)
    b.pop.group_volume["hub"] = HUB_VOLUME
    add_background(b, n_background_sellers)
    b.pop.group_volume["background"] = BACKGROUND_VOLUME
    for s, k in zip(b.pop.sellers, rng.permutation(len(b.pop.sellers)), strict=True):
        s.seller_id = f"S{int(k) + 1:06d}"
    pop = b.pop
    if hostile_names:
        name_hostile(pop)
    return pop


def _sellers(pop: Population) -> pd.DataFrame:
    rows = [
        (s.seller_id, s.name, s.platform, s.registered_address, s.registered_at)
        for s in pop.sellers
    ]
    frame = pd.DataFrame(
        rows, columns=["seller_id", "name", "platform", "registered_address", "registered_at"]
    )
    return frame.sort_values("seller_id", kind="stable", ignore_index=True)


def _by_seller(pop: Population, rows: list[tuple[Any, ...]], columns: list[str]) -> pd.DataFrame:
    ids = [pop.sellers[r[0]].seller_id for r in rows]
    frame = pd.DataFrame([(sid, *r[1:]) for sid, r in zip(ids, rows, strict=True)], columns=columns)
    return frame.sort_values("seller_id", kind="stable", ignore_index=True)


def _evidence(pop: Population) -> pd.DataFrame:
    frame = _by_seller(pop, pop.evidence, ["seller_id", "brand", "kind", "verdict", "date"])
    frame = frame.sort_values(["date", "seller_id"], kind="stable", ignore_index=True)
    frame.insert(0, "evidence_id", [f"E{i + 1:06d}" for i in range(len(frame))])
    platform = {s.seller_id: s.platform for s in pop.sellers}
    digests = []
    for i, row in enumerate(frame.to_dict("records")):
        lab = places.LABS[i % len(places.LABS)]
        text = (
            f"{row['kind']} {row['evidence_id']}: {row['brand']} item from seller "
            f"{row['seller_id']} on {platform[str(row['seller_id'])]}, examined {row['date']} "
            f"by the {lab}; verdict {row['verdict']}."
        )
        digests.append(hashlib.sha256(text.encode("utf-8")).hexdigest())
    frame["file_sha256"] = digests
    return frame


def _truth(pop: Population, seed: int, n_shipments: int, n_background: int) -> dict[str, Any]:
    return {
        "seed": seed,
        "n_shipments": n_shipments,
        "n_background_sellers": n_background,
        "sites": pop.sites,
        "hubs": pop.hubs,
        "networks": {
            s.seller_id: s.network for s in sorted(pop.sellers, key=lambda s: s.seller_id)
        },
        "infrastructure": pop.infrastructure,
        "weak_identifiers": pop.weak_identifiers,
        "hostile_names": pop.hostile_names,
        "defects": {},  # filled by generate_demo(defects=True): reason -> faulty rows
        "repairs": {},  # filled by generate_demo(defects=True): repair -> repaired rows
    }


def _build(
    seed: int, n_shipments: int, n_background_sellers: int, hostile_names: bool
) -> tuple[dict[str, pd.DataFrame], pa.Table, dict[str, Any]]:
    pop = _population(seed, n_background_sellers, hostile_names)
    shipments = draw_shipments(np.random.default_rng([seed, 2]), n_shipments, pop)
    frames = {
        "sellers": _sellers(pop),
        "identifiers": _by_seller(pop, pop.identifiers, ["seller_id", "kind", "value"]),
        "evidence": _evidence(pop),
        "locations": _by_seller(pop, pop.locations, ["seller_id", "kind", "address", "lat", "lon"]),
    }
    return frames, shipments, _truth(pop, seed, n_shipments, n_background_sellers)


def demo_frames(
    *,
    seed: int = 7,
    n_shipments: int = 60_000,
    n_background_sellers: int = 1_200,
    hostile_names: bool = False,
) -> dict[str, pd.DataFrame | dict[str, Any]]:
    """The demo investigation in memory, the same data :func:`generate_demo` writes.

    Returns a dict with the frames ``sellers``, ``identifiers``, ``shipments``, ``evidence``,
    ``locations`` and the ground-truth dict ``truth``.

    >>> frames = demo_frames(seed=1, n_shipments=2_000, n_background_sellers=50)
    >>> frames["truth"]["sites"][0]["city"]
    'Putian'
    """
    _check_args(seed, n_shipments, n_background_sellers)
    frames, shipments, truth = _build(seed, n_shipments, n_background_sellers, hostile_names)
    out: dict[str, pd.DataFrame | dict[str, Any]] = dict(frames)
    out["shipments"] = shipments.to_pandas()
    out["truth"] = truth
    return out


def _prepare_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise InputError(f"folder: expected a directory for the demo; {str(folder)!r} is a file.")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / "truth.json").is_file():
            raise InputError(
                f"folder: expected an empty folder or one holding a previous demo (truth.json); "
                f"{str(folder)!r} holds other files. Pick a new folder or empty this one."
            )
        for name in _DEMO_FILES:  # replace the previous demo, and only its files
            (folder / name).unlink(missing_ok=True)
        for name in ("partner/partner_shipments.csv", "partner/mapping.yaml"):
            (folder / name).unlink(missing_ok=True)
    folder.mkdir(parents=True, exist_ok=True)


def _write_shipments(table: pa.Table, path: Path, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, compression="zstd")
        return
    index = table.schema.get_field_index("value_cny")
    text = table.set_column(index, "value_cny", value_text(table.column("value_cny")))
    with path.open("wb") as out:  # header unquoted, like the pandas-written tables
        out.write((",".join(text.column_names) + "\n").encode("utf-8"))
        pa_csv.write_csv(text, out, pa_csv.WriteOptions(include_header=False, quoting_style="none"))


# Export defects an investigator meets in real waybill files: (outcome, change). An outcome
# is the reason intake quarantines the row with, or the repair it makes.
_DEFECTS: tuple[tuple[str, dict[str, str]], ...] = (
    ("null_island", {"lat": "0", "lon": "0", "origin_address": ""}),
    ("missing_value", {"seller_id": ""}),
    ("duplicate_key", {}),  # a waybill exported twice
    ("unknown_coord_system", {"coord_system": "ED50"}),
    ("bad_date", {"shipped_at": "2026-02-30"}),
    ("bad_coordinate", {"lat": "25,4471", "origin_address": ""}),
)
_REPAIRS = ("swapped_lat_lon", "gcj02_to_wgs84", "geocoded_from_address")


def _append_defects(path: Path, shipments: pa.Table) -> tuple[dict[str, int], dict[str, int]]:
    """Append faulty copies of early waybills; returns counts per quarantine reason and repair.

    Quarantined copies keep their waybill number (the duplicate is rejected either way);
    repaired ones get a new number so they are stored.
    """
    from workbench.coords import wgs84_to_gcj02

    head = shipments.slice(0, len(_DEFECTS) + len(_REPAIRS)).to_pandas().astype(str)
    rows = [
        {**row.to_dict(), **change}
        for (_, change), (_, row) in zip(_DEFECTS, head.iterrows(), strict=False)
    ]
    fixable = head.iloc[len(_DEFECTS) :].to_dict(orient="records")
    swapped, shifted, placeless = (dict(r) for r in fixable)
    swapped["lat"], swapped["lon"] = swapped["lon"], swapped["lat"]
    glat, glon = wgs84_to_gcj02(float(shifted["lat"]), float(shifted["lon"]))
    shifted.update(lat=f"{glat:.6f}", lon=f"{glon:.6f}", coord_system="GCJ-02")
    placeless.update(lat="0", lon="0")
    for k, row in enumerate((swapped, shifted, placeless)):
        row["shipment_id"] = f"{row['shipment_id']}R{k}"
    rows += [swapped, shifted, placeless]
    faulty = pd.DataFrame(rows, columns=head.columns)
    faulty["value_cny"] = [f"{float(v):.2f}" for v in faulty["value_cny"]]
    faulty.to_csv(path, mode="a", header=False, index=False, lineterminator="\n")
    return {reason: 1 for reason, _ in _DEFECTS}, {repair: 1 for repair in _REPAIRS}


# The second export: a logistics partner's waybills for the same sellers, laid out as a
# Chinese system writes them (Chinese headers, GBK, GCJ-02 and some BD-09 points).
_PARTNER_COLUMNS = {
    "shipment_id": "快递单号",
    "seller_id": "商家编码",
    "origin_address": "发货地址",
    "lon": "经度",
    "lat": "纬度",
    "coord_system": "坐标系",
    "shipped_at": "揽收日期",
    "items": "件数",
    "value_cny": "申报价值",
    "brand": "品名",
}
PARTNER_MAPPING = """# How the partner's export maps onto the workbench's shipments table.
shipments:
  default_coord_system: gcj02  # when the 坐标系 cell is empty
  country: CN
  columns:
    shipment_id: 快递单号
    seller_id: 商家编码
    origin_address: 发货地址
    lon: 经度
    lat: 纬度
    coord_system: 坐标系
    shipped_at: 揽收日期
    items: 件数
    value_cny: 申报价值
    brand: 品名
"""


def _write_partner_export(folder: Path, shipments: pa.Table, seed: int) -> dict[str, Any]:
    """Every 10th waybill again, as the partner exports it; returns its ground truth."""
    from workbench.coords import wgs84_to_bd09, wgs84_to_gcj02

    rng = np.random.default_rng(seed + 1)
    frame = shipments.take(np.arange(0, shipments.num_rows, 10)).to_pandas()
    n = len(frame)
    lat, lon = frame["lat"].to_numpy(float), frame["lon"].to_numpy(float)
    system = np.where(rng.random(n) < 0.8, "GCJ-02", np.where(rng.random(n) < 0.5, "BD-09", ""))
    out_lat, out_lon = wgs84_to_gcj02(lat, lon)
    bd = system == "BD-09"
    out_lat[bd], out_lon[bd] = wgs84_to_bd09(lat[bd], lon[bd])
    dates = pd.to_datetime(frame["shipped_at"])
    partner = pd.DataFrame(
        {
            "shipment_id": "P" + frame["shipment_id"].str.slice(1),
            "seller_id": frame["seller_id"],
            "origin_address": frame["origin_address"],
            "lon": np.round(out_lon, 6),
            "lat": np.round(out_lat, 6),
            "coord_system": system,
            "shipped_at": np.where(
                rng.random(n) < 0.5,
                dates.dt.strftime("%Y/%m/%d"),
                dates.dt.strftime("%Y年%m月%d日"),
            ),
            "items": frame["items"],
            "value_cny": frame["value_cny"].round(2),
            "brand": frame["brand"],
        }
    ).rename(columns=_PARTNER_COLUMNS)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "partner_shipments.csv"
    partner.to_csv(path, index=False, encoding="gb18030", lineterminator="\r\n")
    (folder / "mapping.yaml").write_text(PARTNER_MAPPING, encoding="utf-8")
    return {"file": path.name, "rows": n, "systems": dict(Counter(system.tolist()))}


def generate_demo(
    folder: str | os.PathLike[str],
    *,
    seed: int = 7,
    n_shipments: int = 60_000,
    n_background_sellers: int = 1_200,
    hostile_names: bool = False,
    fmt: str = "csv",
    defects: bool = False,
    partner: bool = False,
) -> DemoData:
    """Write a demo investigation (platform exports and ``truth.json``) into ``folder``.

    Parameters
    ----------
    folder : a new or empty folder, or one holding an earlier demo (it is replaced).
    seed : the same seed gives byte-identical files.
    n_shipments : number of waybills, at least 1,000 (about 25% ring, 30% hub, 45% other).
    n_background_sellers : legitimate sellers outside rings and hub, at least 10.
    hostile_names : give three shops names that attack HTML and JavaScript views.
    fmt : "csv" or "parquet" for the shipments file; the other tables are always CSV.
    defects : append a few faulty waybills as real exports have (null island, no seller,
        a duplicate, GCJ-02, an impossible date, a decimal comma), listed in
        ``truth["defects"]`` by the reason intake quarantines them with, plus three it
        repairs (swapped axes, a GCJ-02 point, a null island with an address) listed in
        ``truth["repairs"]`` (CSV only).
    partner : also write ``partner/partner_shipments.csv``, every tenth waybill as a
        logistics partner exports it (Chinese headers, GBK, GCJ-02/BD-09 points, Chinese
        dates) with its ``partner/mapping.yaml``.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     demo = generate_demo(tmp, n_shipments=2_000, n_background_sellers=50)
    ...     print(demo.shipments.name, demo.truth.is_file())
    shipments.csv True
    """
    _check_args(seed, n_shipments, n_background_sellers)
    if fmt not in FORMATS:
        raise InputError(f"fmt must be one of {', '.join(FORMATS)}; received {fmt!r}.")
    if defects and fmt != "csv":
        raise InputError(f"defects=True needs fmt='csv'; received fmt={fmt!r}.")
    root = Path(folder)
    _prepare_folder(root)
    frames, shipments, truth = _build(seed, n_shipments, n_background_sellers, hostile_names)
    paths = {name: root / f"{name}.csv" for name in TABLE_NAMES}
    paths["shipments"] = root / f"shipments.{fmt}"
    for name, frame in frames.items():
        frame.to_csv(paths[name], index=False, encoding="utf-8", lineterminator="\n")
    _write_shipments(shipments, paths["shipments"], fmt)
    truth["defects"], truth["repairs"] = (
        _append_defects(paths["shipments"], shipments) if defects else ({}, {})
    )
    if partner:
        truth["partner"] = _write_partner_export(root / "partner", shipments, seed)
    truth_path = root / "truth.json"  # written last: its presence marks a complete demo
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return DemoData(folder=root, truth=truth_path, **paths)
