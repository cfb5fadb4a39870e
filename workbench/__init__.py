"""Counterfeit Workbench: trace counterfeit goods from marketplace exports to workshops.

The public API is imported lazily, so ``import workbench`` is cheap (the Jupyter server
imports this package to find its extension and should not pay for geopandas)::

    import workbench
    demo = workbench.generate_demo("demo-data", seed=7)
    result = workbench.run_investigation(demo.folder, "out")
    print(result.tip_sheets[0])
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:  # written once, in extension/package.json; the build copies it into the metadata
    __version__ = version("counterfeit-workbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# public name -> module that defines it
_PUBLIC: dict[str, str] = {
    "generate_demo": "workbench.demo",
    "DemoData": "workbench.demo",
    "load_sellers": "workbench.intake",
    "load_identifiers": "workbench.intake",
    "load_shipments": "workbench.intake",
    "load_evidence": "workbench.intake",
    "load_locations": "workbench.intake",
    "IntakeResult": "workbench.intake",
    "load_table": "workbench.intake",
    "stream_table": "workbench.intake",
    "geocode_addresses": "workbench.geocode",
    "CachedGeocoder": "workbench.geocode",
    "to_wgs84": "workbench.coords",
    "gcj02_to_wgs84": "workbench.coords",
    "bd09_to_wgs84": "workbench.coords",
    "link_sellers": "workbench.networks",
    "explain_link": "workbench.networks",
    "Networks": "workbench.networks",
    "SiteFinder": "workbench.sites",
    "find_sites": "workbench.sites",
    "jurisdiction": "workbench.gazetteer",
    "site_map": "workbench.maps",
    "MapView": "workbench.maps",
    "explore": "workbench.explorer",
    "Explorer": "workbench.explorer",
    "Selection": "workbench._explorer_data",
    "tip_sheet_context": "workbench.tipsheet",
    "render_tip_sheet": "workbench.tipsheet",
    "export_tip_sheet": "workbench.bundle",
    "verify_bundle": "workbench.bundle",
    "init_keys": "workbench.keys",
    "Investigation": "workbench.investigation",
    "load_investigation": "workbench.investigation",
    "run_investigation": "workbench.investigation",
    "write_tip_sheets": "workbench.investigation",
    "open_case": "workbench.case",
    "describe_networks": "workbench.networks",
    "network_graph": "workbench.network_graph",
    "draw_network": "workbench.network_graph",
    "export_network": "workbench.network_graph",
    "Case": "workbench.case",
}

__all__ = [
    "CachedGeocoder",
    "Case",
    "DemoData",
    "Explorer",
    "IntakeResult",
    "Investigation",
    "MapView",
    "Networks",
    "Selection",
    "SiteFinder",
    "__version__",
    "bd09_to_wgs84",
    "describe_networks",
    "draw_network",
    "explain_link",
    "explore",
    "export_network",
    "export_tip_sheet",
    "find_sites",
    "gcj02_to_wgs84",
    "generate_demo",
    "geocode_addresses",
    "init_keys",
    "jurisdiction",
    "link_sellers",
    "load_evidence",
    "load_identifiers",
    "load_investigation",
    "load_locations",
    "load_sellers",
    "load_shipments",
    "load_table",
    "network_graph",
    "open_case",
    "render_tip_sheet",
    "run_investigation",
    "site_map",
    "stream_table",
    "tip_sheet_context",
    "to_wgs84",
    "verify_bundle",
    "write_tip_sheets",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from workbench.bundle import export_tip_sheet, verify_bundle
    from workbench.case import Case, open_case
    from workbench.coords import bd09_to_wgs84, gcj02_to_wgs84, to_wgs84
    from workbench.demo import DemoData, generate_demo
    from workbench.gazetteer import jurisdiction
    from workbench.geocode import CachedGeocoder, geocode_addresses
    from workbench.intake import (
        IntakeResult,
        load_evidence,
        load_identifiers,
        load_locations,
        load_sellers,
        load_shipments,
        load_table,
        stream_table,
    )
    from workbench.investigation import (
        Investigation,
        load_investigation,
        run_investigation,
        write_tip_sheets,
    )
    from workbench.keys import init_keys
    from workbench.maps import MapView, site_map
    from workbench.network_graph import draw_network, export_network, network_graph
    from workbench.networks import Networks, describe_networks, explain_link, link_sellers
    from workbench.sites import SiteFinder, find_sites
    from workbench.tipsheet import render_tip_sheet, tip_sheet_context


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """Where JupyterLab finds the prebuilt frontend extension."""
    return [{"src": "labextension", "dest": "counterfeit-workbench"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    """The Jupyter server extension that lists and copies investigation templates."""
    return [{"module": "workbench._server"}]
