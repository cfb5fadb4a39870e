"""Reading export files as chunks of text cells, whatever their format (private to intake).

Every reader yields :class:`RawChunk` objects: a frame of text cells (one column per source
column, empty string for an empty cell) with the file row number of each record, plus the
records the reader itself could not use (ragged CSV rows), which intake quarantines. Chunks
keep memory proportional to ``chunk_rows``, not to the file.

Row numbers count the header as row 1, so the first record is row 2 (a spreadsheet's row,
and the file's line when no quoted value spans lines).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InvalidFileError
from workbench.intake._encoding import detect_encoding, not_utf8

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
SUFFIXES = (*TEXT_SUFFIXES, ".parquet", ".xlsx", ".geojson", ".json", ".gpkg")
_SAMPLE_BYTES = 1 << 16
MAX_HEADER_CHARS = 1 << 20  # a header row longer than this is not a header
_BLOCK_BYTES = 1 << 22  # Arrow reads CSV in blocks; one value must fit in one
_DELIMITERS = (",", "\t", ";", "|")


@dataclass
class RawChunk:
    """Text cells of some records of a file, with their row numbers."""

    frame: pd.DataFrame  # every cell a str ("" when empty); columns as in the source
    row_number: np.ndarray  # file row of each record (header = 1)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # row_number, raw, message


@dataclass
class FileInfo:
    """What the reader found out about a file, for the intake report."""

    format: str
    encoding: str = ""
    delimiter: str = ""
    columns: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def sniff_delimiter(sample: str, declared: str | None = None) -> str:
    """The delimiter that splits the first lines into the same number of fields, most often."""
    if declared:
        return declared
    lines = [line for line in sample.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    best, best_score = ",", (-1, -1)
    for delim in _DELIMITERS:
        try:
            widths = [len(r) for r in csv.reader(io.StringIO("\n".join(lines)), delimiter=delim)]
        except csv.Error:
            continue
        if widths[0] < 2:
            continue
        agree = sum(1 for w in widths if w == widths[0])
        score = (agree, widths[0])
        if score > best_score:
            best, best_score = delim, score
    return best


def _header(path: Path, encoding: str, delimiter: str | None) -> tuple[list[str], str]:
    """The header row, read whole (up to MAX_HEADER_CHARS), and the delimiter."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        sample = fh.read(MAX_HEADER_CHARS + _SAMPLE_BYTES)
    if not sample.strip():
        raise InvalidFileError(f"{path}: the file is empty; expected a header row")
    end = _record_end(sample)
    if end is None or end > MAX_HEADER_CHARS:
        raise InvalidFileError(
            f"{path}: the header row is longer than {MAX_HEADER_CHARS >> 20} MiB; is this a "
            "CSV export with one header line?"
        )
    delim = sniff_delimiter(sample[: end + _SAMPLE_BYTES], delimiter)
    with _field_limit(MAX_HEADER_CHARS):
        header = next(csv.reader(io.StringIO(sample[:end]), delimiter=delim))
    header = [h.strip().lstrip("\ufeff") for h in header]
    return header, delim


def _record_end(text: str) -> int | None:
    """Where the first record of ``text`` ends (after its line break), None if it does not."""
    start = 0
    while (newline := text.find("\n", start)) >= 0:
        if text.count('"', 0, newline) % 2 == 0:  # not inside a quoted value
            return newline + 1
        start = newline + 1
    return len(text) if len(text) < MAX_HEADER_CHARS else None


@contextlib.contextmanager
def _field_limit(limit: int) -> Iterator[None]:
    """csv's field size limit (process-wide) raised for one read, then put back."""
    before = csv.field_size_limit()
    csv.field_size_limit(max(before, limit))
    try:
        yield
    finally:
        csv.field_size_limit(before)


def _huge_field(
    path: Path, encoding: str, delimiter: str, header: list[str], limit: int
) -> tuple[int, str] | None:
    """(row, field) of the first record with a value over ``limit`` characters."""
    row, record = 0, ""  # row: records read, the header being record 1
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        while line := fh.readline(limit + 1):
            record += line
            if len(record) > limit:
                with _field_limit(limit + 1):
                    fields = next(csv.reader([record[:limit]], delimiter=delimiter), [""])
                index = len(fields) - 1
                return row + 1, header[index] if index < len(header) else f"column {index + 1}"
            if record.endswith("\n") and record.count('"') % 2 == 0:
                row, record = row + 1, ""
    return None


