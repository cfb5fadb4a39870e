"""Production sites: ship-from points clustered into candidate workshops, ranked by evidence.

:class:`SiteFinder` (``_finder``) follows the scikit-learn estimator contract; the density
clustering and its numba kernels are ``_density`` / ``_density_jit``, the per-waybill codes,
tallies and descriptions ``_waybills``, ``_tally``, ``_describe``, ``_geometry``. Over time,
:func:`find_relocations` (``_relocation``, with ``_relocation_evidence``) says which networks
moved from one site to another and which run several sites side by side. On a Dask cluster
(``fit(..., client=make_client(workers=2))``), ``_distributed`` with ``_tiles``, ``_merge``
and ``_tile_tasks`` cluster tiles of the points on the workers, with the same result.
"""

from workbench.sites._distributed import make_client
from workbench.sites._finder import FIT_STEPS, SiteFinder, compile_kernels, find_sites
from workbench.sites._relocation import Relocations, find_relocations

__all__ = [
    "FIT_STEPS",
    "Relocations",
    "SiteFinder",
    "compile_kernels",
    "find_relocations",
    "find_sites",
    "make_client",
]
