"""Intake: read platform exports into canonical tables, quarantining rows that fail checks.

Files may be CSV/TSV (UTF-8, UTF-8 with BOM or GB18030/GBK, detected; delimiter detected),
XLSX, Parquet, GeoJSON or GeoPackage, with English or Chinese headers. A mapping (a YAML or
JSON file, or a dict; see :mod:`workbench.intake._mapping`) names the source column of each
canonical field; without one, common synonyms are recognised.

Every loader returns an :class:`IntakeResult`: the clean table, the quarantined rows (raw
row, file, row number, reason code, message) and a report (rows read, stored, quarantined
by reason, repaired and how). ``rows_read == rows_stored + rows_quarantined`` holds for
every file; nothing is dropped silently. Files are read in chunks (:func:`stream_table`), so
:meth:`workbench.case._case.Case.ingest_files` stores files larger than memory.

>>> result = load_shipments("demo-data/shipments.csv")   # doctest: +SKIP
>>> result.report["rows_read"] == result.report["rows_stored"] + result.report["rows_quarantined"]
True
"""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.ahead import ahead
from workbench.errors import InvalidFileError
from workbench.intake._coords import check_points
from workbench.intake._mapping import MappingLike, TableMapping, resolve_columns, table_mapping
from workbench.intake._read import (
    SUFFIXES,
    TEXT_SUFFIXES,
    FileInfo,
    RawChunk,
    read_csv_chunks,
    read_table_chunks,
)
from workbench.intake._rules import (
    KeySeen,
    Verdicts,
    check_choices,
    check_required,
    check_typed,
    trimmed,
)
from workbench.progress import is_quiet
from workbench.schema import TABLES, TableSpec

__all__ = [
    "QUARANTINE_COLUMNS",
    "IntakeResult",
    "IntakeStream",
    "load_evidence",
    "load_identifiers",
    "load_locations",
    "load_sellers",
    "load_shipments",
    "load_table",
    "sha256_file",
    "stream_table",
]

QUARANTINE_COLUMNS = ["source", "row_number", "raw", "reason", "message"]
CHUNK_ROWS = 250_000
_PROGRESS_BYTES = 20 << 20  # show a progress bar for files above 20 MB
Geocode = Callable[[pd.Series], pd.DataFrame]


@dataclass
class IntakeResult:
    """What one file (or one chunk of it) yielded: clean rows, quarantine and the report."""

    table: str
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        return report_html([self.report])


def report_html(reports: list[dict[str, Any]]) -> str:
    """Intake reports as one HTML table (every value escaped)."""
    head = (
        "<tr><th>table</th><th>file</th><th>read</th><th>stored</th><th>quarantined</th>"
        "<th>repaired</th><th>encoding</th><th>why quarantined</th><th>repairs</th></tr>"
    )
    rows = []
    for r in reports:
        cells = [
            r.get("table", ""),
            Path(str(r.get("source", ""))).name,
            f"{r.get('rows_read', 0):,}",
            f"{r.get('rows_stored', 0):,}",
            f"{r.get('rows_quarantined', 0):,}",
            f"{r.get('rows_repaired', 0):,}",
            r.get("encoding", ""),
            ", ".join(f"{k}: {v:,}" for k, v in r.get("quarantine_reasons", {}).items()),
            ", ".join(f"{k}: {v:,}" for k, v in r.get("repairs", {}).items()),
        ]
        rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>")
    return f"<table class='workbench-intake'>{head}{''.join(rows)}</table>"


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def offline_geocoder(online: Any = None) -> Geocode:
    """The bundled gazetteer geocoder (optionally backed by a cached online one)."""

    def geocode(addresses: pd.Series) -> pd.DataFrame:
        from workbench.geocode import geocode_addresses

        return geocode_addresses(addresses, online=online)

    return geocode


