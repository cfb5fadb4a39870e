"""Intake: export files (CSV/TSV, XLSX, Parquet, GeoJSON, GeoPackage) -> canonical frames.

Reading (``_read``, ``_encoding``, ``_xlsx``), column mapping (``_mapping``), row checks
(``_rules``) and coordinates (``_coords``); :func:`load_table` and :func:`stream_table` are the
way in, and :func:`find_exports` (``_folder``) tells which file of a folder holds which
table. Rows that fail a check go to the quarantine with a reason, never silently dropped.
"""

from workbench.intake._folder import Exports, find_exports
from workbench.intake._table import (
    IntakeResult,
    load_evidence,
    load_identifiers,
    load_locations,
    load_sellers,
    load_shipments,
    load_table,
    stream_table,
)

__all__ = [
    "Exports",
    "IntakeResult",
    "find_exports",
    "load_evidence",
    "load_identifiers",
    "load_locations",
    "load_sellers",
    "load_shipments",
    "load_table",
    "stream_table",
]
