"""The two kinds of case the explorer opens, and the few reads that differ between them.

A case file (:class:`workbench.case.Case`) and a team case
(:class:`workbench.team.TeamCase`) answer most of the explorer's calls alike:
``waybill_cells``, ``waybills``, ``latest_run``, ``runs``, ``site_activity``,
``site_points``, ``reviews``, ``review``, ``events``, ``site_input`` and ``save_sites``
(the team case's through Arrow, :mod:`workbench.team._explorer_reads`). The rest goes
through the functions here: a table without geometry, a run's sites with their hulls and
parsed lists (``Case.sites``; a team case's ``site_layer``), and the stored
cross-references the explorer counts and lists ("seen before").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pandas as pd

from workbench.team._explorer_reads import ExplorerReads  # no database driver imported

if TYPE_CHECKING:  # pragma: no cover
    import geopandas as gpd

    from workbench.case._case import Case
    from workbench.team._case import TeamCase

    ExplorerCase = Case | TeamCase

__all__ = ["plain_table", "run_sites", "xref_checked", "xref_counts", "xref_rows"]

Counts = tuple[dict[str, int], dict[str, int], dict[str, int]]


def plain_table(case: ExplorerCase, name: str) -> pd.DataFrame:
    """A curated table as a plain frame (lat and lon, no geometry column)."""
    if isinstance(case, ExplorerReads):
        return case.table_frame(name)
    return case.table(name, geometry=False)


def run_sites(case: ExplorerCase, run_id: str | None) -> gpd.GeoDataFrame:
    """A run's sites by rank with hull, parsed lists and latest review ``status``."""
    if isinstance(case, ExplorerReads):
        return case.site_layer(run_id)
    return case.sites(run_id)


def xref_checked(case: ExplorerCase) -> bool:
    """Whether the case was ever checked against earlier cases or a partner's list."""
    if isinstance(case, ExplorerReads):
        return case.cross_referenced()
    from workbench.export._seen import cross_referenced

    return cross_referenced(case)


def xref_counts(case: ExplorerCase, run_id: str | None) -> Counts:
    """How many matches apply to ``run_id`` per account (account and identifier
    matches), per network (``network`` matches) and per site (``site`` matches)."""
    if isinstance(case, ExplorerReads):
        return case.cross_reference_counts(run_id)
    from workbench.export._seen import xref_scope

    con = case._con
    # account and identifier matches (the rows with a seller_id: network and site matches
    # have none) apply to every run: counted from the index on seller_id alone (it covers
    # the query: 20 ms for 100,000 rows); network and site matches are few, and scoped
    by_seller = dict(
        con.execute(
            "SELECT seller_id, COUNT(*) FROM cross_references WHERE seller_id IS NOT NULL "
            "GROUP BY seller_id"
        ).fetchall()
    )
    where, params = xref_scope(case, run_id)
    grouped = con.execute(
        "SELECT match, COALESCE(network_id, ''), COALESCE(site_id, ''), "  # noqa: S608
        "COUNT(*) FROM cross_references WHERE seller_id IS NULL "
        f"AND match IN ('network', 'site') AND {where} GROUP BY 1, 2, 3",
        params,
    ).fetchall()
    by_network: dict[str, int] = {}
    by_site: dict[str, int] = {}
    for match, network, site, n in grouped:
        into, key = (by_network, network) if match == "network" else (by_site, site)
        into[key] = into.get(key, 0) + n
    return by_seller, by_network, by_site


def xref_rows(
    case: ExplorerCase,
    run_id: str | None,
    *,
    sellers: Iterable[str],
    networks: Iterable[str],
    site_ids: Iterable[str],
) -> pd.DataFrame:
    """The matches that apply to ``run_id`` of these accounts, these networks' ``network``
    matches and these sites' ``site`` matches, in stored order."""
    if isinstance(case, ExplorerReads):
        return case.cross_reference_rows(
            run_id, sellers=sellers, networks=networks, site_ids=site_ids
        )
    from workbench.export._seen import read_cross_references

    return read_cross_references(
        case,
        run_id=run_id,
        sellers=sellers,
        networks=networks,
        site_ids=site_ids,
    )
