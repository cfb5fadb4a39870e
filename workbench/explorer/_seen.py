"""What the explorer shows of a case's cross-references ("seen before").

The counts per account, network and site are read once per run with one grouped query (a
few rows per flagged account, nothing when the case has none), so opening the explorer does
not read the matches themselves; a selection reads the rows of its accounts through the
table's index on ``seller_id``. Which rows still apply to the run shown is decided by
:func:`workbench.export._seen.xref_scope`, as for the tip sheet (a team case applies the
same rule in its query: :mod:`workbench.explorer._source`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from workbench.case._xref_store import XREF_COLUMNS
from workbench.explorer._source import xref_checked, xref_counts, xref_rows
from workbench.export._seen import seen_before

if TYPE_CHECKING:  # pragma: no cover
    from workbench.explorer._source import ExplorerCase

__all__ = ["SeenBefore"]


class SeenBefore:
    """A case's cross-references for one run: counts at hand, rows read on demand.

    checked : whether the case was ever cross-referenced (else nothing is shown);
    by_seller, by_network, by_site : how many matches apply to each account (account and
        identifier matches), network (``network`` matches) and site (``site`` matches).
    """

    def __init__(self, case: ExplorerCase, run_id: str | None) -> None:
        self.case = case
        self.checked = xref_checked(case)
        self.load(run_id)

    def load(self, run_id: str | None) -> None:
        """Read the counts that apply to ``run_id`` (one grouped query)."""
        self.run_id = run_id
        self.by_seller: dict[str, int] = {}
        self.by_network: dict[str, int] = {}
        self.by_site: dict[str, int] = {}
        if not self.checked:
            return
        self.by_seller, self.by_network, self.by_site = xref_counts(self.case, run_id)

    def site_counts(self, sites: pd.DataFrame, network_of: Mapping[str, str]) -> dict[str, int]:
        """Per site of ``sites``: the matches its panel lists (its own, its accounts', its
        accounts' networks'); sites without any are left out."""
        if not (self.by_seller or self.by_network or self.by_site):
            return {}
        ids = sites["site_id"].astype(str).to_numpy()
        lists = [[str(s) for s in v] if isinstance(v, list) else [] for v in sites["sellers"]]
        sizes = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
        flat = pd.Series([s for v in lists for s in v], dtype=object)
        at = np.repeat(np.arange(len(ids)), sizes)
        counts = np.zeros(len(ids), dtype=np.int64)
        if self.by_seller and len(flat):
            per = flat.map(self.by_seller).fillna(0).to_numpy(np.int64)
            counts += np.bincount(at, weights=per, minlength=len(ids)).astype(np.int64)
        if self.by_network and len(flat):
            pairs = pd.DataFrame({"at": at, "network": flat.map(network_of)}).dropna()
            pairs = pairs.drop_duplicates()
            per = pairs["network"].map(self.by_network).fillna(0).to_numpy(np.int64)
            counts += np.bincount(pairs["at"], weights=per, minlength=len(ids)).astype(np.int64)
        counts += np.array([self.by_site.get(s, 0) for s in ids], dtype=np.int64)
        return {s: int(n) for s, n in zip(ids, counts, strict=True) if n}

    def rows(
        self, sellers: Iterable[str], network_of: Mapping[str, str], site_id: str = ""
    ) -> pd.DataFrame | None:
        """The matches of these accounts, their networks and (given) the site, in the order
        the panel lists them; None when the case was never cross-referenced."""
        if not self.checked:
            return None
        sellers = [str(s) for s in sellers]
        flagged = [s for s in sellers if s in self.by_seller]
        nets = {network_of[s] for s in sellers if s in network_of}
        nets = {n for n in nets if n in self.by_network}
        sites = [site_id] if site_id in self.by_site else []
        if not (flagged or nets or sites):
            return pd.DataFrame(columns=list(XREF_COLUMNS))
        found = xref_rows(self.case, self.run_id, sellers=flagged, networks=nets, site_ids=sites)
        return seen_before(found, site_id=site_id, sellers=flagged, networks=nets)
