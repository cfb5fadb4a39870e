"""Tip sheets for the police: report context and templates, PDF, geo files, FollowTheMoney,
the signed BagIt bundle, the organisation keys, the English / Chinese catalogue and the
case-filing thresholds each site's estimated business volume is set against."""

from workbench.export._bundle import EXPORT_STEPS, export_tip_sheet, verify_bundle
from workbench.export._exchange import (
    export_exchange_list,
    import_exchange_list,
    read_exchange_list,
    read_shared_key,
)
from workbench.export._keys import init_keys, load_keys
from workbench.export._thresholds import load_thresholds
from workbench.export._tipsheet import render_tip_sheet, tip_sheet_context

__all__ = [
    "EXPORT_STEPS",
    "export_exchange_list",
    "export_tip_sheet",
    "import_exchange_list",
    "init_keys",
    "load_keys",
    "load_thresholds",
    "read_exchange_list",
    "read_shared_key",
    "render_tip_sheet",
    "tip_sheet_context",
    "verify_bundle",
]
