"""Progress of long steps: a tqdm bar on a terminal, a widget in a notebook, or a callback.

A long task (finding sites, writing a bundle, the demo) is a known number of named steps.
The caller makes a :class:`Progress` and passes it down; each step calls :meth:`Progress.step`
with what it is about to do. Bars are drawn on a terminal and in notebooks, not into pipes or
log files, and not at all when the session is quiet (:func:`set_quiet`, ``--quiet`` on the
command line, or ``WORKBENCH_QUIET=1`` in the environment).

>>> with Progress("Finding sites", total=2) as progress:
...     progress.step("clustering")
...     progress.step("ranking")
>>> progress.done
2
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

__all__ = ["Progress", "is_quiet", "set_quiet"]

_quiet = False

# called with (steps done, total, label of the step now running)
StepCallback = Callable[[int, int, str], None]


def set_quiet(quiet: bool = True) -> None:
    """Show no progress bars in this process (scripts and CI logs)."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    """True when progress bars are off: :func:`set_quiet` or ``WORKBENCH_QUIET=1``."""
    return _quiet or os.environ.get("WORKBENCH_QUIET", "") not in ("", "0")


class Progress:
    """``total`` named steps of one task, shown as a bar that names the step now running.

    Parameters
    ----------
    desc : what the whole task is, e.g. "Finding sites"
    total : the number of steps, when known
    callback : called with (done, total, label) at each step instead of drawing a bar
    delay : seconds before a bar appears at all (quick tasks print nothing)
    """

    def __init__(
        self,
        desc: str,
        total: int | None = None,
        *,
        callback: StepCallback | None = None,
        delay: float = 0.0,
    ) -> None:
        self.desc = desc
        self.total = total
        self.done = 0
        self.label = ""
        self.started = time.monotonic()
        self._callback = callback
        self._bar: Any = None
        if callback is None and not is_quiet():
            from tqdm.auto import tqdm  # a widget in notebooks, a line on a terminal

            # disable=None: shown on a terminal and in notebooks, not in pipes and log files
            self._bar = tqdm(
                total=total, desc=desc, unit="step", delay=delay, file=sys.stderr, disable=None,
                bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {elapsed} {postfix}",
            )  # fmt: skip

    def step(self, label: str) -> None:
        """Start the step ``label``: the previous step (if any) counts as done."""
        if self.label:
            self.done += 1
        self.label = label
        self._show()

    def _show(self) -> None:
        total = self.total if self.total is not None else 0
        if self._callback is not None:
            self._callback(self.done, total, self.label)
        elif self._bar is not None:
            self._bar.n = self.done
            self._bar.set_postfix_str(self.label, refresh=True)

    def close(self) -> None:
        """Finish: the last step counts as done and the bar is closed."""
        if self.label:
            self.done += 1
            self.label = ""
        self._show()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        elif self._bar is not None:  # leave the bar where it stopped
            self._bar.close()
            self._bar = None


def step(progress: Progress | None, label: str) -> None:
    """``progress.step(label)`` when there is a progress, else nothing."""
    if progress is not None:
        progress.step(label)
