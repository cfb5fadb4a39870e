"""Dated events and relocations on the explorer's map: checked frames, bounded JSON payloads.

Decoupled from where they come from (the case's events table, the relocation finder): any
frame with the columns below will do. ``events``: event_id, kind, date, site_id, lat, lon
(of the site it concerns), note; drawn as markers while the window holds their date.
``relocations``: from_site, to_site, from_lat, from_lon, to_lat, to_lon, around (a date),
label; drawn as arrows from the old site to the new once ``around`` is on or before the
window's end. At most :data:`MAX_MARKERS` of each are sent (the latest), every string as
JSON data that the page shows with ``textContent``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import InputError, require_columns
from workbench.maps import _data as data

if TYPE_CHECKING:  # pragma: no cover
    from workbench.explorer._timeline import Window

__all__ = [
    "EVENT_COLUMNS",
    "MAX_MARKERS",
    "RELOCATION_COLUMNS",
    "Marks",
    "arrows_payload",
    "check_events",
    "check_relocations",
    "events_payload",
]

EVENT_COLUMNS = ("event_id", "kind", "date", "site_id", "lat", "lon", "note")
RELOCATION_COLUMNS = (
    "from_site", "to_site", "from_lat", "from_lon", "to_lat", "to_lon", "around", "label",
)  # fmt: skip
MAX_MARKERS = 2_000  # events, and arrows, sent to the page at most
MAX_TEXT_CHARS = 1_000  # of a note or label sent to the page (the case keeps it whole)
# raids red, takedowns purple, test-buy campaigns blue; other kinds get the rest in turn
EVENT_COLOURS = {"raid": "#d32f2f", "takedown": "#7b1fa2", "test_buy_campaign": "#1565c0"}
OTHER_COLOURS = ("#ef6c00", "#2e7d32", "#5d4037", "#455a64", "#c2185b")
ARROW_COLOUR = "#000000"


# -- events and relocations ---------------------------------------------------------------------
def _frame(frame: object, table: str, columns: Sequence[str]) -> pd.DataFrame:
    require_columns(frame, table, columns)
    assert isinstance(frame, pd.DataFrame)
    return pd.DataFrame(frame)


def _days_of(values: pd.Series, table: str, column: str) -> pd.Series:
    days = pd.to_datetime(values, errors="coerce", utc=False)
    if isinstance(days.dtype, pd.DatetimeTZDtype):
        days = days.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = days.isna() & values.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{table}: {column} {values.iloc[i]!r:.60} in row {i} is not a date; "
            "expected a day such as 2026-05-01"
        )
    return days.dt.normalize()


def _numbers(frame: pd.DataFrame, columns: Sequence[str], table: str) -> pd.DataFrame:
    out = {}
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{table}: {column} {frame[column].iloc[i]!r:.60} in row {i} is not a number; "
                "expected degrees (WGS-84)"
            )
        out[column] = values
    return pd.DataFrame(out, index=frame.index)


def check_events(frame: object) -> pd.DataFrame:
    """The events to draw, checked: event_id, kind, date, site_id, lat, lon (of the site it
    concerns), note. Dates become days; a missing column or a bad date or coordinate
    raises InputError naming it."""
    events = _frame(frame, "events", EVENT_COLUMNS)
    out = events[list(EVENT_COLUMNS)].copy()
    out["date"] = _days_of(events["date"], "events", "date")
    out[["lat", "lon"]] = _numbers(events, ("lat", "lon"), "events")
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def check_relocations(frame: object) -> pd.DataFrame:
    """The relocations to draw as arrows, checked: from_site, to_site, from_lat, from_lon,
    to_lat, to_lon, around (a date), label; errors as :func:`check_events`."""
    moves = _frame(frame, "relocations", RELOCATION_COLUMNS)
    out = moves[list(RELOCATION_COLUMNS)].copy()
    out["around"] = _days_of(moves["around"], "relocations", "around")
    coords = ("from_lat", "from_lon", "to_lat", "to_lon")
    out[list(coords)] = _numbers(moves, coords, "relocations")
    return out.sort_values("around", kind="stable").reset_index(drop=True)


def _drawable(frame: pd.DataFrame, day: str, lat: Sequence[str], lon: Sequence[str]) -> np.ndarray:
    """Rows with a day and a place on the map."""
    ok = frame[day].notna().to_numpy().copy()
    for column in lat:
        ok &= frame[column].between(-90, 90).to_numpy()
    for column in lon:
        ok &= frame[column].between(-180, 180).to_numpy()
    return ok


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy().astype("datetime64[D]").astype(np.int64)


def _day(day: dt.date) -> int:
    return int(np.datetime64(day, "D").astype(np.int64))


def _texts(values: pd.Series) -> list[str]:
    return [(data.text(v) or "")[:MAX_TEXT_CHARS] for v in values.tolist()]


def _dates(values: pd.Series) -> list[str]:
    return [v.date().isoformat() for v in values.tolist()]


class _Dated:
    """The drawable rows of a checked frame, by day: a window's rows are one slice."""

    def __init__(self, frame: pd.DataFrame, day: str, lat: Sequence[str], lon: Sequence[str]):
        self.frame = frame[_drawable(frame, day, lat, lon)].reset_index(drop=True)
        self.days = _days(self.frame[day])  # sorted: the checks sort by day

    def rows(self, start: dt.date | None, end: dt.date | None, limit: int) -> tuple[int, int, int]:
        """First and stop of the latest ``limit`` rows dated in [start, end] (None: open),
        and how many rows there are."""
        lo = 0 if start is None else int(np.searchsorted(self.days, _day(start), "left"))
        hi = len(self.days) if end is None else int(np.searchsorted(self.days, _day(end), "right"))
        hi = max(hi, lo)
        return max(lo, hi - limit), hi, hi - lo


