"""The canonical tables and the row checks intake applies to them (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

VERDICTS = ("counterfeit", "genuine", "inconclusive")
EVIDENCE_KINDS = ("test_buy", "complaint", "takedown")
LOCATION_KINDS = ("warehouse", "return", "registered")
WGS84_NAMES = {"", "wgs84", "wgs-84", "wgs 84", "epsg:4326", "4326"}


@dataclass(frozen=True)
class TableSpec:
    """A canonical table: its fields, their types, the key and header synonyms."""

    name: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    key: str | None = None
    types: dict[str, str] = field(default_factory=dict)  # field -> text|float|int|date|lat|lon
    choices: dict[str, tuple[str, ...]] = field(default_factory=dict)  # () accepts any value
    synonyms: dict[str, str] = field(default_factory=dict)  # casefolded header -> field

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


_COMMON_SYNONYMS = {
    "店铺id": "seller_id",
    "卖家id": "seller_id",
    "shop_id": "seller_id",
    "seller": "seller_id",
    "经度": "lon",
    "longitude": "lon",
    "lng": "lon",
    "纬度": "lat",
    "latitude": "lat",
}

TABLES: dict[str, TableSpec] = {
    "sellers": TableSpec(
        "sellers",
        required=("seller_id",),
        optional=("name", "platform", "registered_address", "registered_at"),
        key="seller_id",
        types={"registered_at": "date"},
        synonyms={**_COMMON_SYNONYMS, "店铺名称": "name", "shop_name": "name"},
    ),
    "identifiers": TableSpec(
        "identifiers",
        required=("seller_id", "kind", "value"),
        choices={"kind": ()},  # any kind: unknown ones are kept and matched exactly
        synonyms=_COMMON_SYNONYMS,
    ),
    "shipments": TableSpec(
        "shipments",
        required=("shipment_id", "seller_id", "lat", "lon"),
        optional=(
            "coord_system",
            "origin_address",
            "shipped_at",
            "items",
            "value_cny",
            "brand",
        ),
        key="shipment_id",
        types={
            "lat": "lat",
            "lon": "lon",
            "shipped_at": "date",
            "items": "int",
            "value_cny": "float",
        },
        synonyms={
            **_COMMON_SYNONYMS,
            "运单号": "shipment_id",
            "waybill": "shipment_id",
            "发货地址": "origin_address",
            "发货日期": "shipped_at",
        },
    ),
    "evidence": TableSpec(
        "evidence",
        required=("seller_id", "verdict"),
        optional=("evidence_id", "brand", "kind", "date", "file_sha256"),
        key="evidence_id",
        types={"date": "date"},
        choices={"verdict": VERDICTS, "kind": EVIDENCE_KINDS},
        synonyms=_COMMON_SYNONYMS,
    ),
    "locations": TableSpec(
        "locations",
        required=("seller_id", "kind"),
        optional=("address", "lat", "lon"),
        types={"lat": "lat", "lon": "lon"},
        choices={"kind": LOCATION_KINDS},
        synonyms=_COMMON_SYNONYMS,
    ),
}


class _Verdicts:
    """First failing reason and message per row."""

    def __init__(self, index: pd.Index) -> None:
        self.reason = pd.Series(pd.NA, index=index, dtype=object)
        self.message = pd.Series(pd.NA, index=index, dtype=object)

    def fail(self, mask: pd.Series, reason: str, message: pd.Series | str) -> None:
        new = mask & self.reason.isna()
        if not new.any():
            return
        self.reason[new] = reason
        self.message[new] = message[new] if isinstance(message, pd.Series) else message


def _describe(column: str, values: pd.Series, what: str) -> pd.Series:
    return column + "=" + values.map(repr) + " " + what


def _check_required(raw: pd.DataFrame, spec: TableSpec, out: _Verdicts) -> None:
    for column in spec.required:
        if spec.types.get(column) in {"lat", "lon"}:
            continue  # coordinates get their own, more specific checks
        out.fail(raw[column].str.strip() == "", "missing_value", f"{column} is empty")


def _check_coordinates(raw: pd.DataFrame, spec: TableSpec, out: _Verdicts) -> dict[str, pd.Series]:
    if "lat" not in raw.columns or "lon" not in raw.columns:
        return {}
    required = "lat" in spec.required
    lat = pd.to_numeric(raw["lat"].str.strip(), errors="coerce")
    lon = pd.to_numeric(raw["lon"].str.strip(), errors="coerce")
    blank = (raw["lat"].str.strip() == "") & (raw["lon"].str.strip() == "")
    if required:
        out.fail(blank, "missing_coordinate", "lat and lon are empty")
    for name, values in (("lat", lat), ("lon", lon)):
        unparsable = values.isna() & ~blank
        out.fail(unparsable, "bad_coordinate", _describe(name, raw[name], "is not a number"))
    out.fail(
        (lat.abs() > 90) | (lon.abs() > 180),
        "out_of_range",
        "lat=" + raw["lat"] + ", lon=" + raw["lon"] + " outside -90..90 / -180..180",
    )
    out.fail((lat == 0) & (lon == 0), "null_island", "lat=0, lon=0 is a missing location")
    if "coord_system" in raw.columns:
        system = raw["coord_system"].str.strip().str.casefold()
        out.fail(
            ~system.isin(WGS84_NAMES),
            "unsupported_coord_system",
            _describe(
                "coord_system",
                raw["coord_system"],
                "is not WGS-84; only WGS-84 coordinates are accepted in this version",
            ),
        )
    return {"lat": lat, "lon": lon}


def _check_typed(raw: pd.DataFrame, spec: TableSpec, out: _Verdicts) -> dict[str, pd.Series]:
    parsed: dict[str, pd.Series] = {}
    for column, kind in spec.types.items():
        if column not in raw.columns or kind in {"lat", "lon"}:
            continue
        text = raw[column].str.strip()
        present = text != ""
        if kind == "date":
            dates = pd.to_datetime(text.where(present), errors="coerce", format="ISO8601")
            parsed[column] = dates
            out.fail(
                present & dates.isna(),
                "bad_date",
                _describe(column, raw[column], "is not a date (YYYY-MM-DD)"),
            )
            continue
        numbers = pd.to_numeric(text.where(present), errors="coerce").astype(float)
        wrong = present & (numbers.isna() | (numbers < 0))
        if kind == "int":
            wrong |= present & numbers.notna() & (numbers % 1 != 0)
        out.fail(
            wrong, "bad_number", _describe(column, raw[column], f"is not a non-negative {kind}")
        )
        numbers = numbers.where(~wrong)
        parsed[column] = numbers.astype("Int64") if kind == "int" else numbers
    return parsed


def _check_choices(raw: pd.DataFrame, spec: TableSpec, out: _Verdicts) -> dict[str, pd.Series]:
    parsed: dict[str, pd.Series] = {}
    for column, allowed in spec.choices.items():
        if column not in raw.columns:
            continue
        values = raw[column].str.strip().str.casefold().str.replace("-", "_").str.replace(" ", "_")
        present = values != ""
        if not allowed:  # open vocabulary: normalised, never rejected
            parsed[column] = values
            continue
        out.fail(
            present & ~values.isin(allowed),
            f"unknown_{column}",
            _describe(column, raw[column], f"is not one of {', '.join(allowed)}"),
        )
        parsed[column] = values
    return parsed


def check_rows(raw: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Parse and check every row; returns (parsed table, reason per row, message per row).

    ``reason`` is NA for rows that pass. The parsed table has the canonical columns present
    in ``raw`` with proper types (floats, ints, datetimes, stripped text).
    """
    raw = raw.reset_index(drop=True)
    out = _Verdicts(raw.index)
    _check_required(raw, spec, out)
    parsed: dict[str, pd.Series] = {}
    parsed.update(_check_coordinates(raw, spec, out))
    parsed.update(_check_typed(raw, spec, out))
    parsed.update(_check_choices(raw, spec, out))
    if spec.key and spec.key in raw.columns:
        key = raw[spec.key].str.strip()
        seen_before = key.duplicated(keep="first") & (key != "")
        out.fail(
            seen_before,
            "duplicate_key",
            _describe(spec.key, raw[spec.key], "appears earlier in the file"),
        )
    columns = [c for c in spec.fields if c in raw.columns]
    table = pd.DataFrame(
        {c: parsed[c] if c in parsed else raw[c].str.strip() for c in columns}, index=raw.index
    )
    for column in ("lat", "lon"):
        if column in table.columns:
            table[column] = table[column].astype(np.float64)
    return table, out.reason, out.message
