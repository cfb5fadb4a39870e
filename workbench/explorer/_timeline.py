"""The explorer's timeline: which weeks the map shows, played week by week.

Counterfeit rings move after raids; the timeline shows it. A week slider (the case's first
to last shipping week, Mondays) with play / pause and a window length sets the explorer's
``window``: the waybills shipped in it are drawn (the same ``Filters.start`` / ``end`` the
date pickers set), the sites active in it are drawn and listed (a site is active when its
weekly activity has waybills in a week that overlaps the window), and recorded events in it
are drawn as markers, with the relocations known by its end as arrows. ::

    explorer.window = ("2026-03-02", "2026-03-29")   # four weeks; the map follows
    explorer.window                                  # (date(2026, 3, 2), date(2026, 3, 29))
    explorer.window = None                           # the whole period again

:class:`Timeline` is the control; :class:`SiteWeeks` answers "which sites are active";
the events and arrows are :mod:`workbench.explorer._marks`. No message from the page sets
the window: the slider is an ipywidget whose value its model bounds.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
import traitlets

from workbench.errors import InputError, require_columns

__all__ = [
    "SiteWeeks",
    "Timeline",
    "Window",
    "check_window",
    "monday",
    "week_window",
    "window_from_dates",
]

WINDOW_WEEKS = (("1 week", 1), ("4 weeks", 4), ("13 weeks", 13))
PLAY_INTERVAL_MS = 200  # 5 weeks a second

Window = tuple[dt.date, dt.date]


# -- days and windows ---------------------------------------------------------------------------
def as_day(value: object, name: str = "window") -> dt.date:
    """``value`` (a date, datetime, Timestamp or ISO text) as a day; InputError otherwise."""
    if isinstance(value, dt.datetime | pd.Timestamp):
        if pd.isna(value):
            raise InputError(f"{name}: expected a day, got {value!r}")
        return pd.Timestamp(value).date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) <= 40:
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise InputError(f"{name}: expected a day such as '2026-03-02' or a date, got {value!r:.80}")


def check_window(value: object) -> Window | None:
    """A window as (first day, last day), both included; None for the whole period.

    >>> check_window(("2026-03-02", dt.date(2026, 3, 8)))
    (datetime.date(2026, 3, 2), datetime.date(2026, 3, 8))
    """
    if value is None:
        return None
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        raise InputError(
            f"window: expected (first day, last day) or None for the whole period, "
            f"got {value!r:.80}"
        )
    start, end = as_day(value[0], "window start"), as_day(value[1], "window end")
    if start > end:
        raise InputError(f"window: the start {start} is after the end {end}; swap them")
    return (start, end)


def monday(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week (weeks as the case counts site activity)."""
    return day - dt.timedelta(days=day.weekday())


def week_window(first_monday: dt.date, week: int, weeks: int) -> Window:
    """The window of ``weeks`` weeks starting ``week`` weeks after ``first_monday``."""
    start = first_monday + dt.timedelta(weeks=week)
    return (start, start + dt.timedelta(weeks=weeks) - dt.timedelta(days=1))


# -- sites active in a window -------------------------------------------------------------------
class SiteWeeks:
    """The weeks each site of a run shipped in (``case.site_activity(run_id)``: site_id,
    week (Monday), n_shipments), to ask which sites are active in a window.

    >>> act = pd.DataFrame({"site_id": ["S1", "S1", "S2"], "n_shipments": [3, 0, 5],
    ...                     "week": pd.to_datetime(["2026-03-02", "2026-03-09", "2026-03-16"])})
    >>> sorted(SiteWeeks(act).active(dt.date(2026, 3, 9), dt.date(2026, 3, 22)))
    ['S2']
    """

    def __init__(self, activity: pd.DataFrame) -> None:
        require_columns(activity, "site activity", ("site_id", "week", "n_shipments"))
        shipped = activity[pd.to_numeric(activity["n_shipments"], errors="coerce") > 0]
        weeks = pd.to_datetime(shipped["week"], errors="coerce")
        known = weeks.notna().to_numpy()
        codes, self.site_ids = pd.factorize(shipped["site_id"].astype(str).to_numpy()[known])
        days = weeks[known].to_numpy().astype("datetime64[D]").astype(np.int64)
        order = np.argsort(days, kind="stable")  # by week: a window is one slice
        self._day, self._site = days[order], codes[order]

    def active(self, start: dt.date | None, end: dt.date | None) -> np.ndarray:
        """Ids of the sites with waybills in a week overlapping [start, end] (None: open)."""
        lo = 0 if start is None else np.searchsorted(self._day, _day(start) - 6, "left")
        hi = len(self._day) if end is None else np.searchsorted(self._day, _day(end), "right")
        present = np.zeros(len(self.site_ids), bool)
        present[self._site[lo:hi]] = True
        return np.asarray(self.site_ids)[present]


