"""What a tip-sheet bundle reads from a team case (a run's sites, their waybills, networks,
settings, the audit entries it cites), as a case file answers the same calls.

A mixin of :class:`workbench.team._case.TeamCase`; it uses the case's connection
(``_con``), ``case_id`` and ``target``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["BundleReads"]


class BundleReads:
    """A bundle's reads on a team case."""

    _con: Any
    case_id: int
