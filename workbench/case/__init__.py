"""The case: one investigation's store (GeoPackage on SQLite) and the only bridge between
storage and the algorithms.

``_case`` is the :class:`Case` facade; ``_schema`` its versioned migrations, ``_io`` and
``_reader`` the Arrow paths in and out, ``_staging`` the scratch file of an ingest, ``_sites``
the site rows, ``_gpkg`` the GeoPackage layout and ``audit`` the hash-chained audit log.
``_xref`` cross-references a case against earlier cases (``_xref_sources`` opens them
read-only, ``_xref_index`` and ``_fingerprint`` make the identifier fingerprints,
``_xref_store`` stores and reads the matches).
"""

from workbench.case._case import FIND_SITES_STEPS, Case, open_case
from workbench.case._xref import cross_reference, cross_references

__all__ = ["FIND_SITES_STEPS", "Case", "cross_reference", "cross_references", "open_case"]
