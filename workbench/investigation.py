"""An investigation from load to tip sheet: the job behind ``workbench demo`` and the notebook.

>>> inv = load_investigation("demo-data")                 # doctest: +SKIP
>>> result = run_investigation(inv, "out", radius_m=300)   # doctest: +SKIP
>>> print(result.describe())                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from workbench.case._case import Case, open_case
from workbench.errors import InputError
from workbench.export._tipsheet import tip_sheet_context, write_reports
from workbench.intake._table import QUARANTINE_COLUMNS, IntakeResult, load_table, sha256_file
from workbench.networks._link import Networks, link_sellers
from workbench.progress import Progress, step
from workbench.schema import TABLE_NAMES, TABLES
from workbench.sites._finder import FIT_STEPS, SiteFinder

__all__ = [
    "Investigation",
    "RunResult",
    "assign_sites",
    "load_investigation",
    "run_investigation",
    "write_tip_sheets",
]

_REQUIRED = ("sellers", "shipments")
_SUFFIXES = (".csv", ".parquet", ".tsv", ".txt")


@dataclass
class Investigation:
    """The loaded tables of one investigation, with what intake made of each file."""

    folder: Path
    tables: dict[str, pd.DataFrame]
    intake: dict[str, IntakeResult] = field(default_factory=dict)

    def __getattr__(self, name: str) -> pd.DataFrame:
        tables = self.__dict__.get("tables", {})
        if name in tables:
            return tables[name]
        raise AttributeError(name)

    @property
    def intake_report(self) -> pd.DataFrame:
        """One row per file: rows read, stored and quarantined, encoding, hash."""
        return pd.DataFrame([r.report for r in self.intake.values()])

    @property
    def quarantine(self) -> pd.DataFrame:
        """Every rejected row of every file, with its reason."""
        frames = [r.quarantine for r in self.intake.values() if len(r.quarantine)]
        return (
            pd.concat(frames, ignore_index=True)
            if frames
            else pd.DataFrame(columns=QUARANTINE_COLUMNS)
        )


def _find(folder: Path, table: str) -> Path | None:
    for suffix in _SUFFIXES:
        candidate = folder / f"{table}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def load_investigation(
    folder: str | os.PathLike[str], *, mappings: Mapping[str, Mapping[str, str]] | None = None
) -> Investigation:
    """Load ``sellers``, ``shipments`` and, when present, ``identifiers``, ``evidence`` and
    ``locations`` files (``.csv``, ``.tsv`` or ``.parquet``) from one folder."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: not a folder; expected a folder of export files")
    inv = Investigation(root, {})
    for table in TABLE_NAMES:
        path = _find(root, table)
        if path is None:
            if table in _REQUIRED:
                raise InputError(
                    f"{root}: no {table} file; expected {table}.csv or {table}.parquet"
                )
            inv.tables[table] = pd.DataFrame(columns=list(TABLES[table].fields))
            continue
        result = load_table(path, table, mapping=(mappings or {}).get(table))
        inv.intake[table] = result
        inv.tables[table] = result.frame
    return inv


@dataclass
class RunResult:
    """What a run produced: networks, sites, the site of each waybill, and the output files."""

    investigation: Investigation
    networks: Networks
    finder: SiteFinder
    shipments: pd.DataFrame
    outputs: dict[str, Path]
    tip_sheets: list[Path]

    @property
    def sites(self) -> gpd.GeoDataFrame:
        return self.finder.sites_

    def describe(self) -> str:
        """A short plain-text account of the run and where its outputs are."""
        inv, sites = self.investigation, self.sites
        lines = [
            f"Loaded {sum(r.report['rows_stored'] for r in inv.intake.values()):,} rows "
            f"({len(inv.quarantine):,} quarantined) from {inv.folder}",
            f"Networks: {len(self.networks.summary)} linking "
            f"{int(self.networks.summary['n_sellers'].sum()) if len(self.networks.summary) else 0}"
            f" accounts; {len(self.networks.infrastructure)} infrastructure identifier(s) ignored"
            + (
                f"; {len(self.networks.unknown_sellers)} identifier row(s) name unknown accounts"
                if len(self.networks.unknown_sellers)
                else ""
            ),
            f"Candidate sites: {len(sites)}"
            + (
                f"; top {sites.iloc[0]['site_id']} near {sites.iloc[0]['place']} "
                f"(score {sites.iloc[0]['score']:.0f}, {sites.iloc[0]['label']})"
                if len(sites)
                else ""
            ),
        ]
        lines += [f"{name:>14}: {path}" for name, path in self.outputs.items()]
        lines += [f"{'tip sheet':>14}: {path}" for path in self.tip_sheets]
        return "\n".join(lines)