def _day(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def window_from_dates(
    start: dt.date | None, end: dt.date | None, days: tuple[dt.date | None, dt.date | None]
) -> Window | None:
    """The window two date pickers show: None when they span the case's ``days`` (or are
    empty); InputError when the start is after the end."""
    first, last = days
    start, end = start or first, end or last
    if start is None or end is None or (start == first and end == last):
        return None
    return check_window((start, end))


# -- the control --------------------------------------------------------------------------------
class Timeline(w.HBox):
    """Week slider, play / pause, window length and "whole period": sets ``window``.

    Traits
    ------
    window : (date, date) or None
        The days shown, both included (None: the whole period). The slider and the
        window length set it; setting it moves the slider to the week of its start.
    """

    window = traitlets.Any(None, allow_none=True)

    def __init__(self, days: tuple[dt.date | None, dt.date | None]) -> None:
        first, last = days
        today = dt.date.today()
        self.first_week = monday(first or today)
        n_weeks = (monday(last or first or today) - self.first_week).days // 7 + 1
        self.n_weeks = n_weeks
        self.slider = w.IntSlider(
            value=0, min=0, max=n_weeks - 1, description="Week", readout=False,
            continuous_update=True, layout=w.Layout(width="260px"),
            style={"description_width": "40px"},
        )  # fmt: skip
        self.play = w.Play(
            value=0, min=0, max=n_weeks - 1, interval=PLAY_INTERVAL_MS, repeat=False,
            description="Play the weeks", show_repeat=False,
        )  # fmt: skip
        w.jslink((self.play, "value"), (self.slider, "value"))  # plays in the browser
        self.weeks = w.Dropdown(
            options=WINDOW_WEEKS, value=4, description="Window", layout=w.Layout(width="150px"),
            style={"description_width": "52px"},
        )  # fmt: skip
        self.whole = w.Button(description="Whole period", layout=w.Layout(width="110px"))
        self.whole.on_click(lambda _: setattr(self, "window", None))
        self.label = w.HTML(layout=w.Layout(width="220px"))
        self._moving = False  # the slider follows a window set from outside
        super().__init__(
            [w.HTML("<b>Timeline</b>"), self.play, self.slider, self.weeks, self.label,
             self.whole],
            layout=w.Layout(width="100%", align_items="center", flex_flow="row wrap"),
        )  # fmt: skip
        self.add_class("workbench-timeline")
        self.slider.observe(self._on_step, names="value")
        self.weeks.observe(self._on_step, names="value")
        self._show(None)

    @traitlets.validate("window")
    def _check(self, proposal: Any) -> Window | None:
        return check_window(proposal["value"])

    def step(self, week: int) -> Window:
        """Show the window that starts ``week`` weeks after the first (as the slider does)."""
        self.slider.value = min(max(int(week), 0), self.n_weeks - 1)
        self._on_step(None)  # also when the slider was there already
        assert self.window is not None
        return self.window

    def _on_step(self, _change: Any) -> None:
        if not self._moving:
            self.window = week_window(self.first_week, self.slider.value, self.weeks.value)

    @traitlets.observe("window")
    def _on_window(self, change: Any) -> None:
        window = change["new"]
        if window is not None:
            week = (monday(window[0]) - self.first_week).days // 7
            self._moving = True
            try:
                self.slider.value = min(max(week, 0), self.n_weeks - 1)
            finally:
                self._moving = False
        self._show(window)

    def _show(self, window: Window | None) -> None:
        text = "whole period" if window is None else f"{window[0]} to {window[1]}"
        self.label.value = html.escape(text)
