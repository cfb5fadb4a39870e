"""What every command-line module shares: one-line errors instead of tracebacks, and output
that cannot drive the terminal (data with escape sequences or bidi overrides is shown as
``\\uXXXX`` escapes, which are also valid inside JSON strings)."""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
from collections.abc import Callable, Collection
from typing import Any, NoReturn, TypeVar

import click

from workbench.errors import WorkbenchError

F = TypeVar("F", bound=Callable[..., Any])


def printable(text: str) -> str:
    """``text`` with every control, format (bidi) and unassigned character as a \\u escape;
    new lines and tabs are kept."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch in "\n\t" or ch.isprintable():
            out.append(ch)
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:  # as a UTF-16 surrogate pair, so JSON readers decode it
            code = ord(ch) - 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out)


def echo(text: object = "", *, err: bool = False) -> None:
    """``click.echo`` of :func:`printable` text: every line of command output goes here."""
    click.echo(printable(str(text)), err=err)


def friendly(func: F) -> F:
    """Turn workbench errors into a one-line message and exit status 1 (or the error's own
    ``exit_code``: 77 for a team store's refusal), never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (WorkbenchError, OSError) as exc:
            error = click.ClickException(printable(str(exc)))
            code = (
                getattr(type(exc), "exit_code", None) if isinstance(exc, WorkbenchError) else None
            )
            if isinstance(code, int):
                setattr(error, "exit_code", code)  # noqa: B010 - click's is a ClassVar
            raise error from exc

    return wrapper  # type: ignore[return-value]


def guard_team_cases(group: click.Group, supported: Collection[str], prefix: str = "") -> None:
    """Make each command of ``group`` (and of its subgroups) that takes a CASE, and is not
    in ``supported``, refuse a team case's URL with a one-line error naming the command
    (the ``case`` group moves cases between the two and takes both by name)."""
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            if full != "case":
                guard_team_cases(command, supported, f"{full} ")
            continue
        takes_case = any(p.name == "case_path" for p in command.params)
        if full not in supported and takes_case and command.callback is not None:
            command.callback = _refusing_team_urls(command.callback, full)


def _refusing_team_urls(callback: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(callback)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        # a CASE taken as a path has its '//' folded to '/'
        named = str(kwargs.get("case_path") or "").lower()
        if named.startswith(("postgresql:/", "postgres:/")):
            raise click.ClickException(
                f"workbench {name} does not work on a team case yet; pull it first: "
                "workbench case pull URL FILE"
            )
        return callback(*args, **kwargs)

    return wrapper


def end_process(code: object) -> NoReturn:
    """Exit with ``code`` (as ``sys.exit`` takes it) without tearing the interpreter down.

    A command that has returned has closed its case and written its files; what the
    interpreter would still do is free every module and object one by one, about 0.5 s
    after a site run (numba's compiled code, Arrow's and NumPy's memory). So exit handlers
    run and the standard streams are flushed, then the process ends (``os._exit``). While
    another thread that is not a daemon runs, the interpreter exits the usual way instead:
    it waits for that thread.
    """
    others = [t for t in threading.enumerate() if t is not threading.main_thread()]
    if any(t.is_alive() and not t.daemon for t in others):
        raise SystemExit(code)
    status = 0
    if isinstance(code, int):
        status = code
    elif code is not None:  # a message: printed, status 1 (what sys.exit does)
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: the status Python gives it
            status = status or 120
    os._exit(status)
