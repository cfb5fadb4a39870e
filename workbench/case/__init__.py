"""The case: one investigation's store (GeoPackage on SQLite) and the only bridge between
storage and the algorithms.

``_case`` is the :class:`Case` facade; ``_schema`` its versioned migrations, ``_io`` and
``_reader`` the Arrow paths in and out, ``_staging`` the scratch file of an ingest, ``_sites``
the site rows, ``_gpkg`` the GeoPackage layout and ``audit`` the hash-chained audit log.
``_xref`` cross-references a case against earlier cases (``_xref_sources`` opens them
read-only, ``_xref_index`` and ``_fingerprint`` make the identifier fingerprints,
``_xref_store`` stores and reads the matches).

The names below are imported when first used, so a light module of the package (the
site finder's column reader, :mod:`workbench.case._site_arrays`) loads without pandas and
geopandas: ``workbench sites`` starts reading the waybills while those load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from workbench.case._case import FIND_SITES_STEPS, Case, open_case
    from workbench.case._xref import cross_reference, cross_references

__all__ = ["FIND_SITES_STEPS", "Case", "cross_reference", "cross_references", "open_case"]

_WHERE = {
    "FIND_SITES_STEPS": "workbench.case._case",
    "Case": "workbench.case._case",
    "open_case": "workbench.case._case",
    "cross_reference": "workbench.case._xref",
    "cross_references": "workbench.case._xref",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench.case' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
