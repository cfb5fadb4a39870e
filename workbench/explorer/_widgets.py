"""The kernel side of the explorer's two Jupyter widgets (front end: ``extension/src``).

:class:`MapFrame` shows a map page in a sandboxed iframe and relays its events; every event
is checked here by :func:`clean_event` before any callback sees it. :class:`SiteTable` is a
sortable table of candidate sites with one selectable row.
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import ipywidgets
from traitlets import Bool, Dict, Int, List, Unicode, observe, validate

from workbench import __version__

log = logging.getLogger(__name__)

MODULE_NAME = "counterfeit-workbench"
# the labextension's name and version (extension/package.json), as the front end registers them
MODULE_VERSION = f"^{__version__}"

EVENT_TYPES = frozenset({"ready", "site-click", "point-click", "draw", "draw-clear", "view"})
DRAW_SHAPES = frozenset({"polygon", "rectangle"})
MAX_VERTICES = 10_000
MAX_SITE_ID_CHARS = 1_000

Event = dict[str, Any]


# --------------------------------------------------------------------------- events


def _number(value: object) -> float | None:
    """``value`` as a finite float; None for anything else (bools, strings, NaN, inf)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _lat_lon(value: object) -> tuple[float, float] | None:
    """A ``[a, b]`` pair of finite numbers."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    a, b = _number(value[0]), _number(value[1])
    return None if a is None or b is None else (a, b)


def _ring(value: object) -> list[list[float]] | None:
    """``[[lon, lat], ...]``: 3 to MAX_VERTICES vertices, a closing repeat of the first allowed."""
    if not isinstance(value, list | tuple) or len(value) > MAX_VERTICES + 1:
        return None
    points = []
    for item in value:
        pair = _lat_lon(item)
        if pair is None or not -90 <= pair[1] <= 90:
            return None
        points.append([pair[0], pair[1]])
    vertices = len(points) - (len(points) > 1 and points[0] == points[-1])
    return points if 3 <= vertices <= MAX_VERTICES else None


def _clean_fields(kind: str, message: Mapping[str, Any]) -> Event | None:
    """The fields of an event of type ``kind``, checked; None if one is wrong."""
    if kind in {"ready", "draw-clear"}:
        return {}
    if kind == "site-click":
        site_id = message.get("site_id")
        if isinstance(site_id, str) and 0 < len(site_id) <= MAX_SITE_ID_CHARS:
            return {"site_id": site_id}
        return None
    if kind == "point-click":
        lat, lon = _number(message.get("lat")), _number(message.get("lon"))
        if lat is None or lon is None or not -90 <= lat <= 90:
            return None
        return {"lat": lat, "lon": lon}
    if kind == "draw":
        shape, ring = message.get("shape"), _ring(message.get("coordinates"))
        if shape not in DRAW_SHAPES or ring is None:
            return None
        return {"shape": shape, "coordinates": ring}
    # "view"
    bounds, zoom = message.get("bounds"), _number(message.get("zoom"))
    if zoom is None or not isinstance(bounds, list | tuple) or len(bounds) != 2:
        return None
    south_west, north_east = _lat_lon(bounds[0]), _lat_lon(bounds[1])
    if south_west is None or north_east is None:
        return None
    (south, west), (north, east) = south_west, north_east
    if south > north or west > east:
        return None
    return {"bounds": [[south, west], [north, east]], "zoom": zoom}


def clean_event(message: object) -> Event | None:
    """The event a map page sent, checked and reduced to its known fields; None if invalid.

    Events (coordinates in degrees, WGS84):

    - ``{"type": "ready"}``: the page has loaded and listens for commands;
    - ``{"type": "site-click", "site_id": str}``;
    - ``{"type": "point-click", "lat": float, "lon": float}``;
    - ``{"type": "draw", "shape": "polygon" | "rectangle", "coordinates": [[lon, lat], ...]}``:
      a ring of 3 to 10,000 vertices (it may repeat the first at the end);
    - ``{"type": "draw-clear"}``;
    - ``{"type": "view", "bounds": [[south, west], [north, east]], "zoom": float}``.

    >>> clean_event({"type": "site-click", "site_id": "S001", "extra": 1})
    {'type': 'site-click', 'site_id': 'S001'}
    >>> clean_event({"type": "point-click", "lat": "31.2", "lon": 121.5}) is None
    True
    """
    if not isinstance(message, Mapping):
        return None
    kind = message.get("type")
    if not isinstance(kind, str) or kind not in EVENT_TYPES:
        return None
    fields = _clean_fields(kind, message)
    return None if fields is None else {"type": kind, **fields}


# --------------------------------------------------------------------------- widgets


class MapFrame(ipywidgets.DOMWidget):
    """A map page (a whole HTML document) in an iframe sandboxed to ``allow-scripts``.

    The page sends events with ``parent.postMessage(event, "*")``; callbacks registered with
    :meth:`on_event` receive them once :func:`clean_event` has accepted them. :meth:`post`
    sends a command to the page, delivered once the page has sent ``{"type": "ready"}``.
    """

    _model_name = Unicode("MapFrameModel").tag(sync=True)
    _view_name = Unicode("MapFrameView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    html = Unicode("").tag(sync=True)
    height_px = Int(600).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._event_handlers = ipywidgets.CallbackDispatcher()
        self.on_msg(self._on_frontend_msg)

    def on_event(self, callback: Callable[[Event], Any], remove: bool = False) -> None:
        """Call ``callback(event)`` for every valid event of the page (``remove`` to stop)."""
        self._event_handlers.register_callback(callback, remove=remove)

    def post(self, message: dict[str, Any]) -> None:
        """Send a command (a JSON-able dict with a string ``"type"``) to the map page."""
        if not isinstance(message, dict) or not isinstance(message.get("type"), str):
            raise TypeError('a command is a dict with a string "type"')
        self.send(message)

    def _on_frontend_msg(self, _widget: object, content: object, _buffers: object) -> None:
        event = clean_event(content)
        if event is None:
            kind = content.get("type") if isinstance(content, Mapping) else type(content)
            log.debug("MapFrame: ignored an invalid event from the page (type %.80r)", kind)
            return
        # the dispatcher shows a callback's traceback instead of raising into the comm
        self._event_handlers(event)


def _is_na(value: object) -> bool:
    """pandas' missing-value markers (NA, NaT), without importing pandas."""
    return type(value).__name__ in {"NAType", "NaTType"}