class IntakeStream:
    """Chunks of one file as :class:`IntakeResult` objects; ``report`` is whole at the end.

    Iterate once. Memory stays proportional to ``chunk_rows``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        table: str,
        *,
        mapping: MappingLike = None,
        chunk_rows: int = CHUNK_ROWS,
        geocode: Geocode | None = None,
        progress: bool | None = None,
    ) -> None:
        if table not in TABLES:
            raise InvalidFileError(f"table={table!r} is not one of {', '.join(sorted(TABLES))}")
        self.table = table
        self.spec: TableSpec = TABLES[table]
        self.path = Path(path)
        if not self.path.is_file():
            raise InvalidFileError(f"{self.path}: no such file (for the {table} table)")
        if self.path.suffix.lower() not in SUFFIXES:
            raise InvalidFileError(
                f"{self.path}: unsupported file type {self.path.suffix!r}; "
                f"expected one of {', '.join(SUFFIXES)}"
            )
        if self.path.stat().st_size == 0:
            raise InvalidFileError(f"{self.path}: the file is empty (0 bytes); expected a header")
        self.mapping: TableMapping = table_mapping(mapping, table)
        self.chunk_rows = max(int(chunk_rows), 1)
        self.geocode = geocode if geocode is not None else offline_geocoder()
        self.portable_geocode = geocode is None  # a child process can make its own
        self.progress = (
            progress if progress is not None else self.path.stat().st_size > _PROGRESS_BYTES
        )
        self.info = FileInfo(format="csv")
        self.report: dict[str, Any] = {}
        self._seen = KeySeen()
        self._digest: Future[str] | None = None
        self._counts: dict[str, Any] = {
            "read": 0,
            "stored": 0,
            "reasons": Counter(),
            "repairs": Counter(),
            "repaired": 0,
        }

    def _chunks(self) -> Iterator[RawChunk]:
        if self.path.suffix.lower() in TEXT_SUFFIXES:
            self.info.format = "csv" if self.path.suffix.lower() != ".tsv" else "tsv"
            return read_csv_chunks(
                self.path,
                self.info,
                encoding=self.mapping.encoding,
                delimiter=self.mapping.delimiter,
                chunk_rows=self.chunk_rows,
            )
        return read_table_chunks(
            self.path, self.info, sheet=self.mapping.sheet, chunk_rows=self.chunk_rows
        )

    def __iter__(self) -> Iterator[IntakeResult]:
        from tqdm.auto import tqdm

        from workbench.intake._worker import results_from_worker, use_worker

        bar = tqdm(
            desc=f"{self.table}: {self.path.name}",
            unit=" rows",
            disable=not self.progress or is_quiet(),  # --quiet silences every bar
            leave=False,
        )
        results = results_from_worker(self) if use_worker(self) else self.results()
        try:
            for result in results:
                bar.update(int(result.report["rows_read"]))
                yield result
        finally:
            results.close()  # a worker process is stopped when the consumer stops early
            bar.close()

    def results(self) -> Generator[IntakeResult, None, None]:
        """The chunks' results, read and checked in this process; then ``report``."""
        # the file's SHA-256 is read on a second thread (hashlib lets go of the GIL) while
        # its encoding is checked and its first chunk read; the first report waits for it
        pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-sha256")
        self._digest = pool.submit(sha256_file, self.path)
        pool.shutdown(wait=False)
        renames: dict[str, str] | None = None
        for chunk in ahead(self._chunks()):  # the next chunk parsed while this is checked
            if renames is None:
                renames = resolve_columns(
                    self.info.columns, self.table, self.mapping, str(self.path)
                )
            yield self._check(chunk, renames)
        self._seen.close()  # the file is read: its keys' temporary files go
        self.report = self._final_report(renames or {})

    def portable(self) -> IntakeStream:
        """A copy to read the file in another process (whose geocoder it makes there)."""
        if not self.portable_geocode:
            raise ValueError("a stream with the caller's own geocoder is read in its process")
        copy = object.__new__(IntakeStream)
        copy.__dict__.update(self.__dict__, geocode=None, _digest=None)
        return copy

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.geocode is None:
            self.geocode = offline_geocoder()

    def adopt(self, report: dict[str, Any], info: FileInfo, sha256: str) -> None:
        """Take what reading the file elsewhere found: its report, file facts and digest."""
        self.report, self.info = report, info
        self._digest = Future()
        self._digest.set_result(sha256)

    def _check(self, chunk: RawChunk, renames: dict[str, str]) -> IntakeResult:
        source = chunk.frame
        raw = source[list(renames)].rename(columns=renames).reset_index(drop=True)
        n = len(raw)
        out = Verdicts(n)
        spec = self.spec
        check_required(raw, spec, out)
        parsed: dict[str, Any] = {}
        if spec.has_points:
            parsed.update(
                check_points(
                    raw,
                    spec,
                    out,
                    coord_system=self.mapping.coord_system,
                    country=self.mapping.country,
                    geocode=self.geocode,
                )
            )
        parsed.update(check_typed(raw, spec, out, self.mapping.dayfirst, self.mapping.timezone))
        parsed.update(check_choices(raw, spec, out))
        for column in spec.ids:
            if column in raw.columns:
                parsed[column] = trimmed(raw[column])
        if spec.key and spec.key in raw.columns:
            self._seen.check(parsed[spec.key], spec.key, raw[spec.key], out)
        bad = out.bad
        columns = [c for c in spec.fields if c in raw.columns or c in parsed]
        if spec.has_points:
            columns += [c for c in ("source_lat", "source_lon") if c not in columns]
        frame = pd.DataFrame(
            {c: parsed[c] if c in parsed else raw[c] for c in columns}, index=raw.index
        )
        repairs = out.repair_codes()
        if spec.has_points:
            frame["repair"] = repairs
        clean = frame.loc[~bad].reset_index(drop=True)
        for column in ("lat", "lon", "source_lat", "source_lon"):
            if column in clean.columns:
                clean[column] = clean[column].astype(np.float64)
        quarantine = self._quarantine(source, chunk, bad, out)
        kept = repairs[~bad]
        codes = Counter(code for text in kept if text for code in str(text).split(";"))
        reasons = Counter(quarantine["reason"].tolist())
        report = {
            "rows_read": n + len(chunk.rejected),
            "rows_stored": len(clean),
            "rows_quarantined": len(quarantine),
        }
        self._counts["read"] += report["rows_read"]
        self._counts["stored"] += len(clean)
        self._counts["reasons"].update(reasons)
        self._counts["repairs"].update(codes)
        self._counts["repaired"] += int((kept != "").sum())
        report.update(self._identity())
        return IntakeResult(self.table, clean, quarantine, report)

    def _identity(self) -> dict[str, Any]:
        return {"table": self.table, "source": str(self.path), "sha256": self.sha256}

    @property
    def sha256(self) -> str:
        """The file's SHA-256 (read once iteration has started, or now)."""
        if self._digest is None:
            self._digest = Future()
            self._digest.set_result(sha256_file(self.path))
        return self._digest.result()

    def _quarantine(
        self, source: pd.DataFrame, chunk: RawChunk, bad: np.ndarray, out: Verdicts
    ) -> pd.DataFrame:
        rows = source.reset_index(drop=True).loc[bad]
        raw_json = [json.dumps(r, ensure_ascii=False) for r in rows.to_dict(orient="records")]
        frame = pd.DataFrame(
            {
                "source": str(self.path),
                "row_number": chunk.row_number[bad],
                "raw": raw_json,
                "reason": out.reason[bad].astype(str),
                "message": out.message[bad].astype(str),
            },
            columns=QUARANTINE_COLUMNS,
        )
        if chunk.rejected:
            ragged = pd.DataFrame(
                {
                    "source": str(self.path),
                    "row_number": [r["row_number"] for r in chunk.rejected],
                    "raw": [r["raw"] for r in chunk.rejected],
                    "reason": "ragged_row",
                    "message": [f"row {r['row_number']} {r['message']}" for r in chunk.rejected],
                },
                columns=QUARANTINE_COLUMNS,
            )
            frame = pd.concat([frame, ragged], ignore_index=True)
            frame = frame.sort_values("row_number", kind="stable", ignore_index=True)
        frame["row_number"] = frame["row_number"].astype(np.int64)
        return frame

    def _final_report(self, renames: dict[str, str]) -> dict[str, Any]:
        c = self._counts
        quarantined = int(sum(c["reasons"].values()))
        warnings = list(self.info.warnings)
        if c["read"] == 0:
            warnings.append("the file has a header but no rows")
        return {
            **self._identity(),
            "format": self.info.format,
            "encoding": "utf-8 (BOM)" if self.info.encoding == "utf-8-sig" else self.info.encoding,
            "delimiter": self.info.delimiter,
            "columns": dict(renames),
            "unmapped_columns": [c for c in self.info.columns if c not in renames],
            "rows_read": int(c["read"]),
            "rows_stored": int(c["stored"]),
            "rows_quarantined": quarantined,
            "quarantine_reasons": dict(sorted(c["reasons"].items())),
            "rows_repaired": int(c["repaired"]),
            "repairs": dict(sorted(c["repairs"].items())),
            "warnings": warnings,
        }