def check_header(path: Path, header: list[str]) -> None:
    """Blank or repeated column names make a mapping ambiguous: reject them clearly."""
    blank = [i + 1 for i, h in enumerate(header) if not h]
    if blank and len(header) > 1:
        raise InvalidFileError(f"{path}: header column(s) {blank} have no name")
    seen: set[str] = set()
    repeated = sorted({h for h in header if h in seen or seen.add(h)})  # type: ignore[func-returns-value]
    if repeated:
        raise InvalidFileError(f"{path}: header repeats column name(s) {repeated}")


def read_csv_chunks(
    path: Path,
    info: FileInfo,
    *,
    encoding: str | None,
    delimiter: str | None,
    chunk_rows: int,
) -> Iterator[RawChunk]:
    """Stream a delimited text file; ragged records come back as ``rejected`` rows."""

    info.encoding = detect_encoding(path, encoding, whole=False)
    header, info.delimiter = _header(path, info.encoding, delimiter)
    check_header(path, header)
    info.columns = header
    rejected: list[dict[str, Any]] = []

    def on_invalid(row: Any) -> str:
        text = str(row.text)
        lines = text.rstrip("\r\n").count("\n") + 1
        message = f"has {row.actual_columns} fields where the header has {row.expected_columns}"
        if lines > 1 and text.count('"') % 2 == 1:
            message = (
                f'has an unterminated quote ("): {lines} lines were read as this one record, '
                "so the rows after it are inside it (see raw); close the quote and ingest the "
                "file again"
            )
        number = int(row.number) if row.number is not None else -1
        rejected.append({"row_number": number, "raw": text, "message": message})
        return "skip"

    arrow_encoding = "utf8" if info.encoding in {"utf-8", "utf-8-sig"} else info.encoding
    try:
        reader = _open_csv(path, header, info, arrow_encoding, on_invalid)
    except pa.ArrowInvalid as exc:
        if "skip initial" in str(exc):  # a header and nothing else
            yield RawChunk(_empty(header), np.array([], dtype=np.int64))
            return
        raise _unreadable(path, info, encoding, exc) from exc
    except UnicodeError as exc:
        raise _unreadable(path, info, encoding, exc) from exc
    seen = 0  # records so far, valid or rejected
    pending: list[tuple[pd.DataFrame, np.ndarray]] = []
    pending_rows = 0
    try:
        for batch in reader:
            frame = _frame(batch, header)
            rows, seen = number_rows(len(frame), rejected, seen)
            pending.append((frame, rows))
            pending_rows += len(frame)
            while pending_rows >= chunk_rows:
                chunk, pending = _take(pending, chunk_rows, header)
                pending_rows -= len(chunk.frame)
                chunk.rejected = _claim(rejected, chunk.row_number, pending)
                yield chunk
    except (pa.ArrowInvalid, UnicodeError) as exc:
        if "straddl" in str(exc):  # one value larger than a block
            found = _huge_field(path, info.encoding, info.delimiter, header, _BLOCK_BYTES)
            if found is not None:
                raise InvalidFileError(
                    f"{path}: row {found[0]}, field {found[1]!r}: a value longer than "
                    f"{_BLOCK_BYTES >> 20} MiB; a field holds at most that (is a quote "
                    "missing, or is this column a file dump?)"
                ) from exc
        raise _unreadable(path, info, encoding, exc) from exc
    if pending or rejected or seen == 0:
        chunk, _ = _take(pending, max(pending_rows, 1), header)
        chunk.rejected = list(rejected)
        yield chunk


def _unreadable(
    path: Path, info: FileInfo, declared: str | None, exc: Exception
) -> InvalidFileError:
    if info.encoding == "utf-8" and not declared and "UTF8" in str(exc):
        return not_utf8(path)  # a bad byte past the head checked before reading
    return InvalidFileError(f"{path}: cannot be read as {info.encoding} CSV ({exc})")


def _frame(batch: pa.RecordBatch, header: list[str]) -> pd.DataFrame:
    frame = pa.Table.from_batches([batch]).rename_columns(header)
    return frame.to_pandas(types_mapper=pd.ArrowDtype).astype(
        {c: "string[pyarrow]" for c in header}
    )


