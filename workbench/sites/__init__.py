"""Production sites: ship-from points clustered into candidate workshops, ranked by evidence.

:class:`SiteFinder` (``_finder``) follows the scikit-learn estimator contract; the density
clustering and its numba kernels are ``_density`` / ``_density_jit``, the per-waybill codes,
tallies and descriptions ``_waybills``, ``_tally``, ``_describe``, ``_geometry``.
"""

from workbench.sites._finder import FIT_STEPS, SiteFinder, compile_kernels, find_sites

__all__ = ["FIT_STEPS", "SiteFinder", "compile_kernels", "find_sites"]
