"""Counterfeit Workbench: trace counterfeit goods from marketplace exports to workshops.

The public API is imported lazily, so ``import workbench`` is cheap (the Jupyter server
imports this package to find its extension and should not pay for geopandas)::

    import workbench
    demo = workbench.generate_demo("demo-data", seed=7)
    result = workbench.run_investigation(demo.folder, "out")   # into the case out/case.gpkg
    print(result.describe(), result.next_steps(), sep="\n")
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

try:  # written once, in extension/package.json; the build copies it into the metadata
    __version__ = version("counterfeit-workbench")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

# public name -> the subpackage (or shared module) that provides it, grouped as the package is
_PUBLIC: dict[str, str] = {
    **dict.fromkeys(("to_wgs84", "gcj02_to_wgs84", "bd09_to_wgs84"), "workbench.coords"),
    **dict.fromkeys(("jurisdiction",), "workbench.gazetteer"),
    **dict.fromkeys(("geocode_addresses", "CachedGeocoder"), "workbench.geocode"),
    **dict.fromkeys(
        (
            "find_exports",
            "Exports",
            "load_table",
            "stream_table",
            "IntakeResult",
            "load_sellers",
            "load_identifiers",
            "load_shipments",
            "load_evidence",
            "load_locations",
        ),
        "workbench.intake",
    ),
    **dict.fromkeys(
        (
            "link_sellers",
            "explain_link",
            "Networks",
            "describe_networks",
            "network_graph",
            "draw_network",
            "export_network",
        ),
        "workbench.networks",
    ),
    **dict.fromkeys(
        ("SiteFinder", "find_sites", "find_relocations", "Relocations"), "workbench.sites"
    ),
    **dict.fromkeys(
        (
            "generate_demo",
            "DemoData",
            "generate_known_offenders",
            "KnownOffenders",
            "generate_relocations",
            "RelocationDemo",
        ),
        "workbench.demo",
    ),
    **dict.fromkeys(("Case", "cross_references"), "workbench.case"),
    # a path, or a team case's URL
    **dict.fromkeys(("open_case", "cross_reference"), "workbench.opening"),
    **dict.fromkeys(
        (
            "export_tip_sheet",
            "verify_bundle",
            "init_keys",
            "tip_sheet_context",
            "render_tip_sheet",
            "export_exchange_list",
            "import_exchange_list",
        ),
        "workbench.export",
    ),
    **dict.fromkeys(("site_map", "MapView"), "workbench.maps"),
    **dict.fromkeys(("explore", "Explorer", "Selection"), "workbench.explorer"),
    **dict.fromkeys(
        ("run_investigation", "RunResult", "run_demo", "DemoResult", "demo_review"),
        "workbench.investigation",
    ),
}

__all__ = ["__version__", *sorted(_PUBLIC)]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from workbench.case import Case, cross_references
    from workbench.coords import bd09_to_wgs84, gcj02_to_wgs84, to_wgs84
    from workbench.demo import (
        DemoData,
        KnownOffenders,
        RelocationDemo,
        generate_demo,
        generate_known_offenders,
        generate_relocations,
    )
    from workbench.explorer import Explorer, Selection, explore
    from workbench.export import (
        export_exchange_list,
        export_tip_sheet,
        import_exchange_list,
        init_keys,
        render_tip_sheet,
        tip_sheet_context,
        verify_bundle,
    )
    from workbench.gazetteer import jurisdiction
    from workbench.geocode import CachedGeocoder, geocode_addresses
    from workbench.intake import (
        Exports,
        IntakeResult,
        find_exports,
        load_evidence,
        load_identifiers,
        load_locations,
        load_sellers,
        load_shipments,
        load_table,
        stream_table,
    )
    from workbench.investigation import (
        DemoResult,
        RunResult,
        demo_review,
        run_demo,
        run_investigation,
    )
    from workbench.maps import MapView, site_map
    from workbench.networks import (
        Networks,
        describe_networks,
        draw_network,
        explain_link,
        export_network,
        link_sellers,
        network_graph,
    )
    from workbench.opening import cross_reference, open_case
    from workbench.sites import Relocations, SiteFinder, find_relocations, find_sites


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
    return [{"module": "workbench.lab._server"}]
