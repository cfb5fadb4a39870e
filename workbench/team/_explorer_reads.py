"""What the explorer reads from a team case (counts, a site's points and weeks, a viewport's
waybills), through Arrow, as a case file answers the same calls.

A mixin of :class:`workbench.team._case.TeamCase`; it uses the case's connection
(``_con``), ``case_id`` and ``target``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExplorerReads"]


class ExplorerReads:
    """The explorer's reads on a team case."""

    _con: Any
    case_id: int