def _missing(value: object) -> bool:
    if value is None or _is_na(value):
        return True
    number = _real(value)
    return number is not None and math.isnan(number)


def _real(value: object) -> float | None:
    if isinstance(value, numbers.Real):
        return float(value)
    return None


def _sort_key(value: object) -> tuple[int, float | str]:
    """Numbers by value, then everything else as case-insensitive text."""
    number = _real(value)
    if number is not None:
        return (0, number)
    return (1, (value if isinstance(value, str) else str(value)).casefold())


def _json_value(value: object) -> object:
    """A cell value the comm can send: NaN and infinities as None, numpy scalars as Python."""
    kind = type(value)
    if value is None or kind is str or kind is int or kind is bool:
        return value  # the usual cells, checked first: a table is set on every filter
    if kind is float and isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()  # numpy scalar -> int, float, str, bool
    if (isinstance(value, float) and not math.isfinite(value)) or _is_na(value):
        return None
    return value


class SiteTable(ipywidgets.DOMWidget):
    """Candidate sites, one row each, in the order of ``rows``; one row can be selected.

    ``columns`` are ``{"key", "label", "numeric"}`` dicts; each row has ``site_id`` and the
    columns' keys (a row labelled ``"hub"`` is greyed). Clicking a header sets ``sort_by`` /
    ``descending``, and the table re-sorts ``rows`` (see :meth:`sort_rows`). Clicking a row
    sets ``selected`` to its ``site_id``.
    """

    _model_name = Unicode("SiteTableModel").tag(sync=True)
    _view_name = Unicode("SiteTableView").tag(sync=True)
    _model_module = Unicode(MODULE_NAME).tag(sync=True)
    _view_module = Unicode(MODULE_NAME).tag(sync=True)
    _model_module_version = Unicode(MODULE_VERSION).tag(sync=True)
    _view_module_version = Unicode(MODULE_VERSION).tag(sync=True)

    columns = List(Dict()).tag(sync=True)
    rows = List(Dict()).tag(sync=True)
    sort_by = Unicode("score").tag(sync=True)
    descending = Bool(True).tag(sync=True)
    selected = Unicode("").tag(sync=True)
    max_height_px = Int(320).tag(sync=True)

    @validate("rows")
    def _json_rows(self, proposal: Any) -> list[dict[str, Any]]:
        return [
            {str(key): _json_value(value) for key, value in row.items()}
            for row in proposal["value"]
        ]

    def sort_rows(self, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """``rows`` sorted by ``sort_by`` (``descending`` or not): a stable sort.

        Numbers sort by value and text case-insensitively, numbers before text (after it
        when descending); rows without a value (missing, None, NaN) come last either way.
        """
        copies = [dict(row) for row in rows]
        present = [row for row in copies if not _missing(row.get(self.sort_by))]
        absent = [row for row in copies if _missing(row.get(self.sort_by))]
        # sorted(reverse=True) keeps equal rows in their order, as a stable sort should
        present.sort(key=lambda row: _sort_key(row[self.sort_by]), reverse=self.descending)
        return present + absent

    @observe("sort_by", "descending")
    def _resort(self, _change: Any) -> None:
        self.rows = self.sort_rows(self.rows)
