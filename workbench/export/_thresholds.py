"""Case-filing thresholds: the amounts above which the police of a jurisdiction open a case.

The thresholds are data the user keeps up to date, not code: the package ships
``workbench/data/prosecution_thresholds.csv`` (China: trademark counterfeiting, Criminal Law
arts. 213 and 214), and ``export_tip_sheet(thresholds=...)`` or ``workbench tipsheet
--thresholds FILE`` take another table with the same columns. One row per standard:

========== ==================================================================================
country    the country as the gazetteer names it (``China``; ``中国`` also matches)
jurisdiction  empty for the whole country, else a province, prefecture or district name
           (English or Chinese) where a local standard applies
offence_en the offence in English, lower case, as it reads after "standard for"
offence_zh the offence in Chinese (the English is shown when empty)
measure    what the amount measures: ``business_volume``, ``illegal_gains``, ``sold_value``
           or ``unsold_value``
amount     the amount in figures (``50000``), no thousands separators
currency   ISO 4217 code (``CNY``)
source     the citation of the rule (text, not a link)
source_date  the date of the source (``YYYY-MM-DD``), optional
========== ==================================================================================

>>> table = load_thresholds()
>>> sorted(set(table.frame["measure"]))[:2]
['business_volume', 'illegal_gains']
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from workbench.errors import InputError, NotFoundError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "MEASURES",
    "THRESHOLD_COLUMNS",
    "Thresholds",
    "check_thresholds",
    "load_thresholds",
    "site_thresholds",
]

DEFAULT_THRESHOLDS = Path(__file__).parents[1] / "data" / "prosecution_thresholds.csv"
THRESHOLD_COLUMNS = (
    "country", "jurisdiction", "offence_en", "offence_zh", "measure", "amount", "currency",
    "source", "source_date",
)  # fmt: skip
REQUIRED = ("country", "offence_en", "measure", "amount", "currency", "source")
MEASURES = ("business_volume", "illegal_gains", "sold_value", "unsold_value")
_AMOUNT = re.compile(r"[0-9]+(\.[0-9]+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PLACE_FIELDS = (
    "province", "province_zh", "prefecture", "prefecture_zh", "district", "district_zh",
    "place", "place_zh",
)  # fmt: skip


@dataclass(frozen=True)
class Thresholds:
    """A checked thresholds table, the file name it came from and that file's SHA-256."""

    frame: pd.DataFrame  # THRESHOLD_COLUMNS, amount as float, plus the file's line number
    name: str
    sha256: str


def _problem(name: str, line: int, column: str, what: str) -> InputError:
    return InputError(f"thresholds table {name}, line {line}, column {column}: {what}")


def _check_row(row: Mapping[str, str], name: str, line: int) -> None:
    for column in REQUIRED:
        if not row[column]:
            hint = "cite the rule the amount comes from" if column == "source" else "fill it in"
            raise _problem(name, line, column, f"is empty; {hint}")
    if row["measure"] not in MEASURES:
        raise _problem(
            name, line, "measure",
            f"{row['measure']!r} is not a known measure; use one of {', '.join(MEASURES)}",
        )  # fmt: skip
    if not _AMOUNT.fullmatch(row["amount"]) or not math.isfinite(float(row["amount"])):
        raise _problem(
            name, line, "amount",
            f"{row['amount']!r} is not an amount; write it in figures without separators "
            "or currency, e.g. 50000",
        )  # fmt: skip
    if float(row["amount"]) <= 0:
        raise _problem(name, line, "amount", f"{row['amount']!r} must be above zero")
    if not _CURRENCY.fullmatch(row["currency"]):
        raise _problem(
            name, line, "currency",
            f"{row['currency']!r} is not a currency code; use ISO 4217, e.g. CNY",
        )  # fmt: skip
    if row["source_date"] and not _DATE.fullmatch(row["source_date"]):
        raise _problem(
            name, line, "source_date", f"{row['source_date']!r} is not a date; write YYYY-MM-DD"
        )


def check_thresholds(
    columns: Sequence[str], rows: Sequence[Mapping[str, Any]], lines: Sequence[int], name: str
) -> pd.DataFrame:
    """The rows of a table with header ``columns`` as a thresholds frame, or an
    :class:`InputError` naming the first bad line and column (``lines``: each row's line)."""
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise InputError(
            f"thresholds table {name}: column(s) {', '.join(missing)} missing; the header "
            f"must name {', '.join(THRESHOLD_COLUMNS)} (jurisdiction, offence_zh and "
            "source_date may be left empty)"
        )
    clean = []
    for row, line in zip(rows, lines, strict=True):
        item = {c: str(row.get(c) or "").strip() for c in THRESHOLD_COLUMNS}
        item["currency"] = item["currency"].upper()
        _check_row(item, name, line)
        clean.append({**item, "amount": float(item["amount"]), "line": line})
    return pd.DataFrame(clean, columns=[*THRESHOLD_COLUMNS, "line"])


def load_thresholds(path: str | os.PathLike[str] | None = None) -> Thresholds:
    """Read and check a thresholds table (default: the one the package ships).

    Raises :class:`InputError` naming the line and column of a bad amount, an unknown
    measure or a missing source; a table with a header and no rows is valid (no standards
    on file anywhere).
    """
    target = Path(path) if path is not None else DEFAULT_THRESHOLDS
    try:
        raw = target.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(
            f"thresholds table {target} does not exist; give a CSV with the columns "
            f"{', '.join(THRESHOLD_COLUMNS)} (see {DEFAULT_THRESHOLDS.name} in the package)"
        ) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(
            f"thresholds table {target.name} is not UTF-8 ({error}); save it as CSV UTF-8"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows, lines = [], []
    for row in reader:
        if any(isinstance(v, str) and v.strip() for v in row.values()):
            rows.append(row)
            lines.append(reader.line_num)
    columns = [str(c).strip() for c in reader.fieldnames or []]
    rows = [{str(k).strip(): v for k, v in row.items() if k is not None} for row in rows]
    frame = check_thresholds(columns, rows, lines, target.name)
    return Thresholds(frame, target.name, hashlib.sha256(raw).hexdigest())


def _fold(value: Any) -> str:
    return "" if value is None or value != value else str(value).strip().casefold()


def site_thresholds(frame: pd.DataFrame, site: Mapping[str, Any]) -> pd.DataFrame:
    """The standards that apply at ``site``: its country's national rows and the rows of
    any of its administrative areas (province, prefecture, district, place)."""
    country = {_fold(site.get("country")), _fold(site.get("country_zh"))} - {""}
    places = {_fold(site.get(f)) for f in _PLACE_FIELDS} - {""}
    if not country or frame.empty:
        return frame.iloc[0:0]
    keep = frame["country"].map(_fold).isin(country) & frame["jurisdiction"].map(
        lambda j: not _fold(j) or _fold(j) in places
    )
    return frame[keep].reset_index(drop=True)
