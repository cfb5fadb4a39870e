"""The row checks intake applies to the canonical tables (:mod:`workbench.schema`), vectorised.

:func:`check_rows` takes one chunk of text cells under canonical column names and returns
the typed rows, a reason code and message for every row that fails (NA for the rows that
pass) and the repairs made (``;``-joined codes, "" for none). Coordinates are handled in
:mod:`workbench.intake._coords`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.arrays import string_hashes, unique
from workbench.schema import (
    TableSpec,
)

_CHOICE_SYNONYMS = {
    "假货": "counterfeit",
    "假冒": "counterfeit",
    "fake": "counterfeit",
    "正品": "genuine",
    "真品": "genuine",
    "无法判断": "inconclusive",
    "待定": "inconclusive",
    "试买": "test_buy",
    "test_purchase": "test_buy",
    "投诉": "complaint",
    "下架": "takedown",
    "仓库": "warehouse",
    "退货": "return",
    "退货地址": "return",
    "注册": "registered",
}


class Verdicts:
    """First failing reason and message per row, and the repairs made per row."""

    def __init__(self, n: int) -> None:
        self.reason = np.full(n, None, dtype=object)
        self.message = np.full(n, None, dtype=object)
        self.repairs: list[tuple[np.ndarray, str]] = []

    def fail(self, mask: np.ndarray | pd.Series, reason: str, message: Any) -> None:
        new = np.asarray(mask, dtype=bool) & pd.isna(self.reason)
        if not new.any():
            return
        self.reason[new] = reason
        if callable(message):
            self.message[new] = message(new)
        elif isinstance(message, pd.Series | np.ndarray):
            self.message[new] = np.asarray(message, dtype=object)[new]
        else:
            self.message[new] = message

    def repaired(self, mask: np.ndarray, code: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            self.repairs.append((mask, code))

    @property
    def bad(self) -> np.ndarray:
        return ~pd.isna(self.reason)

    def repair_codes(self) -> np.ndarray:
        out = np.full(len(self.reason), "", dtype=object)
        for mask, code in self.repairs:
            out[mask] = np.where(out[mask] == "", code, out[mask] + ";" + code)
        return out


def describe(column: str, values: pd.Series, what: str) -> Callable[[np.ndarray], np.ndarray]:
    """Messages such as ``items='-3' is not a non-negative int``, made only for failing rows."""

    def messages(rows: np.ndarray) -> np.ndarray:
        shown = [v if len(v) <= 60 else v[:57] + "..." for v in values[rows].astype(str)]
        return np.array([f"{column}={v!r} {what}" for v in shown], dtype=object)

    return messages


def arrow(series: pd.Series) -> pa.Array:
    """The text column as one contiguous Arrow string array."""
    values = pa.array(series.astype("string[pyarrow]"), from_pandas=True)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values


def trimmed(series: pd.Series) -> pd.Series:
    """Text without surrounding whitespace, computed in Arrow."""
    return pd.Series(
        pc.utf8_trim_whitespace(arrow(series)), index=series.index, dtype="string[pyarrow]"
    )


def to_float(text: pd.Series) -> np.ndarray:
    """Numbers from text (NaN where empty or not a number); Arrow's cast first, pandas after."""
    values = arrow(text)
    try:
        out: np.ndarray = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        return np.array(out, dtype=np.float64)  # writable copy
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        numbers = pd.to_numeric(text.astype(object), errors="coerce")
        return np.array(numbers, dtype=np.float64)


_DATE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y.%m.%d",
    "%Y%m%d",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M:%S",
)


LOCAL_ZONE = "Asia/Shanghai"  # China Standard Time (UTC+8, no daylight saving)
_ISO = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
_OFFSET = r"(?:Z|[+-]\d{2}(?::?\d{2})?)$"


