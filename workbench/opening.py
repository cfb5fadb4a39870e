"""Opening a case by what the user names: a case on this machine (a ``.gpkg`` file or a
``NAME.case`` folder) or a team case in a PostgreSQL team store, by its URL
(``postgresql://USER@HOST:PORT/DB?case=NAME``).

The one place that knows both kinds, above them: the team store builds on the case package
(its intake, site finder and parts), so the case package never imports it.
``workbench.open_case`` is this function; the commands that work on a team case open
their CASE through it (the others refuse a URL: ``workbench.cli._common.guard_team_cases``).

>>> open_case("putian.case")                                            # doctest: +SKIP
>>> open_case("postgresql://li@db.internal/cases?case=putian-2026")     # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

from workbench.case import _case

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from workbench.case import Case
    from workbench.team import TeamCase

__all__ = ["cross_reference", "is_team_url", "open_case"]

_SCHEMES = ("postgresql://", "postgres://")


def is_team_url(name: str | os.PathLike[str]) -> bool:
    """Whether ``name`` is a team case's URL rather than a path."""
    return isinstance(name, str) and name.lower().startswith(_SCHEMES)


def open_case(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    actor: str | None = None,
    create: bool = True,
    timeout_s: float = 10.0,
) -> Case | TeamCase:
    """Open (or create) a case: :func:`workbench.case.open_case` for a path, and for a team
    case's URL (never with ``root``: a name typed in the lab is a path) a
    :class:`workbench.team.TeamCase` acting as the connected role (``actor`` and
    ``timeout_s`` do not apply: the database names the actor)."""
    if root is None and is_team_url(path):
        from workbench.team._case import open_team_case

        return open_team_case(str(path), create=create)
    return _case.open_case(path, root=root, actor=actor, create=create, timeout_s=timeout_s)


def cross_reference(
    case: Case | TeamCase,
    against: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
) -> pd.DataFrame:
    """Flag what ``case`` (a case file or a team case) shares with earlier cases: case
    files (a folder of them, or paths) and team cases (their URLs); store the matches in
    ``case`` and return them (see :func:`workbench.case.cross_reference`)."""
    items = [against] if isinstance(against, str | os.PathLike) else list(against)
    if isinstance(case, _case.Case) and not any(is_team_url(a) for a in items):
        from workbench.case._xref import cross_reference as between_files

        return between_files(case, items)
    from workbench.team._xref import cross_reference_team

    return cross_reference_team(case, items)
