"""Sites as case rows: the medoid point layer and the hull polygon layer."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from workbench.case._gpkg import geometry_blob, point_blobs
from workbench.case._io import python_values

SITE_COLUMNS = (
    "run_id", "site_id", "rank", "lat", "lon", "radius_m", "score", "label", "n_shipments",
    "n_points", "n_sellers", "n_networks", "n_operators", "n_counterfeit", "n_genuine",
    "value_cny", "first_shipped", "last_shipped", "context_shipments", "sellers", "networks",
    "brands", "score_parts", "country", "country_zh", "province", "province_zh", "place",
    "place_zh", "prefecture", "prefecture_zh", "district", "district_zh", "stability",
    "stable", "precision",
)  # fmt: skip
_JSON_COLUMNS = ("sellers", "networks", "brands", "score_parts", "stability", "precision")
_JSON = json.JSONEncoder(ensure_ascii=False)  # json.dumps(v, ensure_ascii=False), made once


def site_rows(sites: pd.DataFrame) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Column lists for the ``sites`` and ``site_areas`` tables."""
    points: dict[str, list[Any]] = {}
    for column in SITE_COLUMNS:
        if column not in sites.columns:
            continue
        if column in _JSON_COLUMNS:
            points[column] = [_JSON.encode(v) for v in sites[column]]
        else:
            points[column] = python_values(sites[column])
    points["geom"] = point_blobs(sites["lon"].to_numpy(float), sites["lat"].to_numpy(float))
    areas = {
        "run_id": points["run_id"],
        "site_id": points["site_id"],
        "lat": points["lat"],
        "lon": points["lon"],
        "geom": [geometry_blob(h) for h in sites["hull"]],
    }
    return points, areas