def parse_dates(
    text: pd.Series,
    column: str,
    dayfirst: bool | None,
    out: Verdicts,
    zone: str = LOCAL_ZONE,
) -> pd.Series:
    """Dates in the usual export formats; a file may mix them.

    ISO and year-first forms (2026-03-01, 2026/3/1, 2026.03.01, 20260301, 2026年3月1日) are
    unambiguous. Day-month-year forms (01/03/2026) follow ``dayfirst`` from the mapping; if
    the mapping says nothing, the file decides when any value has a day above 12, and the
    rows stay quarantined as ``ambiguous_date`` when it cannot.

    ISO 8601 times with an offset (``2026-03-01T02:00:00Z``, ``...+08:00``) name an instant:
    it is kept, and stored as the local time in ``zone`` (the mapping's ``timezone``, China
    Standard Time by default), so a waybill's date is its local date where it shipped. Times
    without an offset are taken as local already; fractions of a second are dropped.
    """
    values = pc.utf8_trim_whitespace(arrow(text))
    present = np.asarray(pc.not_equal(values, ""), dtype=bool)
    result = _iso_instants(values, present, zone)
    iso_like = np.asarray(pc.is_valid(result), dtype=bool)
    for fmt in _DATE_FORMATS:
        todo = present & ~np.asarray(pc.is_valid(result), dtype=bool)
        if not todo.any():
            break
        parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
        take = todo & np.asarray(pc.is_valid(parsed), dtype=bool) & _same_day(values, parsed)
        if take.any():
            result = pc.if_else(pa.array(take), parsed, result)
            if fmt != "%Y-%m-%d":
                iso_like |= take
    todo = present & ~np.asarray(pc.is_valid(result), dtype=bool)
    if todo.any():
        result, ambiguous = _day_month(values, todo, result, dayfirst)
        iso_like |= todo & np.asarray(pc.is_valid(result), dtype=bool)
        out.fail(
            ambiguous,
            "ambiguous_date",
            describe(column, text, "could be day/month or month/day; set dayfirst in the mapping"),
        )
    dates = pd.Series(result.to_numpy(zero_copy_only=False), index=text.index)
    dates = dates.astype("datetime64[s]")
    unparsed = present & dates.isna().to_numpy()
    out.fail(unparsed, "bad_date", describe(column, text, "is not a date"))
    out.repaired(iso_like & ~unparsed, f"{column}_reformatted")
    return dates


def _iso_instants(values: pa.Array, present: np.ndarray, zone: str) -> pa.Array:
    """ISO 8601 date-times with fractions or an offset, as local times in ``zone``."""
    result = pa.nulls(len(values), pa.timestamp("s"))
    iso = np.asarray(pc.match_substring_regex(values, _ISO), dtype=bool) & present
    fancy = iso & (
        np.asarray(pc.match_substring_regex(values, _OFFSET), dtype=bool)
        | np.asarray(pc.match_substring(values, "."), dtype=bool)
    )
    if not fancy.any():
        return result
    rows = np.flatnonzero(fancy)
    written = pd.Series(pc.take(values, pa.array(rows)).to_pylist(), dtype=object)
    offset = written.str.contains(_OFFSET, regex=True).to_numpy(bool)
    local = pd.Series(pd.NaT, index=written.index, dtype="datetime64[ns]")
    if offset.any():
        aware = pd.to_datetime(written[offset], format="ISO8601", utc=True, errors="coerce")
        local[offset] = aware.dt.tz_convert(zone).dt.tz_localize(None)
    if (~offset).any():
        local[~offset] = pd.to_datetime(written[~offset], format="ISO8601", errors="coerce")
    seconds = local.dt.floor("s").astype("datetime64[s]")
    full = pd.Series(pd.NaT, index=range(len(values)), dtype="datetime64[s]")
    full.iloc[rows] = seconds.to_numpy()
    return pa.array(full, type=pa.timestamp("s"))


def _same_day(values: pa.Array, parsed: pa.Array) -> np.ndarray:
    """Parsed dates whose year, month and day are the ones written, with a four-digit year.

    Arrow's strptime rolls an impossible day over (2026-02-30 becomes 03-02, 04-31 becomes
    05-01) and reads ``26-03-05`` as the year 26. So where the result could be either (a
    day 1-3 or a year before 1000) the year, month and day are read from the text and
    compared; elsewhere the first four characters must be digits."""
    ok = np.asarray(pc.is_valid(parsed), dtype=bool)
    day = np.asarray(pc.day(parsed).fill_null(0))
    year = np.asarray(pc.year(parsed).fill_null(0))
    doubt = np.flatnonzero(ok & ((day <= 3) | (year < 1000)))
    ok &= np.asarray(pc.utf8_is_digit(pc.utf8_slice_codeunits(values, 0, 4)).fill_null(False))
    if len(doubt):
        rows = pa.array(doubt)
        parts = pc.extract_regex(
            values.take(rows), r"^(?P<y>\d{4})\D?(?P<m>\d{1,2})\D?(?P<d>\d{1,2})"
        )
        same = np.asarray(pc.is_valid(parts), dtype=bool)
        for name, unit in (("y", pc.year), ("m", pc.month), ("d", pc.day)):
            written = pc.cast(pc.struct_field(parts, name), pa.int64()).fill_null(-1)
            same &= np.asarray(written) == np.asarray(unit(parsed.take(rows)).fill_null(-2))
        ok[doubt] &= same
    return ok