def _sites_for_file(sites: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    out = sites.drop(columns=["hull"]).copy()
    for column in ("sellers", "brands", "networks"):
        out[column] = out[column].map(lambda v: ";".join(map(str, v)))
    out["score_parts"] = out["score_parts"].map(json.dumps)
    for column in ("first_shipped", "last_shipped"):
        out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d")
    return out


def assign_sites(shipments: pd.DataFrame, finder: SiteFinder) -> pd.DataFrame:
    """A copy of ``shipments`` with the ``site_id`` each waybill was clustered into (or NA)."""
    site_ids = finder.sites_["site_id"].to_numpy(dtype=object)
    labels = finder.labels_
    return shipments.assign(
        site_id=pd.array([site_ids[k] if k >= 0 else None for k in labels], dtype=object)
    )


def write_tip_sheets(
    inv: Investigation,
    networks: Networks,
    finder: SiteFinder,
    site_ids: list[str],
    out: str | os.PathLike[str],
    *,
    organisation: Mapping[str, str] | None = None,
    reviews: pd.DataFrame | None = None,
    case: Case | None = None,
) -> list[Path]:
    """Write a draft tip sheet (HTML, for reading on screen) of each site in ``site_ids``.

    Returns the report paths; the signed bundle for the police is
    :func:`workbench.export.export_tip_sheet`. ``reviews`` (from ``Case.reviews(run_id=...)``)
    adds each site's review history; with ``case`` the export is recorded in its audit log
    with the SHA-256 of every file written.
    """
    ships = assign_sites(inv.shipments, finder)
    params = {
        "run_id": finder.run_id_,
        **finder.get_params(),
        **networks.parameters,
        "excluded_imprecise_waybills": finder.n_excluded_,
    }
    contexts = [
        tip_sheet_context(
            site_id,
            sites=finder.sites_,
            shipments=ships,
            sellers=inv.sellers,
            networks=networks,
            evidence=inv.evidence,
            parameters=params,
            sources=[r.report for r in inv.intake.values()],
            organisation=organisation,
            reviews=reviews,
        )
        for site_id in site_ids
    ]
    written = write_reports(contexts, out)
    if case is not None:
        case.log(
            "export tip sheet",
            {
                "run_id": finder.run_id_,
                "site_ids": list(site_ids),
                "files": [{"path": str(p), "sha256": sha256_file(p)} for p in written],
            },
        )
    return written


def run_steps(*, case: bool) -> int:
    """The number of steps :func:`run_investigation` reports (one more with a case)."""
    return 4 + FIT_STEPS + int(case)


def run_investigation(
    source: str | os.PathLike[str] | Investigation,
    out: str | os.PathLike[str],
    *,
    radius_m: float = 300.0,
    top: int = 1,
    organisation: Mapping[str, str] | None = None,
    max_accounts: int | None = None,
    case: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    **site_params: Any,
) -> RunResult:
    """Load, link sellers, find sites, draw the map and write tip sheets for the ``top`` sites.

    With ``case`` (a ``.gpkg`` path, created if missing) the loaded tables, quarantine,
    networks and the clustering run are stored in the case, each step audited, and the tip
    sheets carry the sites' review history. ``progress`` is told each step as it starts
    (:func:`run_steps` of them).
    """
    from workbench.maps._page import site_map  # a view: imported only when a run draws its map

    step(progress, "loading the exports")
    inv = source if isinstance(source, Investigation) else load_investigation(source)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    step(progress, "linking sellers through shared identifiers")
    nets = link_sellers(inv.sellers, inv.identifiers, max_accounts=max_accounts)
    finder = SiteFinder(radius_m, **site_params).fit(
        inv.shipments, networks=nets.membership, evidence=inv.evidence, progress=progress
    )
    step(progress, "writing the map, sites and networks")
    sites = finder.sites_
    ships = assign_sites(inv.shipments, finder)
    outputs = {
        "intake report": out_dir / "intake-report.json",
        "quarantine": out_dir / "quarantine.csv",
        "networks": out_dir / "networks.csv",
        "sites": out_dir / "sites.geojson",
        "map": out_dir / "map.html",
    }
    outputs["intake report"].write_text(
        json.dumps([r.report for r in inv.intake.values()], indent=2, ensure_ascii=False),
        encoding="utf-8",
    )
    inv.quarantine.to_csv(outputs["quarantine"], index=False, encoding="utf-8-sig")
    nets.membership.merge(
        nets.summary[["network_id", "kinds"]], on="network_id", how="left"
    ).to_csv(outputs["networks"], index=False, encoding="utf-8-sig")
    # RFC 7946: no crs member, outer rings counter-clockwise (GDAL's RFC7946 mode)
    _sites_for_file(sites).to_file(outputs["sites"], driver="GeoJSON", RFC7946="YES")
    site_map(
        ships, sites, sellers=inv.sellers, networks=nets.membership, locations=inv.locations
    ).to_html(outputs["map"])
    top_ids = [str(site_id) for site_id in sites["site_id"].head(max(top, 0))]
    with contextlib.ExitStack() as stack:
        opened, reviews = None, None
        if case is not None:  # store the step's results, then cite their review history
            step(progress, "storing the run in the case")
            outputs["case"] = Path(case)
            opened = stack.enter_context(open_case(case))
            opened.ingest(inv.intake.values())
            opened.save_networks(nets)
            reviews = opened.reviews(run_id=opened.save_sites(finder))
        step(progress, f"writing {len(top_ids)} draft tip sheet(s)")
        tips = write_tip_sheets(
            inv,
            nets,
            finder,
            top_ids,
            out_dir / "tipsheets",
            organisation=organisation,
            reviews=reviews,
            case=opened,
        )
    return RunResult(inv, nets, finder, ships, outputs, tips)
