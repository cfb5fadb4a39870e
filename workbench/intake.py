"""Intake: read platform exports into canonical tables, quarantining rows that fail checks.

Every loader returns an :class:`IntakeResult` holding the clean table, the quarantined rows
(raw row, file, line number, reason code, message) and a report. The invariant
``rows_read == rows_stored + rows_quarantined`` holds for every file; nothing is dropped
silently.

>>> result = load_shipments("demo-data/shipments.csv")   # doctest: +SKIP
>>> result.report["rows_read"] == result.report["rows_stored"] + result.report["rows_quarantined"]
True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench._intake_rules import TABLES, TableSpec, check_rows
from workbench.errors import InvalidFileError, MissingColumnsError

__all__ = [
    "IntakeResult",
    "load_evidence",
    "load_identifiers",
    "load_locations",
    "load_sellers",
    "load_shipments",
    "load_table",
    "sha256_file",
]

QUARANTINE_COLUMNS = ["source", "row_number", "raw", "reason", "message"]
_ENCODINGS = ("utf-8-sig", "gb18030")


@dataclass
class IntakeResult:
    """What one file yielded: the clean table, its quarantine and the intake report."""

    table: str
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    report: dict[str, Any] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in self.report.items()
        )
        return f"<table><caption>intake: {_esc(self.table)}</caption>{rows}</table>"


def _esc(value: object) -> str:
    import html

    return html.escape(str(value))


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB blocks."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sniff_delimiter(path: Path, encoding: str) -> str:
    """The delimiter of a text table: the candidate that splits the header most evenly."""
    with open(path, encoding=encoding, errors="replace") as fh:
        head = [fh.readline() for _ in range(20)]
    lines = [line for line in head if line.strip()]
    if not lines:
        return ","
    counts = {d: [line.count(d) for line in lines] for d in (",", "\t", ";", "|")}
    consistent = {d: c[0] for d, c in counts.items() if c[0] > 0 and len(set(c)) == 1}
    pool = consistent or {d: c[0] for d, c in counts.items()}
    return max(pool, key=lambda d: pool[d]) if max(pool.values()) > 0 else ","


def _read_raw(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a file with every cell as text; returns the frame and the encoding used."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises several unrelated types
            raise InvalidFileError(f"{path}: not a readable Parquet file ({exc})") from exc
        text = frame.astype(object).where(frame.notna(), "").astype(str)
        return text, "parquet"
    if suffix not in {".csv", ".tsv", ".txt"}:
        raise InvalidFileError(
            f"{path}: unsupported file type {suffix!r}; expected .csv, .tsv, .txt or .parquet"
        )
    for encoding in _ENCODINGS:
        try:
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                sep=_sniff_delimiter(path, encoding),
            )
        except UnicodeDecodeError:
            continue
        except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError) as exc:
            raise InvalidFileError(f"{path}: cannot be read as CSV ({exc})") from exc
        return frame, "utf-8" if encoding == "utf-8-sig" else encoding
    raise InvalidFileError(f"{path}: text is neither UTF-8 nor GB18030; re-export it as UTF-8")


def _apply_mapping(
    frame: pd.DataFrame, spec: TableSpec, mapping: Mapping[str, str] | None, source: str
) -> pd.DataFrame:
    """Rename source columns to canonical names (explicit mapping first, then synonyms)."""
    stripped = {c: str(c).strip() for c in frame.columns}
    frame = frame.rename(columns=stripped)
    renames: dict[str, str] = {}
    for canonical, source_col in (mapping or {}).items():
        if source_col not in frame.columns:
            raise MissingColumnsError(
                f"{source} (mapping for {canonical!r})", [source_col], list(frame.columns)
            )
        renames[source_col] = canonical
    for column in frame.columns:
        if column in renames:
            continue
        canonical = spec.synonyms.get(column.casefold(), column)
        if canonical in spec.fields and canonical not in renames.values():
            renames[column] = canonical
    frame = frame.rename(columns=renames)
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        raise MissingColumnsError(f"{spec.name} file {source}", missing, list(frame.columns))
    return frame


def load_table(
    path: str | os.PathLike[str], table: str, *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load one export file as the canonical ``table`` (sellers, shipments, ...)."""
    if table not in TABLES:
        raise InvalidFileError(f"table={table!r} is not one of {', '.join(sorted(TABLES))}")
    spec = TABLES[table]
    file = Path(path)
    if not file.is_file():
        raise InvalidFileError(f"{file}: no such file (for the {table} table)")
    raw, encoding = _read_raw(file)
    raw = _apply_mapping(raw, spec, mapping, str(file))
    parsed, reasons, messages = check_rows(raw, spec)
    bad = reasons.notna().to_numpy()
    quarantine = pd.DataFrame(
        {
            "source": str(file),
            "row_number": np.flatnonzero(bad) + 2,  # file line: header is line 1
            "raw": [
                json.dumps(row, ensure_ascii=False)
                for row in raw.loc[bad].to_dict(orient="records")
            ],
            "reason": reasons[bad].astype(str).to_numpy(),
            "message": messages[bad].astype(str).to_numpy(),
        },
        columns=QUARANTINE_COLUMNS,
    )
    clean = parsed.loc[~bad].reset_index(drop=True)
    report: dict[str, Any] = {
        "table": table,
        "source": str(file),
        "sha256": sha256_file(file),
        "encoding": encoding,
        "rows_read": len(raw),
        "rows_stored": len(clean),
        "rows_quarantined": int(bad.sum()),
        "quarantine_reasons": {str(k): int(v) for k, v in reasons[bad].value_counts().items()},
    }
    return IntakeResult(table, clean, quarantine, report)


def load_sellers(
    path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load seller accounts (seller_id, name, platform, registered_address, registered_at)."""
    return load_table(path, "sellers", mapping=mapping)


def load_identifiers(
    path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load identifiers seen on accounts (seller_id, kind, value)."""
    return load_table(path, "identifiers", mapping=mapping)


def load_shipments(
    path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load waybills (shipment_id, seller_id, lat, lon, shipped_at, items, value_cny, ...)."""
    return load_table(path, "shipments", mapping=mapping)


def load_evidence(
    path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load evidence: test buys, complaints, takedowns with their verdicts."""
    return load_table(path, "evidence", mapping=mapping)


def load_locations(
    path: str | os.PathLike[str], *, mapping: Mapping[str, str] | None = None
) -> IntakeResult:
    """Load warehouse, return and registered addresses of sellers."""
    return load_table(path, "locations", mapping=mapping)