def _day_month(
    values: pa.Array, todo: np.ndarray, result: pa.Array, dayfirst: bool | None
) -> tuple[pa.Array, np.ndarray]:
    parts = pc.extract_regex(
        values, r"^(?P<a>\d{1,2})[/.\-](?P<b>\d{1,2})[/.\-](?P<y>\d{4})(?P<rest>.*)$"
    )
    valid = np.asarray(pc.is_valid(parts), dtype=bool) & todo
    if not valid.any():
        return result, np.zeros(len(values), dtype=bool)
    a = np.asarray(pc.cast(pc.struct_field(parts, "a"), pa.int64()).fill_null(0))
    b = np.asarray(pc.cast(pc.struct_field(parts, "b"), pa.int64()).fill_null(0))
    if dayfirst is None:
        day_hint = (valid & (a > 12)).any()
        month_hint = (valid & (b > 12)).any()
        dayfirst = True if day_hint and not month_hint else False if month_hint else None
    if dayfirst is None:
        ambiguous = valid & (a <= 12) & (b <= 12) & (a != b)
        fmt_rows = valid & ~ambiguous  # same day and month: either reading agrees
        dayfirst = True
    else:
        ambiguous = np.zeros(len(values), dtype=bool)
        fmt_rows = valid
    fmt = "%d/%m/%Y" if dayfirst else "%m/%d/%Y"
    normal = pc.replace_substring(values, ".", "/")
    normal = pc.replace_substring(normal, "-", "/")
    for suffix in ("", " %H:%M:%S", " %H:%M"):
        parsed = pc.strptime(normal, format=fmt + suffix, unit="s", error_is_null=True)
        day, month = (a, b) if dayfirst else (b, a)
        real = (np.asarray(pc.day(parsed).fill_null(0)) == day) & (
            np.asarray(pc.month(parsed).fill_null(0)) == month
        )
        take = fmt_rows & np.asarray(pc.is_valid(parsed), dtype=bool) & real
        take &= ~np.asarray(pc.is_valid(result), dtype=bool)
        if take.any():
            result = pc.if_else(pa.array(take), parsed, result)
    return result, ambiguous


def check_required(raw: pd.DataFrame, spec: TableSpec, out: Verdicts) -> None:
    for column in spec.required:
        out.fail(trimmed(raw[column]) == "", "missing_value", f"{column} is empty")


def check_typed(
    raw: pd.DataFrame,
    spec: TableSpec,
    out: Verdicts,
    dayfirst: bool | None,
    zone: str | None = None,
) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for column, kind in spec.types.items():
        if column not in raw.columns or kind in {"lat", "lon"}:
            continue
        if kind == "date":
            parsed[column] = parse_dates(raw[column], column, dayfirst, out, zone or LOCAL_ZONE)
            continue
        text = trimmed(raw[column])
        present = (text != "").to_numpy()
        numbers = to_float(text.where(present, "nan"))
        wrong = present & (np.isnan(numbers) | (numbers < 0) | np.isinf(numbers))
        if kind == "int":
            wrong |= present & ~np.isnan(numbers) & (np.mod(numbers, 1) != 0)
        out.fail(
            wrong, "bad_number", describe(column, raw[column], f"is not a non-negative {kind}")
        )
        numbers = np.where(wrong | ~present, np.nan, numbers)
        parsed[column] = pd.Series(numbers).astype("Int64") if kind == "int" else pd.Series(numbers)
    return parsed


def check_choices(raw: pd.DataFrame, spec: TableSpec, out: Verdicts) -> dict[str, pd.Series]:
    parsed: dict[str, pd.Series] = {}
    for column, allowed in spec.choices.items():
        if column not in raw.columns:
            continue
        values = arrow(raw[column])
        values = pc.utf8_lower(pc.utf8_trim_whitespace(values))
        values = pc.replace_substring(pc.replace_substring(values, "-", "_"), " ", "_")
        series = pd.Series(values, dtype="string[pyarrow]")
        series = series.replace(_CHOICE_SYNONYMS) if allowed else series
        present = (series != "").to_numpy()
        if allowed:
            out.fail(
                present & ~series.isin(allowed).to_numpy(),
                f"unknown_{column}",
                describe(column, raw[column], f"is not one of {', '.join(allowed)}"),
            )
        parsed[column] = series
    return parsed


