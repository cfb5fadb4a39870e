"""Errors raised by Counterfeit Workbench.

Every error the package raises on purpose derives from :class:`WorkbenchError`, and also
from the built-in exception a caller would expect, so ``except ValueError`` keeps working::

    WorkbenchError
    ├── InputError (ValueError)          bad argument or bad input data
    │   ├── MissingColumnsError          a table lacks required fields
    │   └── InvalidFileError             a file cannot be read as the declared kind
    ├── NotFoundError (KeyError)         a named site, seller or template does not exist
    ├── CaseError (RuntimeError)         the case file cannot be used as asked
    │   ├── CaseLockedError              another process is writing the case
    │   ├── CaseVersionError             the case was written by a newer workbench
    │   ├── TamperedError                a table changed outside the workbench
    │   └── TeamAccessError (PermissionError)   the team store's database refused the role
    └── MissingDependencyError (ImportError)   an optional package is not installed

Messages name the argument or field, what was expected, what was received, and what to do.
:func:`require_columns` is the one check that a frame has the columns a step needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = [
    "CaseError",
    "CaseLockedError",
    "CaseVersionError",
    "InputError",
    "InvalidFileError",
    "MissingColumnsError",
    "MissingDependencyError",
    "NotFoundError",
    "TamperedError",
    "TeamAccessError",
    "WorkbenchError",
    "require_columns",
]


class WorkbenchError(Exception):
    """Base class of every error raised on purpose by the workbench."""


class InputError(WorkbenchError, ValueError):
    """An argument or an input table is not what the step needs."""


class MissingColumnsError(InputError):
    """A table lacks fields the step requires."""

    def __init__(self, table: str, missing: list[str], found: list[str]) -> None:
        self.table = table
        self.missing = list(missing)
        self.found = list(found)
        super().__init__(
            f"{table}: required field(s) {', '.join(self.missing)} not found; "
            f"columns present: {', '.join(self.found) or '(none)'}. "
            "Rename the columns or pass a mapping that names them."
        )

    def __reduce__(self) -> tuple[Any, ...]:  # survives pickling (intake in a child process)
        return (type(self), (self.table, self.missing, self.found))


class InvalidFileError(InputError):
    """A file cannot be read as the kind of file it is declared to be."""


class NotFoundError(WorkbenchError, KeyError):
    """A named thing (site, seller, template) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(WorkbenchError, ImportError):
    """An optional package needed for this call is not installed."""


class CaseError(WorkbenchError, RuntimeError):
    """The case file cannot be used as asked."""


class CaseLockedError(CaseError):
    """Another process holds the case's write lock for longer than the wait allows."""


class CaseVersionError(CaseError):
    """The case was written by a newer workbench than this one."""


class TamperedError(CaseError):
    """A table no longer holds what the audit log recorded: it was changed outside the
    workbench, so no step builds on it until someone has looked."""


class TeamAccessError(CaseError, PermissionError):
    """The team store's database refused the connected role this step (it lacks the
    ``workbench_*`` role that grants it). The command line exits with ``exit_code``
    (77, ``EX_NOPERM`` of ``sysexits.h``), so scripts tell a refusal from a failure."""

    exit_code = 77


def require_columns(frame: Any, table: str, required: Iterable[str]) -> None:
    """Raise :class:`MissingColumnsError` naming what ``frame`` (a table) lacks of ``required``.

    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"seller_id": []}), "sellers", ["seller_id"])
    """
    columns = getattr(frame, "columns", None)
    if columns is None:
        raise InputError(f"{table}: expected a table (a DataFrame), got {type(frame).__name__}")
    missing = [c for c in required if c not in columns]
    if missing:
        raise MissingColumnsError(table, missing, [str(c) for c in columns])