def number_rows(n_valid: int, rejected: list[dict[str, Any]], seen: int) -> tuple[np.ndarray, int]:
    """Row numbers of a batch's valid records, skipping rows rejected records took.

    Record k (0-based, valid or rejected) of the file sits on row k + 2.
    """
    taken = {r["row_number"] for r in rejected if not r.get("numbered")}
    if not taken:
        return np.arange(seen + 2, seen + 2 + n_valid, dtype=np.int64), seen + n_valid
    rows: list[int] = []
    row = seen + 2
    while len(rows) < n_valid:
        if row not in taken:
            rows.append(row)
        else:
            taken.discard(row)
        row += 1
    for r in rejected:
        r["numbered"] = True
    return np.asarray(rows, dtype=np.int64), row - 2


def _take(
    pending: list[tuple[pd.DataFrame, np.ndarray]], n: int, header: list[str]
) -> tuple[RawChunk, list[tuple[pd.DataFrame, np.ndarray]]]:
    """The first ``n`` pending records as a chunk, and what stays pending."""
    frames, rows, count = [], [], 0
    rest = list(pending)
    while rest and count < n:
        frame, numbers = rest.pop(0)
        need = n - count
        if len(frame) > need:
            rest.insert(0, (frame.iloc[need:].reset_index(drop=True), numbers[need:]))
            frame, numbers = frame.iloc[:need], numbers[:need]
        frames.append(frame)
        rows.append(numbers)
        count += len(frame)
    if not frames:
        return RawChunk(_empty(header), np.array([], dtype=np.int64)), rest
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    return RawChunk(frame.reset_index(drop=True), np.concatenate(rows)), rest


def _claim(
    rejected: list[dict[str, Any]],
    rows: np.ndarray,
    pending: list[tuple[pd.DataFrame, np.ndarray]],
) -> list[dict[str, Any]]:
    """Rejected records that come before the first record still pending."""
    limit = pending[0][1][0] if pending and len(pending[0][1]) else np.inf
    mine = [r for r in rejected if r["row_number"] < limit]
    rejected[:] = [r for r in rejected if r["row_number"] >= limit]
    return mine


def _open_csv(
    path: Path, header: list[str], info: FileInfo, arrow_encoding: str, on_invalid: Any
) -> Any:
    import pyarrow.csv as pacsv

    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(
            encoding=arrow_encoding,
            column_names=[f"c{i}" for i in range(len(header))],
            skip_rows=1,
            use_threads=False,
            block_size=_BLOCK_BYTES,
        ),
        parse_options=pacsv.ParseOptions(
            delimiter=info.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={f"c{i}": pa.string() for i in range(len(header))},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _empty(header: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="string[pyarrow]") for c in header})


def read_table_chunks(
    path: Path, info: FileInfo, *, sheet: str | None, chunk_rows: int
) -> Iterator[RawChunk]:
    """Non-text formats: Parquet (streamed), XLSX (streamed), GeoJSON and GeoPackage."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        yield from _parquet_chunks(path, info, chunk_rows)
    elif suffix == ".xlsx":
        from workbench.intake._xlsx import xlsx_chunks

        yield from xlsx_chunks(path, info, sheet, chunk_rows)
    elif suffix in {".geojson", ".json", ".gpkg"}:
        yield from _vector_chunks(path, info, sheet, chunk_rows)
    else:
        raise InvalidFileError(
            f"{path}: unsupported file type {suffix!r}; expected one of {', '.join(SUFFIXES)}"
        )


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Every cell as text: numbers without a spurious '.0', dates as ISO, missing as ''."""
    out = {}
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            text = series.dt.strftime("%Y-%m-%d %H:%M:%S").str.removesuffix(" 00:00:00")
        elif pd.api.types.is_float_dtype(series):
            text = series.map(lambda v: "" if pd.isna(v) else repr(float(v)).removesuffix(".0"))
        else:
            text = series.astype(object).map(lambda v: "" if v is None or v is pd.NA else str(v))
            text = text.where(series.notna(), "")
        out[str(column)] = text.astype("string[pyarrow]")
    return pd.DataFrame(out, index=frame.index)


