"""Mapping files: which source column feeds each canonical field, per table.

A mapping is YAML or JSON (or the same as a dict)::

    shipments:
      encoding: gb18030        # optional: otherwise detected
      delimiter: ","           # optional: otherwise detected
      sheet: 运单              # XLSX sheet or GeoPackage layer (default: the first)
      default_coord_system: gcj02  # the file's datum where no per-row system is given
      country: CN              # where the points must be (repairs swapped axes)
      dayfirst: true           # 01/03/2026 is 1 March (only needed when a file is ambiguous)
      timezone: Asia/Shanghai  # local time of times written with an offset (the default)
      columns:
        shipment_id: 运单号
        seller_id: 店铺ID
        lat: 纬度
        lon: 经度
        coord_system: 坐标系    # a per-row system column

A section may also be the ``columns`` mapping alone (``shipments: {shipment_id: 运单号,
coord_system: 坐标系}``): a section with no ``columns`` key whose keys are all fields is read
that way, so every field, ``coord_system`` included, can be mapped in the flat form. (Before
``default_coord_system`` existed the file default was spelled ``coord_system``; that spelling
is still read as the default in a section that has ``columns``.) Unknown keys and fields, and
values of the wrong kind, are errors that name the key and list what is valid.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError, InvalidFileError
from workbench.schema import TABLES

OPTIONS = (
    "encoding", "delimiter", "sheet", "default_coord_system", "country", "dayfirst", "timezone",
    "columns",
)  # fmt: skip
_LEGACY_OPTIONS = {"coord_system": "default_coord_system"}  # read in structured sections


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
    timezone: str | None = None


MappingLike = Mapping[str, Any] | TableMapping | str | os.PathLike[str] | None


MAX_MAPPING_BYTES = 1 << 20


def _yaml(text: str) -> Any:
    """YAML without aliases: a few bytes of nested ``*alias`` expand to gigabytes."""
    import yaml

    class NoAliases(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                mark = self.peek_event().start_mark
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in a mapping file", mark
                )
            return super().compose_node(parent, index)

    return yaml.load(text, Loader=NoAliases)  # noqa: S506 - a SafeLoader without aliases


def read_mapping_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The raw content of a YAML or JSON mapping file."""
    file = Path(path)
    if not file.is_file():
        raise InvalidFileError(f"{file}: no such mapping file")
    if file.stat().st_size > MAX_MAPPING_BYTES:
        raise InvalidFileError(
            f"{file}: {file.stat().st_size:,} bytes; a mapping file is at most "
            f"{MAX_MAPPING_BYTES:,} bytes (one short section per table)"
        )
    try:
        text = file.read_text(encoding="utf-8-sig")
        data = json.loads(text) if file.suffix.lower() == ".json" else _yaml(text)
    except UnicodeDecodeError as exc:
        raise InvalidFileError(
            f"{file}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from exc
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
    # flat: no "columns" and every key a field (coord_system included: a per-row column)
    if "columns" not in section and set(section) <= set(spec.fields):
        section = {"columns": section}
    legacy = next((k for k in _LEGACY_OPTIONS if k in section), None)
    section = {_LEGACY_OPTIONS.get(str(k), str(k)): v for k, v in section.items()}
    unknown = sorted(set(section) - set(OPTIONS))
    if unknown:
        raise InputError(
            f"{where}: unknown key(s) {unknown} in section {table!r}; keys: {', '.join(OPTIONS)}"
        )
    key = f"{where}: {table}"
    columns = _columns(section.get("columns"), spec.fields, key)
    dayfirst = section.get("dayfirst")
    if dayfirst is not None and not isinstance(dayfirst, bool):
        raise InputError(f"{key}.dayfirst must be true or false, got {dayfirst!r}")
    return TableMapping(
        columns=columns,
        encoding=_encoding(section.get("encoding"), key),
        delimiter=_delimiter(section.get("delimiter"), key),
        sheet=_text(section.get("sheet"), f"{key}.sheet", "a sheet name"),
        coord_system=_system(
            section.get("default_coord_system"), f"{key}.{legacy or 'default_coord_system'}"
        ),
        country=_text(section.get("country"), f"{key}.country", "a country code such as CN"),
        dayfirst=dayfirst,
        timezone=_zone(section.get("timezone"), key),
    )


def _zone(value: Any, key: str) -> str | None:
    import zoneinfo

    text = _text(value, f"{key}.timezone", "a time zone name such as Asia/Shanghai")
    if text is None:
        return None
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"{key}.timezone: {text!r} is not a time zone; use a name such as Asia/Shanghai, "
            "Asia/Hong_Kong or Europe/London"
        ) from exc
    return text


def _text(value: Any, key: str, what: str) -> str | None:
    """A scalar option as text (None when absent); lists and mappings are errors."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputError(f"{key}: expected {what}, got {value!r}")
    return str(value)


def _columns(value: Any, fields: tuple[str, ...], key: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(f"{key}.columns: expected field: column pairs, got {value!r}")
    bad_fields = sorted(set(map(str, value)) - set(fields))
    if bad_fields:
        raise InputError(f"{key} has no field(s) {bad_fields}; fields: {', '.join(fields)}")
    return {str(k): str(_text(v, f"{key}.columns.{k}", "a column name")) for k, v in value.items()}


def _encoding(value: Any, key: str) -> str | None:
    import codecs

    if value is None:
        return None
    if not isinstance(value, str):
        raise InputError(
            f"{key}.encoding: expected the name of a text encoding (gb18030, utf-8, ...), "
            f"got {value!r}"
        )
    try:
        info = codecs.lookup(value)
    except LookupError:
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise InputError(
            f"{key}.encoding: {value!r} is not a text encoding; use e.g. gb18030, gbk, utf-8, "
            "utf-16, big5, or leave it out to detect it"
        )
    return value


def _delimiter(value: Any, key: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != 1 or value in '\r\n"':
        raise InputError(
            f"{key}.delimiter: expected one character such as ',', ';', '|' or a tab, got {value!r}"
        )
    return value


def _system(value: Any, key: str) -> str | None:
    from workbench.coords import SYSTEMS, canonical_system

    if value is None:
        return None
    expected = f"expected one of {', '.join(SYSTEMS)} (or a name for one, such as GCJ-02)"
    if not isinstance(value, str):
        raise InputError(f"{key}: {expected}, got {value!r}")
    if not str(canonical_system(value)):
        raise InputError(f"{key}: {value!r} is not a known system; {expected}")
    return value


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
