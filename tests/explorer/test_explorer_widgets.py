"""The explorer's widgets, kernel side: event checks, MapFrame's relay, SiteTable's sorting.

No browser: messages from the front end are handed to the widget as the comm would.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from workbench.explorer._widgets import (
    MAX_VERTICES,
    MapFrame,
    SiteTable,
    clean_event,
)

# the labextension's version, written once in its package.json
VERSION = json.loads(
    (Path(__file__).resolve().parents[2] / "extension" / "package.json").read_text("utf-8")
)["version"]
SQUARE = [[120.0, 30.0], [121.0, 30.0], [121.0, 31.0], [120.0, 31.0]]


def from_frontend(widget: Any, content: Any) -> None:
    """Deliver a custom message as the comm does."""
    widget._handle_msg(
        {"content": {"data": {"method": "custom", "content": content}}, "buffers": []}
    )


# --------------------------------------------------------------------------- clean_event


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"type": "ready"}, {"type": "ready"}),
        ({"type": "draw-clear", "junk": [1]}, {"type": "draw-clear"}),
        ({"type": "site-click", "site_id": "S001"}, {"type": "site-click", "site_id": "S001"}),
        (
            {"type": "point-click", "lat": 31, "lon": 121.5, "x": "y"},
            {"type": "point-click", "lat": 31.0, "lon": 121.5},
        ),
        (
            {"type": "draw", "shape": "polygon", "coordinates": SQUARE},
            {"type": "draw", "shape": "polygon", "coordinates": SQUARE},
        ),
        (  # a closed ring keeps its closing vertex
            {"type": "draw", "shape": "rectangle", "coordinates": [*SQUARE, SQUARE[0]]},
            {"type": "draw", "shape": "rectangle", "coordinates": [*SQUARE, SQUARE[0]]},
        ),
        (
            {"type": "view", "bounds": [[30, 120], [31.5, 122]], "zoom": 9},
            {"type": "view", "bounds": [[30.0, 120.0], [31.5, 122.0]], "zoom": 9.0},
        ),
    ],
)
def test_valid_events_are_kept_with_their_known_fields(message: Any, expected: Any) -> None:
    cleaned = clean_event(message)
    assert cleaned == expected
    assert json.loads(json.dumps(cleaned)) == expected


TRIANGLE_CLOSED = [[0, 0], [1, 0], [0, 0]]  # 2 distinct vertices


@pytest.mark.parametrize(
    "message",
    [
        None,
        "site-click",
        ["site-click"],
        {},
        {"type": 5},
        {"type": "alert"},
        {"type": "SITE-CLICK", "site_id": "S1"},
        {"type": "site-click"},
        {"type": "site-click", "site_id": 7},
        {"type": "site-click", "site_id": ""},
        {"type": "site-click", "site_id": "x" * 1001},
        {"type": "point-click", "lat": "31", "lon": 121},
        {"type": "point-click", "lat": 31, "lon": None},
        {"type": "point-click", "lat": True, "lon": 121},
        {"type": "point-click", "lat": math.nan, "lon": 121},
        {"type": "point-click", "lat": 91, "lon": 121},
        {"type": "draw", "shape": "circle", "coordinates": SQUARE},
        {"type": "draw", "shape": "polygon"},
        {"type": "draw", "shape": "polygon", "coordinates": SQUARE[:2]},
        {"type": "draw", "shape": "polygon", "coordinates": TRIANGLE_CLOSED},
        {"type": "draw", "shape": "polygon", "coordinates": [[0, 0], [1, 0], [1, math.inf]]},
        {"type": "draw", "shape": "polygon", "coordinates": [[0, 0], [1, 0], [1]]},
        {"type": "draw", "shape": "polygon", "coordinates": [[0, 0], [1, 0], [1, 1, 1]]},
        {"type": "draw", "shape": "polygon", "coordinates": [[0, 0], [1, 0], ["1", 1]]},
        {"type": "draw", "shape": "polygon", "coordinates": "0,0 1,0 1,1"},
        {"type": "view", "bounds": [[30, 120], [31, 122]]},
        {"type": "view", "bounds": [[30, 120], [31, 122]], "zoom": "9"},
        {"type": "view", "bounds": [[32, 120], [31, 122]], "zoom": 9},  # south > north
        {"type": "view", "bounds": [[30, 120]], "zoom": 9},
        {"type": "view", "bounds": [[30, 120], [31, math.nan]], "zoom": 9},
    ],
)
def test_invalid_events_are_refused(message: Any) -> None:
    assert clean_event(message) is None


def test_draw_vertex_limit() -> None:
    ring = [[i * 1e-4, (i % 2) * 1e-4] for i in range(MAX_VERTICES)]
    assert clean_event({"type": "draw", "shape": "polygon", "coordinates": ring}) is not None
    closed = [*ring, ring[0]]
    assert clean_event({"type": "draw", "shape": "polygon", "coordinates": closed}) is not None
    too_many = [*ring, [1.0, 1.0]]
    assert clean_event({"type": "draw", "shape": "polygon", "coordinates": too_many}) is None


# --------------------------------------------------------------------------- MapFrame


def test_mapframe_model_names_the_labextension_module() -> None:
    state = MapFrame(html="<p>map</p>", height_px=400).get_state()
    assert state["_model_name"] == "MapFrameModel"
    assert state["_view_name"] == "MapFrameView"
    assert state["_model_module"] == state["_view_module"] == "counterfeit-workbench"
    assert state["_model_module_version"] == state["_view_module_version"] == f"^{VERSION}"
    assert state["html"] == "<p>map</p>"
    assert state["height_px"] == 400


def test_valid_events_reach_every_callback_invalid_ones_none(
    caplog: pytest.LogCaptureFixture,
) -> None:
    frame = MapFrame()
    first: list[dict[str, Any]] = []
    second: list[dict[str, Any]] = []
    frame.on_event(first.append)
    frame.on_event(second.append)

    with caplog.at_level(logging.DEBUG, logger="workbench.explorer._widgets"):
        from_frontend(frame, {"type": "site-click", "site_id": "S1", "html": "<script>"})
        from_frontend(frame, {"type": "site-click", "site_id": 1})
        from_frontend(frame, {"type": "open-file", "path": "/etc/passwd"})
        from_frontend(frame, "ready")
        from_frontend(frame, {"type": "ready"})

    assert first == second == [{"type": "site-click", "site_id": "S1"}, {"type": "ready"}]
    assert sum("ignored an invalid event" in r.getMessage() for r in caplog.records) == 3

    frame.on_event(second.append, remove=True)
    from_frontend(frame, {"type": "draw-clear"})
    assert first[-1] == {"type": "draw-clear"}
    assert len(second) == 2


def test_a_failing_callback_does_not_raise_into_the_comm() -> None:
    frame = MapFrame()
    seen: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        raise RuntimeError("callback bug")

    frame.on_event(broken)
    frame.on_event(seen.append)
    from_frontend(frame, {"type": "ready"})  # must not raise
    assert seen == [{"type": "ready"}]


def test_post_sends_a_custom_message(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = MapFrame()
    sent: list[Any] = []
    monkeypatch.setattr(frame, "_send", lambda msg, buffers=None: sent.append(msg))
    frame.post({"type": "zoom-site", "site_id": "S2"})
    assert sent == [{"method": "custom", "content": {"type": "zoom-site", "site_id": "S2"}}]
    for bad in ({"site_id": "S2"}, {"type": 3}, ["zoom-site"]):
        with pytest.raises(TypeError):
            frame.post(bad)  # type: ignore[arg-type]
    assert len(sent) == 1


# --------------------------------------------------------------------------- SiteTable

COLUMNS = [
    {"key": "name", "label": "Name"},
    {"key": "score", "label": "Score", "numeric": True},
]


def ids(rows: list[dict[str, Any]]) -> list[str]:
    return [row["site_id"] for row in rows]


def test_sitetable_model_names_and_defaults() -> None:
    state = SiteTable().get_state()
    assert (state["_model_name"], state["_view_name"]) == ("SiteTableModel", "SiteTableView")
    assert state["_model_module"] == state["_view_module"] == "counterfeit-workbench"
    assert state["_model_module_version"] == f"^{VERSION}"
    assert (state["sort_by"], state["descending"], state["selected"]) == ("score", True, "")
    assert state["max_height_px"] == 320
    assert state["rows"] == state["columns"] == []


def test_rows_keep_the_given_order_until_the_sort_changes() -> None:
    rows = [{"site_id": "A", "score": 1}, {"site_id": "B", "score": 3}]
    table = SiteTable(columns=COLUMNS, rows=rows)
    assert ids(table.rows) == ["A", "B"]


def test_sort_rows_numbers_text_missing_and_stability() -> None:
    rows = [
        {"site_id": "a", "score": 2.5, "name": "beta"},
        {"site_id": "b", "score": None, "name": "Alpha"},
        {"site_id": "c", "score": 10, "name": None},
        {"site_id": "d", "score": math.nan, "name": "alpha"},
        {"site_id": "e", "score": 2.5, "name": "Gamma"},
        {"site_id": "f", "name": "delta"},  # no score at all
        {"site_id": "g", "score": 9, "name": "ALPHA"},
    ]
    table = SiteTable()
    table.sort_by, table.descending = "score", True
    # 10 > 9 > 2.5 = 2.5 (a before e: stable), then None, NaN, missing in their order
    assert ids(table.sort_rows(rows)) == ["c", "g", "a", "e", "b", "d", "f"]
    table.descending = False
    assert ids(table.sort_rows(rows)) == ["a", "e", "g", "c", "b", "d", "f"]
    # text: case-insensitive (Alpha = alpha = ALPHA keep their order), None last
    table.sort_by = "name"
    assert ids(table.sort_rows(rows)) == ["b", "d", "g", "a", "f", "e", "c"]
    table.descending = True
    assert ids(table.sort_rows(rows)) == ["e", "f", "a", "b", "d", "g", "c"]
    # numbers compare as numbers, not as text: 10 after 9
    numeric_text = [{"site_id": "x", "n": 10}, {"site_id": "y", "n": 9}]
    table.sort_by, table.descending = "n", False
    assert ids(table.sort_rows(numeric_text)) == ["y", "x"]
    # the input is not changed
    assert ids(rows) == list("abcdefg")


def test_sort_rows_numpy_and_pandas_values() -> None:
    rows = [
        {"site_id": "a", "v": np.int64(3)},
        {"site_id": "b", "v": pd.NA},
        {"site_id": "c", "v": np.float64(12.5)},
        {"site_id": "d", "v": np.float64("nan")},
    ]
    table = SiteTable(sort_by="v", descending=True)
    assert ids(table.sort_rows(rows)) == ["c", "a", "b", "d"]


def test_changing_sort_by_or_direction_resorts_rows() -> None:
    rows = [
        {"site_id": "S1", "name": "b", "score": 5},
        {"site_id": "S2", "name": "C", "score": 9},
        {"site_id": "S3", "name": "a", "score": 1},
    ]
    table = SiteTable(columns=COLUMNS, rows=rows)
    changes: list[list[str]] = []
    table.observe(lambda change: changes.append(ids(change["new"])), names="rows")

    table.descending = False  # by score, ascending
    assert ids(table.rows) == ["S3", "S1", "S2"]
    # a header click, from the front end
    table.set_state({"sort_by": "name", "descending": False})
    assert ids(table.rows) == ["S3", "S1", "S2"]
    table.descending = True
    assert ids(table.rows) == ["S2", "S1", "S3"]
    assert changes[0] == ["S3", "S1", "S2"] and changes[-1] == ["S2", "S1", "S3"]


def test_rows_are_made_json_safe() -> None:
    table = SiteTable(
        rows=[
            {
                "site_id": "S1",
                "score": np.float64(0.5),
                "waybills": np.int64(12),
                "density": math.inf,
                "nan": math.nan,
                "na": pd.NA,
                "accounts": ["A", np.int64(2), math.nan],
            }
        ]
    )
    (row,) = table.rows
    assert row == {
        "site_id": "S1",
        "score": 0.5,
        "waybills": 12,
        "density": None,
        "nan": None,
        "na": None,
        "accounts": ["A", 2, None],
    }
    assert type(row["waybills"]) is int
    json.dumps(table.get_state()["rows"], allow_nan=False)


def test_selected_round_trips_from_the_front_end() -> None:
    table = SiteTable(columns=COLUMNS, rows=[{"site_id": "S1", "score": 1}])
    table._handle_msg(
        {"content": {"data": {"method": "update", "state": {"selected": "S1"}}}, "buffers": []}
    )
    assert table.selected == "S1"