class KeySeen:
    """Keys stored from earlier chunks of the same file, as sorted 64-bit hashes.

    Eight bytes per key keeps a file's key set small next to its chunks. Within a chunk
    duplicates are found exactly; across chunks by hash, where a collision of two different
    keys (odds about n^2 / 2^65: 1e-7 for 3 million keys) would send the later row to the
    quarantine as a duplicate, visible with its message, never dropped.

    The hashes are kept in ``PARTS`` sorted parts by their top bits. Past ``MEMORY_KEYS``
    keys the parts move to unnamed temporary files (removed by the system when the process
    ends, however it ends) and each chunk reads and rewrites them one at a time: memory
    holds one part, not every key of the file, so an ingest's peak does not grow with the
    file (80 MB for 10M waybills otherwise).
    """

    PARTS = 64
    MEMORY_KEYS = 1 << 20

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = [np.zeros(0, dtype=np.uint64)] * self.PARTS
        self.files: list[Any] | None = None
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __getstate__(self) -> dict[str, Any]:  # handed to an intake child before it starts
        if self.files is not None:
            raise ValueError("a key set kept in files stays in its process")
        return self.__dict__

    def check(self, key: pd.Series, column: str, raw: pd.Series, out: Verdicts) -> None:
        text = arrow(key)
        present = np.asarray(pc.not_equal(text, ""), dtype=bool)
        hashed = string_hashes(text)
        dup = present & repeated(hashed, text)
        candidates = present & ~dup & ~out.bad  # rows that may add their key
        part = (hashed >> np.uint64(64 - self.PARTS.bit_length() + 1)).astype(np.int64)
        order = np.argsort(part, kind="stable")
        edges = np.searchsorted(part[order], np.arange(self.PARTS + 1))
        for p in range(self.PARTS):
            rows = order[edges[p] : edges[p + 1]]
            if not len(rows):
                continue
            stored = self._load(p)
            found = _within(stored, hashed[rows])
            dup[rows] |= present[rows] & found
            new = unique(hashed[rows][candidates[rows] & ~found])
            if len(new):
                self._store(p, np.insert(stored, np.searchsorted(stored, new), new))
                self.n += len(new)
        out.fail(dup, "duplicate_key", describe(column, raw, "appears earlier in the file"))
        if self.files is None and self.n > self.MEMORY_KEYS:
            self._to_files()

    def close(self) -> None:
        """Forget every key (their files are removed)."""
        for handle in self.files or []:
            handle.close()
        self.parts = [np.zeros(0, dtype=np.uint64)] * self.PARTS
        self.files = None
        self.n = 0

    def _load(self, p: int) -> np.ndarray:
        if self.files is None:
            return self.parts[p]
        handle = self.files[p]
        handle.seek(0)
        return np.fromfile(handle, dtype=np.uint64)

    def _store(self, p: int, values: np.ndarray) -> None:
        if self.files is None:
            self.parts[p] = values
            return
        handle = self.files[p]
        handle.seek(0)
        values.tofile(handle)  # the parts only grow: the new bytes cover the old
        handle.flush()

    def _to_files(self) -> None:
        import tempfile

        self.files = [
            tempfile.TemporaryFile(prefix="workbench-keys-")  # noqa: SIM115 - see close()
            for _ in range(self.PARTS)
        ]
        for p, values in enumerate(self.parts):
            self._store(p, values)
        self.parts = []


def _within(stored: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Which ``values`` are in the sorted array ``stored``."""
    if not len(stored):
        return np.zeros(len(values), dtype=bool)
    place = np.searchsorted(stored, values).clip(0, len(stored) - 1)
    found: np.ndarray = stored[place] == values
    return found


def repeated(hashed: np.ndarray, text: pa.Array) -> np.ndarray:
    """Rows whose text appeared at an earlier row (``hashed`` is :func:`string_hashes` of
    ``text``). Exact: rows of equal hash are compared as text, and a run of equal hashes
    holding different texts (a collision) is sorted out one text at a time."""
    order = np.argsort(hashed, kind="stable")  # equal hashes in row order
    same = hashed[order[1:]] == hashed[order[:-1]]
    found = np.zeros(len(hashed), dtype=bool)
    if not same.any():
        return found
    later, earlier = order[1:][same], order[:-1][same]
    equal = np.asarray(
        pc.equal(text.take(pa.array(later)), text.take(pa.array(earlier))), dtype=bool
    )
    found[later] = equal
    for h in unique(hashed[later[~equal]]):  # a collision: its run, text by text
        rows = np.flatnonzero(hashed == h)
        first: dict[object, int] = {}
        for row, value in zip(rows.tolist(), text.take(pa.array(rows)).to_pylist(), strict=True):
            found[row] = first.setdefault(value, row) != row
    return found