def _utf8(
    column: pa.Array, name: str, rows: np.ndarray, bad: np.ndarray, rejected: list[dict[str, Any]]
) -> pa.Array:
    """A binary column as text; rows whose bytes are not UTF-8 are marked ``bad`` and rejected."""
    import pyarrow.compute as pc

    try:
        return pc.cast(column, pa.string())
    except pa.ArrowInvalid:
        pass
    values = column.to_pylist()
    text: list[str | None] = []
    for i, value in enumerate(values):
        try:
            text.append(None if value is None else value.decode("utf-8"))
        except UnicodeDecodeError as error:
            text.append(None)
            if not bad[i]:
                bad[i] = True
                rejected.append({
                    "row_number": int(rows[i]),
                    "raw": json.dumps({name: value.hex()}),
                    "message": f"column {name!r}: not UTF-8 text ({error.reason} at byte "
                    f"{error.start}); the bytes are kept here in hex",
                })  # fmt: skip
    return pa.array(text, type=pa.string())


def _parquet_chunks(path: Path, info: FileInfo, chunk_rows: int) -> Iterator[RawChunk]:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    info.format = "parquet"
    try:
        source = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow raises several unrelated types
        raise InvalidFileError(f"{path}: not a readable Parquet file ({exc})") from exc
    info.columns = list(source.schema_arrow.names)
    check_header(path, info.columns)
    for column in source.schema_arrow:
        if pa.types.is_nested(column.type):
            raise InvalidFileError(
                f"{path}: column {column.name!r} is {column.type}; each cell must be one value "
                "(text, number or date): export lists and records as text"
            )
    start = 2
    yielded = False
    for batch in source.iter_batches(batch_size=chunk_rows):
        cols = {}
        rows = np.arange(start, start + batch.num_rows, dtype=np.int64)
        bad = np.zeros(batch.num_rows, dtype=bool)
        rejected: list[dict[str, Any]] = []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if pa.types.is_floating(column.type):
                cols[name] = _as_text(pd.DataFrame({name: column.to_pandas()}))[name]
                continue
            if pa.types.is_binary(column.type) or pa.types.is_large_binary(column.type):
                column = _utf8(column, name, rows, bad, rejected)
            text = column if pa.types.is_string(column.type) else pc.cast(column, pa.string())
            cols[name] = pd.Series(pc.fill_null(text, ""), dtype="string[pyarrow]")
        frame = pd.DataFrame(cols)
        yield RawChunk(frame[~bad].reset_index(drop=True), rows[~bad], rejected)
        start += batch.num_rows
        yielded = True
    if not yielded:
        yield RawChunk(
            pd.DataFrame({c: pd.Series([], dtype="string[pyarrow]") for c in info.columns}),
            np.array([], dtype=np.int64),
        )


def list_chunk(
    header: list[str], rows: list[list[str]], numbers: list[int], rejected: list[dict[str, Any]]
) -> RawChunk:
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in header]
    frame = pd.DataFrame(
        {
            h: pd.Series(list(col), dtype="string[pyarrow]")
            for h, col in zip(header, columns, strict=True)
        }
    )
    return RawChunk(frame, np.asarray(numbers, dtype=np.int64), rejected)


def _vector_chunks(
    path: Path, info: FileInfo, layer: str | None, chunk_rows: int
) -> Iterator[RawChunk]:
    """GeoJSON / GeoPackage features: point geometry becomes ``lat``/``lon`` text columns.

    The file is read whole (vector exports are small); never pass a case file here while
    a case is open in this process.
    """
    import pyogrio

    info.format = "gpkg" if path.suffix.lower() == ".gpkg" else "geojson"
    try:
        frame = pyogrio.read_dataframe(path, layer=layer)
    except Exception as exc:  # GDAL errors come in several types
        raise InvalidFileError(f"{path}: not a readable {info.format} file ({exc})") from exc
    geometry = frame.geometry
    data = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if geometry.notna().any():
        kinds = set(geometry.dropna().geom_type)
        if kinds - {"Point"}:
            raise InvalidFileError(
                f"{path}: features must be points (ship-from locations), found {sorted(kinds)}"
            )
        if frame.crs is not None and frame.crs.to_epsg() not in (4326, None):
            geometry = geometry.to_crs(4326)
        for name, values in (("lat", geometry.y), ("lon", geometry.x)):
            if name not in data.columns:
                data[name] = values.to_numpy()
    info.columns = [str(c) for c in data.columns]
    text = _as_text(data.reset_index(drop=True))
    for start in range(0, max(len(text), 1), chunk_rows):
        part = text.iloc[start : start + chunk_rows].reset_index(drop=True)
        yield RawChunk(part, np.arange(start + 2, start + 2 + len(part), dtype=np.int64))
