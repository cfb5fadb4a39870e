"""Mapping files: which source column feeds each canonical field, per table.

A mapping is YAML or JSON (or the same as a dict)::

    shipments:
      encoding: gb18030        # optional: otherwise detected
      delimiter: ","           # optional: otherwise detected
      sheet: 运单              # XLSX sheet or GeoPackage layer (default: the first)
      coord_system: gcj02      # the file's datum when there is no per-row column
      country: CN              # where the points must be (repairs swapped axes)
      dayfirst: true           # 01/03/2026 is 1 March (only needed when a file is ambiguous)
      columns:
        shipment_id: 运单号
        seller_id: 店铺ID
        lat: 纬度
        lon: 经度
        coord_system: 坐标系    # a per-row system column

A section may also be the ``columns`` mapping alone (``shipments: {shipment_id: 运单号}``).
Unknown keys and fields are errors that list the valid ones.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench._intake_rules import TABLES
from workbench.errors import InputError, InvalidFileError

OPTIONS = ("encoding", "delimiter", "sheet", "coord_system", "country", "dayfirst", "columns")


@dataclass(frozen=True)
class TableMapping:
    """How one table's file is read and which source column feeds each field."""

    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> source column
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    coord_system: str | None = None
    country: str | None = None
    dayfirst: bool | None = None


MappingLike = Mapping[str, Any] | TableMapping | str | os.PathLike[str] | None


def read_mapping_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw content of a YAML or JSON mapping file."""
    file = Path(path)
    if not file.is_file():
        raise InvalidFileError(f"{file}: no such mapping file")
    text = file.read_text(encoding="utf-8-sig")
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except (ValueError, Exception) as exc:  # yaml.YAMLError and json errors
        raise InvalidFileError(f"{file}: not valid YAML/JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InvalidFileError(f"{file}: a mapping file holds one section per table")
    unknown = sorted(set(data) - set(TABLES))
    if unknown:
        raise InvalidFileError(
            f"{file}: unknown table section(s) {unknown}; tables: {', '.join(TABLES)}"
        )
    return data


def table_mapping(mapping: MappingLike, table: str, where: str = "mapping") -> TableMapping:
    """The mapping for ``table`` from a file path, a whole mapping, a section or None."""
    if mapping is None:
        return TableMapping()
    if isinstance(mapping, TableMapping):
        return mapping
    if isinstance(mapping, str | os.PathLike):
        where = str(mapping)
        data = read_mapping_file(mapping)
        return _section(data.get(table) or {}, table, where)
    if set(mapping) & set(TABLES) and not set(mapping) & set(TABLES[table].fields):
        return _section(mapping.get(table) or {}, table, where)
    return _section(mapping, table, where)


def _section(section: Mapping[str, Any], table: str, where: str) -> TableMapping:
    spec = TABLES[table]
    if not isinstance(section, Mapping):
        raise InputError(f"{where}: section {table!r} must be a mapping of fields to columns")
    # option names win over field names (coord_system is both): a flat section has none
    if not set(section) & set(OPTIONS) and set(section) <= set(spec.fields):
        section = {"columns": section}
    unknown = sorted(set(section) - set(OPTIONS))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {unknown} in section {table!r}; keys: {', '.join(OPTIONS)}"
        )
    columns = dict(section.get("columns") or {})
    bad_fields = sorted(set(columns) - set(spec.fields))
    if bad_fields:
        raise InputError(
            f"{where}: {table} has no field(s) {bad_fields}; fields: {', '.join(spec.fields)}"
        )
    dayfirst = section.get("dayfirst")
    if dayfirst is not None and not isinstance(dayfirst, bool):
        raise InputError(f"{where}: {table}.dayfirst must be true or false, got {dayfirst!r}")
    return TableMapping(
        columns={str(k): str(v) for k, v in columns.items()},
        encoding=section.get("encoding"),
        delimiter=section.get("delimiter"),
        sheet=None if section.get("sheet") is None else str(section.get("sheet")),
        coord_system=section.get("coord_system"),
        country=section.get("country"),
        dayfirst=dayfirst,
    )


def resolve_columns(
    found: list[str], table: str, mapping: TableMapping, source: str
) -> dict[str, str]:
    """Source column -> canonical field: the mapping first, then header synonyms.

    A mapping naming a missing column, two columns claiming one field, or a required field
    with no column are errors that list the columns found.
    """
    from workbench.errors import MissingColumnsError

    spec = TABLES[table]
    renames: dict[str, str] = {}
    for canonical, column in mapping.columns.items():
        if column not in found:
            raise MissingColumnsError(
                f"{source} (the mapping names column {column!r} for {canonical!r})",
                [column],
                found,
            )
        renames[column] = canonical
    claimed: dict[str, list[str]] = {}
    for column in found:
        if column in renames:
            continue
        canonical = spec.synonyms.get(column.strip().casefold(), column.strip().casefold())
        if canonical in spec.fields and canonical not in renames.values():
            claimed.setdefault(canonical, []).append(column)
    for canonical, columns in claimed.items():
        if len(columns) > 1:
            raise InputError(
                f"{source}: columns {columns} could each be {canonical!r}; name the one to use "
                f"in the mapping (columns: {canonical}: ...)"
            )
        renames[columns[0]] = canonical
    fields = set(renames.values())
    missing = [c for c in spec.required if c not in fields]
    placed = {"lat", "lon"} <= fields or spec.address in fields
    if table == "shipments" and not placed:
        missing += ["lat and lon (or origin_address)"]
    if {"lat", "lon"} & fields and not {"lat", "lon"} <= fields:
        missing += sorted({"lat", "lon"} - fields)
    if missing:
        raise MissingColumnsError(f"{table} file {source}", missing, found)
    return renames