def stream_table(
    path: str | os.PathLike[str],
    table: str,
    *,
    mapping: MappingLike = None,
    chunk_rows: int = CHUNK_ROWS,
    geocode: Geocode | None = None,
    progress: bool | None = None,
) -> IntakeStream:
    """Read ``path`` as ``table`` chunk by chunk (see :class:`IntakeStream`)."""
    return IntakeStream(
        path, table, mapping=mapping, chunk_rows=chunk_rows, geocode=geocode, progress=progress
    )


def load_table(
    path: str | os.PathLike[str],
    table: str,
    *,
    mapping: MappingLike = None,
    geocode: Geocode | None = None,
    progress: bool | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> IntakeResult:
    """Load one export file as the canonical ``table`` (sellers, shipments, ...)."""
    stream = stream_table(
        path, table, mapping=mapping, geocode=geocode, progress=progress, chunk_rows=chunk_rows
    )
    parts = list(stream)
    frames = [p.frame for p in parts]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    quarantines = [p.quarantine for p in parts if len(p.quarantine)]
    quarantine = (
        pd.concat(quarantines, ignore_index=True)
        if quarantines
        else pd.DataFrame({c: [] for c in QUARANTINE_COLUMNS}).astype({"row_number": np.int64})
    )
    return IntakeResult(table, frame, quarantine, stream.report)


def _loader(table: str, what: str) -> Callable[..., IntakeResult]:
    def load(
        path: str | os.PathLike[str],
        *,
        mapping: MappingLike = None,
        geocode: Geocode | None = None,
        progress: bool | None = None,
    ) -> IntakeResult:
        return load_table(path, table, mapping=mapping, geocode=geocode, progress=progress)

    load.__name__ = f"load_{table}"
    load.__doc__ = (
        f"Load {what} from a CSV, TSV, XLSX, Parquet, GeoJSON or GeoPackage file.\n\n"
        f"``mapping`` is a mapping file (YAML/JSON), a dict, or None for header synonyms."
    )
    return load


load_sellers = _loader("sellers", "seller accounts (seller_id, name, platform, ...)")
load_identifiers = _loader("identifiers", "identifiers seen on accounts (seller_id, kind, value)")
load_shipments = _loader("shipments", "waybills (shipment_id, seller_id, lat, lon, ...)")
load_evidence = _loader("evidence", "evidence: test buys, complaints, takedowns")
load_locations = _loader("locations", "warehouse, return and registered addresses")
