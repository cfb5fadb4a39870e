"""The case: one investigation's store (GeoPackage on SQLite) and the only bridge between
storage and the algorithms.

``_case`` is the :class:`Case` facade; ``_schema`` its versioned migrations, ``_io`` and
``_reader`` the Arrow paths in and out, ``_staging`` the scratch file of an ingest, ``_sites``
the site rows, ``_gpkg`` the GeoPackage layout and ``audit`` the hash-chained audit log.
"""

from workbench.case._case import FIND_SITES_STEPS, Case, open_case

__all__ = ["FIND_SITES_STEPS", "Case", "open_case"]