def _events_rows(dated: _Dated, window: Window | None, limit: int) -> tuple[tuple[int, int], int]:
    start, end = (None, None) if window is None else window
    first, stop, total = dated.rows(start, end, limit)
    return (first, stop), total


def _moves_rows(dated: _Dated, window: Window | None, limit: int) -> tuple[tuple[int, int], int]:
    first, stop, total = dated.rows(None, None if window is None else window[1], limit)
    return (first, stop), total


def _events_json(shown: pd.DataFrame) -> dict[str, Any]:
    kinds = sorted(set(_texts(shown["kind"])))
    others = iter(OTHER_COLOURS * (len(kinds) // len(OTHER_COLOURS) + 1))
    colours = [EVENT_COLOURS.get(k) or next(others) for k in kinds]
    index = {k: i for i, k in enumerate(kinds)}
    return {
        "kinds": kinds,
        "colours": colours,
        "id": _texts(shown["event_id"]),
        "kind": [index[k] for k in _texts(shown["kind"])],
        "date": _dates(shown["date"]),
        "site": _texts(shown["site_id"]),
        "note": _texts(shown["note"]),
        "lat": shown["lat"].round(6).tolist(),
        "lon": shown["lon"].round(6).tolist(),
    }


def _moves_json(shown: pd.DataFrame) -> dict[str, Any]:
    return {
        "colour": ARROW_COLOUR,
        "from": _texts(shown["from_site"]),
        "to": _texts(shown["to_site"]),
        "label": _texts(shown["label"]),
        "around": _dates(shown["around"]),
        "from_lat": shown["from_lat"].round(6).tolist(),
        "from_lon": shown["from_lon"].round(6).tolist(),
        "to_lat": shown["to_lat"].round(6).tolist(),
        "to_lon": shown["to_lon"].round(6).tolist(),
    }


def _dated_events(events: pd.DataFrame) -> _Dated:
    return _Dated(events, "date", ["lat"], ["lon"])


def _dated_moves(moves: pd.DataFrame) -> _Dated:
    return _Dated(moves, "around", ["from_lat", "to_lat"], ["from_lon", "to_lon"])


def events_payload(
    events: pd.DataFrame, window: Window | None, limit: int = MAX_MARKERS
) -> tuple[dict[str, Any], int]:
    """The page's events layer for the events (:func:`check_events`) in ``window`` (None:
    all) with a day and a place: at most ``limit``, the latest; and how many there are."""
    dated = _dated_events(events)
    (first, stop), total = _events_rows(dated, window, limit)
    return _events_json(dated.frame.iloc[first:stop]), total


def arrows_payload(
    moves: pd.DataFrame, window: Window | None, limit: int = MAX_MARKERS
) -> tuple[dict[str, Any], int]:
    """The page's arrows layer: the relocations (:func:`check_relocations`) found around
    the window's end or before it (None: all), at most ``limit``, the latest; and how many."""
    dated = _dated_moves(moves)
    (first, stop), total = _moves_rows(dated, window, limit)
    return _moves_json(dated.frame.iloc[first:stop]), total


class Marks:
    """The events and relocations an explorer draws: checked frames, the bounded payloads
    of a window, and which layers changed since they were last given to the page. A step
    of the timeline that keeps the same rows costs two binary searches.

    >>> marks = Marks()
    >>> marks.page(None)["events"]["id"], marks.changed(None), marks.notes
    ([], [], [])
    """

    def __init__(
        self, events: pd.DataFrame | None = None, relocations: pd.DataFrame | None = None
    ) -> None:
        self.set_events(events)
        self.set_relocations(relocations)
        self.drawn: dict[str, tuple[int, int]] = {}  # the rows each layer on the page shows
        self.notes: list[str] = []  # events / arrows left out by the bound

    def set_events(self, frame: pd.DataFrame | None) -> None:
        """Events to draw from now on (checked: :func:`check_events`); None for none."""
        self._events = _dated_events(_NO_EVENTS if frame is None else check_events(frame))
        self.drawn = {k: v for k, v in getattr(self, "drawn", {}).items() if k != "events"}

    def set_relocations(self, frame: pd.DataFrame | None) -> None:
        """Relocations to draw from now on (checked: :func:`check_relocations`)."""
        self._moves = _dated_moves(_NO_MOVES if frame is None else check_relocations(frame))
        self.drawn = {k: v for k, v in getattr(self, "drawn", {}).items() if k != "arrows"}

    def _rows(self, window: Window | None) -> dict[str, tuple[int, int]]:
        """The rows of each layer for ``window``; sets :attr:`notes`."""
        events, n_events = _events_rows(self._events, window, MAX_MARKERS)
        arrows, n_arrows = _moves_rows(self._moves, window, MAX_MARKERS)
        self.notes = [
            f"{total:,} {what} here: the latest {rows[1] - rows[0]:,} are drawn."
            for total, rows, what in (
                (n_events, events, "events"),
                (n_arrows, arrows, "relocations"),
            )
            if total > rows[1] - rows[0]
        ]
        return {"events": events, "arrows": arrows}

    def _payload(self, kind: str, rows: tuple[int, int]) -> dict[str, Any]:
        if kind == "events":
            return _events_json(self._events.frame.iloc[rows[0] : rows[1]])
        return _moves_json(self._moves.frame.iloc[rows[0] : rows[1]])

    def page(self, window: Window | None) -> dict[str, dict[str, Any]]:
        """The payloads a new page is drawn with (the page then holds them)."""
        self.drawn = self._rows(window)
        return {kind: self._payload(kind, rows) for kind, rows in self.drawn.items()}

    def changed(self, window: Window | None) -> list[dict[str, Any]]:
        """The commands that bring the page's layers to ``window``: none when they hold it."""
        messages = []
        for kind, rows in self._rows(window).items():
            if self.drawn.get(kind) != rows:
                self.drawn[kind] = rows
                messages.append({"type": kind, "payload": self._payload(kind, rows)})
        return messages


_NO_EVENTS = check_events(pd.DataFrame(columns=list(EVENT_COLUMNS)))
_NO_MOVES = check_relocations(pd.DataFrame(columns=list(RELOCATION_COLUMNS)))
