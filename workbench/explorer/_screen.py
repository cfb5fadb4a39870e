"""The investigator's main screen: an interactive map of a case, its sites and a review panel.

::

    import workbench
    case = workbench.open_case("investigation.case")
    explorer = workbench.explore(case)      # last line of a cell: the map, controls, table
    explorer.selection                      # what was drawn or clicked on the map
    explorer.observe(lambda change: print(change.new), names="selection")
    explorer.window = ("2026-03-02", "2026-03-29")   # four weeks: map, table, events follow

The map is the offline folium page of :mod:`workbench.maps._page` inside a sandboxed iframe
(:class:`~workbench.explorer._widgets.MapFrame`); clicks and drawn shapes come back to the
kernel as events, filters and zooms go to the page as new layer data. Every observer reads
traits, calls one function of :mod:`workbench.explorer._data` and sets the result.

Below the map, a timeline (:mod:`workbench.explorer._timeline`) plays the case week by week:
it sets ``window``, the days the map, the date pickers and the site table show, and the
recorded events and relocations of the window are drawn as markers and arrows
(:mod:`workbench.explorer._marks`).

What a case's accounts, networks and sites were seen with before (``workbench xref``,
``workbench exchange import``) shows in the site table ("Seen before": how many matches),
in a site's panel and in the panel of a clicked point or drawn area
(:mod:`workbench.explorer._seen`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w
import pandas as pd
import shapely
import traitlets

from workbench.errors import InputError, WorkbenchError
from workbench.explorer._data import (
    TABLE_COLUMNS,
    CaseData,
    Selection,
    SiteRows,
    point_shape,
    polygon_from_ring,
    select,
    visible_sites,
)
from workbench.explorer._details import details_html, selection_html
from workbench.explorer._marks import Marks
from workbench.explorer._seen import SeenBefore
from workbench.explorer._source import run_sites
from workbench.explorer._timeline import (
    SiteWeeks,
    Timeline,
    Window,
    check_window,
    window_from_dates,
)
from workbench.explorer._widgets import MapFrame, SiteTable
from workbench.maps import _data as data
from workbench.maps._addresses import AddressIndex
from workbench.maps._data import PointSummary
from workbench.maps._elements import render_page
from workbench.maps._index import Filters
from workbench.maps._page import MapLayers, compose
from workbench.progress import Progress
from workbench.team._explorer_reads import ExplorerReads

if TYPE_CHECKING:  # pragma: no cover
    from workbench.explorer._source import ExplorerCase
    from workbench.sites._relocation import Relocations

__all__ = ["Explorer", "explore"]


@dataclass
class _Drawn:
    """What a layer that bins its markers shows now: the grid cell of the whole map (None:
    every marker is drawn), the grid of what is drawn now (None: single markers), and
    whether that is a zoomed-in view's."""

    whole_cell: float | None = None
    cell: float | None = None
    refined: bool = False


REVIEW_BUTTONS = (
    ("confirmed", "Confirm", "success"),
    ("needs-work", "Needs work", "warning"),
    ("rejected", "Reject", "danger"),
)


class Explorer(w.VBox):
    """Map, filters, site table and review panel over one case (see the module docstring).

    Traits
    ------
    selected_site : str
        The site chosen in the table or on the map ("" for none); setting it zooms the map.
    selection : Selection or None
        What was last drawn or clicked on the map; observe it to react in Python.
    run_id : str
        The clustering run shown; the re-run button stores a new run and switches to it.
    window : (date, date) or None
        The days shown, both included (None: the whole period): the timeline and the date
        pickers set it; setting it (dates or ISO text) moves them and redraws the map and
        table (:mod:`workbench.explorer._timeline`).

    ``events`` (event_id, kind, date, site_id, lat, lon, note) are drawn as markers when in
    the window, ``relocations`` (from_site, to_site, from_lat, from_lon, to_lat, to_lon,
    around, label) as arrows once ``around`` is before the window's end; see
    :meth:`show_events` and :meth:`show_relocations`.
    """

    selected_site = traitlets.Unicode("")
    selection = traitlets.Instance(Selection, allow_none=True)
    run_id = traitlets.Unicode("")
    window = traitlets.Any(None, allow_none=True)

    def __init__(
        self,
        case: ExplorerCase,
        run_id: str | None = None,
        *,
        max_points: int = 10_000,
        max_addresses: int = 2_000,
        tiles: str | None = None,
        attribution: str | None = None,
        out_dir: str | os.PathLike[str] = "tipsheets",
        reviewer: str | None = None,
        events: pd.DataFrame | None = None,
        relocations: pd.DataFrame | Relocations | None = None,
    ) -> None:
        for name, value in (("max_points", max_points), ("max_addresses", max_addresses)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(f"{name}: expected a positive integer, got {value!r}")
        # checked before anything is read: a bad frame fails fast, naming its column
        self._marks = Marks(events, _placed(relocations, case, run_id))
        self._holding = False  # the pickers are being set to the window: no refresh each
        self.case = case
        self.max_points = max_points
        self.max_addresses = max_addresses
        self.out_dir = Path(out_dir)
        self.reviewer = reviewer
        self.data = CaseData.read(case)  # its waybill index is built on a thread meanwhile
        run = run_id or case.latest_run()
        # matches with earlier cases and partner lists: counts now, rows per selection
        self.seen = SeenBefore(case, run)
        self._addresses = AddressIndex(self.data.locations, self.data.names)
        self._address_state = _Drawn()  # the addresses drawn now
        self._tiles, self._attribution = tiles, attribution
        self._filters = Filters()  # the filters the points drawn now pass
        self._cell: float | None = None  # grid of the points drawn now (None: single points)
        self._whole_cell: float | None = None  # grid of the whole map at these filters
        self._refined = False  # the points drawn are those of a zoomed-in view
        self._state: dict[str, dict[str, Any]] = {}  # last command of each type since the page
        self._read_run(run)  # while the waybill index is built; the controls need it
        self._build_controls()
        self.map = MapFrame(layout=w.Layout(flex="1 1 auto", width="auto"))
        self.map.on_event(self._on_map_event)
        self.table = SiteTable(columns=list(TABLE_COLUMNS))
        self.details = w.HTML(layout=w.Layout(overflow="auto", max_height="420px"))
        self.message = w.HTML()
        super().__init__(children=self._layout(), layout=w.Layout(width="100%"))
        self.add_class("workbench-explorer")
        traitlets.link((self.table, "selected"), (self, "selected_site"))
        traitlets.link((self.timeline, "window"), (self, "window"))
        self.run_id = run
        self._set_radius()
        self.map.html = self._page()
        if self._marks.notes:  # more events or relocations than the page is sent
            self._say(" ".join(self._marks.notes))
        self._observe_controls()

    # -- construction ---------------------------------------------------------------------
    def _build_controls(self) -> None:
        index = self.data.index
        short = {"description_width": "70px"}
        wide = w.Layout(width="260px")
        self.brand_filter = w.SelectMultiple(
            options=index.brands, rows=min(6, max(len(index.brands), 2)), description="Brands",
            style=short, layout=wide,
        )  # fmt: skip
        self.network_filter = w.SelectMultiple(
            options=index.networks, rows=min(6, max(len(index.networks), 2)),
            description="Networks", style=short, layout=wide,
        )  # fmt: skip
        days = self._day_range()
        self.start_date = w.DatePicker(description="From", value=days[0], style=short, layout=wide)
        self.end_date = w.DatePicker(description="To", value=days[1], style=short, layout=wide)
        self.min_score = w.FloatSlider(
            value=0.0, min=0.0, max=100.0, step=5.0, description="Min score", style=short,
            continuous_update=False, layout=wide,
        )  # fmt: skip
        self.radius = w.BoundedFloatText(
            value=300.0, min=10.0, max=5000.0, step=50.0, description="Radius m", style=short,
            layout=w.Layout(width="180px"),
        )  # fmt: skip
        self.rerun_button = w.Button(description="Re-run clustering", icon="refresh")
        self.rerun_button.on_click(lambda _: self.rerun())
        self.note = w.Textarea(placeholder="Note: what you saw, which test buy…", rows=2)
        self.review_buttons = {}
        for status, label, style in REVIEW_BUTTONS:
            button = w.Button(description=label, button_style=style)
            button.on_click(lambda _, s=status: self.review(s))
            self.review_buttons[status] = button
        self.export_button = w.Button(description="Export tip sheet", icon="file-pdf-o")
        self.export_button.on_click(lambda _: self.export())
        # shown while a re-run or an export works: which step of how many, and what it does
        self.progress = w.IntProgress(
            value=0, min=0, max=1, description="", layout=w.Layout(display="none", width="260px")
        )
        self.timeline = Timeline(days)

    def _layout(self) -> list[w.Widget]:
        controls = w.VBox(
            [
                w.HTML("<b>Filters</b>"),
                self.brand_filter,
                self.network_filter,
                self.start_date,
                self.end_date,
                self.min_score,
                w.HTML("<b>Clustering</b>"),
                self.radius,
                self.rerun_button,
                self.progress,
            ],
            layout=w.Layout(width="270px", flex="0 0 270px"),
        )
        panel = w.VBox(
            [
                self.details,
                self.note,
                w.HBox(list(self.review_buttons.values())),
                self.export_button,
            ],
            layout=w.Layout(width="44%", flex="0 0 44%"),
        )
        return [
            w.HBox([controls, self.map], layout=w.Layout(width="100%")),
            self.timeline,
            self.message,
            w.HBox([w.Box([self.table], layout=w.Layout(flex="1 1 auto", overflow="auto")), panel]),
        ]

    def _observe_controls(self) -> None:
        for control in (self.brand_filter, self.network_filter, self.min_score):
            control.observe(lambda _: self.refresh(), names="value")
        for picker in (self.start_date, self.end_date):
            picker.observe(self._on_dates, names="value")
        self.observe(self._on_selected_site, names="selected_site")
        self.observe(self._on_window, names="window")

    def _day_range(self) -> tuple[dt.date | None, dt.date | None]:
        """First and last shipping day in the case (read with the counts)."""
        return self.data.days

    # -- state ----------------------------------------------------------------------------
    @property
    def filters(self) -> Filters:
        """The filters as set in the controls."""
        start, end = self.start_date.value, self.end_date.value
        first, last = self._day_range()
        return Filters(
            brands=tuple(self.brand_filter.value),
            networks=tuple(self.network_filter.value),
            start=None if start is None or start == first else pd.Timestamp(start),
            end=None if end is None or end == last else pd.Timestamp(end),
            min_score=float(self.min_score.value),
        )

    def _load_run(self) -> None:
        self._read_run(self.run_id)
        self._set_radius()

    def _read_run(self, run_id: str) -> None:
        """The sites of run ``run_id``, their weekly activity and their rows."""
        self.sites = run_sites(self.case, run_id)
        self._site_weeks = SiteWeeks(self.case.site_activity(run_id))
        if self.seen.run_id != run_id:
            self.seen.load(run_id)
        self._site_rows = self._rows_of_sites()

    def _set_radius(self) -> None:
        """The radius control at the run's radius."""
        self.radius.value = float(self._run_parameters().get("radius_m", self.radius.value))

    def _rows_of_sites(self) -> SiteRows:
        self._page_sites: set[str] = set()  # new records: the page's copies are stale
        seen = self.seen.site_counts(self.sites, self.data.network_of)
        return SiteRows(self.sites, self.data.names, seen)

    def _points_of(self, site_id: str) -> pd.DataFrame:
        """The ship-from points of a site of the run shown (lat, lon)."""
        return self.case.site_points(site_id, self.run_id)

    def _run_parameters(self) -> dict[str, Any]:
        runs = self.case.runs()
        found = runs.loc[runs["run_id"] == self.run_id, "parameters"]
        return dict(found.iloc[0]) if len(found) else {}

    def _apply_filters(self) -> tuple[PointSummary, pd.DataFrame]:
        """Mask the waybills, aggregate them and pick the sites to show; fills the table."""
        filters = self._filters = self.filters
        summary = self.data.index.summary(filters, max_points=self.max_points)
        self._cell = self._whole_cell = summary.cell_deg
        self._refined = False
        shown = visible_sites(self.sites, filters, self._site_weeks)
        self.table.rows = self.table.sort_rows(self._site_rows.table(shown))
        return summary, shown

    def _page(self) -> str:
        """The whole map page for the current filters (drawn once; then updated by messages)."""
        summary, shown = self._apply_filters()
        addresses, cell = self._addresses.payload(self.max_addresses)
        self._address_state = _Drawn(whole_cell=cell, cell=cell)
        marks = self._marks.page(self.window)
        layers = MapLayers(
            summary=summary, sites=self._site_rows.records(shown), locations=addresses,
            events=marks["events"], arrows=marks["arrows"],
        )  # fmt: skip
        fmap = compose(layers, tiles=self._tiles, attribution=self._attribution, interactive=True)
        self._page_sites = {r["id"] for r in layers.sites or []}
        return render_page(fmap)

    def refresh(self) -> None:
        """Apply the filters: new points and sites to the map, new rows to the table."""
        summary, shown = self._apply_filters()
        # a window is redrawn week after week (the timeline): its points on canvas however few
        canvas = self.window is not None
        self._post({"type": "points", "payload": data.points_payload(summary), "canvas": canvas})
        records = self._site_rows.records(shown)
        if records != self._state.get("sites", {}).get("records"):  # the page has these
            self._post_sites(records, canvas)
        n = self.data.index.count(self._filters)
        notes = self._post_marks()
        self._say(" ".join([f"{n:,} waybills and {len(shown):,} sites shown.", *notes]))

    # -- the window: timeline, date pickers, events and relocations -------------------------
    @traitlets.validate("window")
    def _check_window(self, proposal: Any) -> Window | None:
        return check_window(proposal["value"])

    def _on_window(self, change: dict[str, Any]) -> None:
        """A new window (timeline, Python or pickers): the pickers follow, then one redraw."""
        first, last = self._day_range()
        window = change["new"]
        self._holding = True
        try:
            self.start_date.value = first if window is None else window[0]
            self.end_date.value = last if window is None else window[1]
        finally:
            self._holding = False
        self.refresh()

    def _on_dates(self, _change: Any) -> None:
        """A date picker set by hand: the window follows (redrawing the map)."""
        if self._holding:
            return
        try:
            window = window_from_dates(
                self.start_date.value, self.end_date.value, self._day_range()
            )
        except InputError as error:  # the start after the end: nothing passes; say why
            self.refresh()
            self._say(str(error), error=True)
            return
        if window == self.window:
            self.refresh()
        else:
            self.window = window  # redraws

    def show_events(self, frame: pd.DataFrame | None) -> None:
        """Draw these events (event_id, kind, date, site_id, lat, lon, note) when they fall
        in the window, as markers with a popup (None: none). The frame is checked first: a
        missing column raises InputError naming it."""
        self._marks.set_events(frame)
        self._say(" ".join(self._post_marks()) or "Events shown.")

    def show_relocations(self, frame: pd.DataFrame | Relocations | None) -> None:
        """Draw these relocations (from_site, to_site, from_lat, from_lon, to_lat, to_lon,
        around, label; or what ``case.relocations()`` found, placed at this run's sites) as
        arrows from the old site to the new once ``around`` is on or before the window's
        end (None: none); checked as :meth:`show_events`."""
        self._marks.set_relocations(_placed(frame, self.case, self.run_id))
        self._say(" ".join(self._post_marks()) or "Relocations shown.")

    def _post_marks(self) -> list[str]:
        """Send the event and arrow layers whose content the window changed; the notes on
        what the bound left out."""
        for message in self._marks.changed(self.window):
            self._post(message)
        return self._marks.notes

    def _post_sites(self, records: list[dict[str, Any]], window: bool) -> None:
        """Send the sites to draw. In a window (the timeline, one step after another) the
        page is sent the ids of the sites it holds already and only the records it lacks,
        and draws them on canvas; a reloaded page is sent every record again."""
        message = {"type": "sites", "records": records}
        self._state["sites"] = message
        if not window:
            self.map.post(message)
        else:
            lacking = [r for r in records if r["id"] not in self._page_sites]
            ids = [r["id"] for r in records]
            self.map.post({"type": "sites", "ids": ids, "records": lacking, "canvas": True})
        self._page_sites.update(r["id"] for r in records)

    # -- map events -----------------------------------------------------------------------
    def _post(self, message: dict[str, Any]) -> None:
        """Send a command to the map page and remember it as the page's latest state."""
        self._state[message["type"]] = message
        self.map.post(message)

    def _on_map_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "ready":
            # a page that reloaded (a frame taken out of the document and put back) starts
            # from the HTML: replay the filters and the selection sent since
            for message in self._state.values():
                self.map.post(message)
            self._page_sites = {r["id"] for r in self._state.get("sites", {}).get("records", [])}
        elif kind == "site-click":
            self.selected_site = event["site_id"]
        elif kind == "point-click":
            shape = point_shape(event["lat"], event["lon"], self._cell)
            self._show_selection(
                select(self.data, self.sites, shape, self._filters, source="point")
            )
        elif kind == "draw":
            try:
                self.select_polygon(event["coordinates"])
            except InputError as error:  # a shape that cannot be used: say why, keep going
                self.selection = None
                self._say(str(error), error=True)
        elif kind == "draw-clear":
            self.selection = None
        elif kind == "view":
            self._on_view(event["bounds"])

    def select_polygon(self, coordinates: list[list[float]]) -> Selection:
        """Select what lies inside a ring of [lon, lat] pairs, as drawing it on the map does."""
        shape = polygon_from_ring(coordinates)
        found = self._show_selection(
            select(self.data, self.sites, shape, self._filters, source="draw")
        )
        self._say(f"Selected: {found!r}"[:300])
        return found

    def _show_selection(self, found: Selection) -> Selection:
        """Make ``found`` the selection, with what its sellers were seen with before
        (``found.seen_before``); the panel shows it unless a site is chosen (the panel then
        stays on the site, which the review buttons decide on)."""
        ids = found.sellers["seller_id"].astype(str)
        found.seen_before = self.seen.rows(ids, self.data.network_of)
        self.selection = found
        if not self.selected_site:
            self.details.value = selection_html(
                found, names=self.data.names, seen=found.seen_before
            )
        return found

    def _on_view(self, bounds: list[list[float]]) -> None:
        """Zoomed in on a binned map: show the points and addresses in view, one by one
        when few enough; zoomed out as far as the whole map again: the whole map's cells."""
        self._view_points(bounds)
        self._view_addresses(bounds)

    def _view_points(self, bounds: list[list[float]]) -> None:
        if self._whole_cell is None:
            return  # every point is drawn already
        index = self.data.index
        summary = index.summary(self._filters, max_points=self.max_points, bounds=bounds)
        if summary.cell_deg is not None and summary.cell_deg >= self._whole_cell:
            if not self._refined:
                return  # zoomed out as far as the whole map: it is already drawn
            summary = index.summary(self._filters, max_points=self.max_points)
        self._refined = summary.cell_deg != self._whole_cell
        self._cell = summary.cell_deg
        payload = data.points_payload(summary)
        self._post({"type": "points", "payload": payload, "canvas": self.window is not None})

    def _view_addresses(self, bounds: Sequence[Sequence[float]]) -> None:
        state = self._address_state
        if state.whole_cell is None:
            return  # every address is drawn already
        payload, cell = self._addresses.payload(self.max_addresses, bounds)
        if cell is not None and cell >= state.whole_cell:
            if not state.refined:
                return  # as far out as the whole map, which is drawn
            payload, cell = self._addresses.payload(self.max_addresses)
        state.refined, state.cell = cell != state.whole_cell, cell
        self._post({"type": "locations", "payload": payload})

    def _on_selected_site(self, change: dict[str, Any]) -> None:
        site_id = change["new"]
        if not site_id:
            self.details.value = ""
            self._state.pop("zoom-site", None)
            return
        self._post({"type": "zoom-site", "site_id": site_id})
        self._show_details(site_id)
        rows = self.sites[self.sites["site_id"] == site_id]
        if len(rows):
            self.selection = self._site_selection(site_id)

    def _site_selection(self, site_id: str) -> Selection:
        points = self._points_of(site_id)
        at = (points["lat"].to_numpy(float), points["lon"].to_numpy(float))
        site = self.sites[self.sites["site_id"] == site_id].iloc[0]
        hull = site["hull"] if isinstance(site["hull"], shapely.Geometry) else site["geometry"]
        found = select(self.data, self.sites, hull, self._filters, source="site", points=at)
        found.sites = found.sites[found.sites["site_id"] == site_id].reset_index(drop=True)
        found.site_id = site_id
        return found

    def _show_details(self, site_id: str) -> None:
        rows = self.sites[self.sites["site_id"] == site_id]
        if rows.empty:
            self.details.value = ""
            return
        site = rows.iloc[0].to_dict()
        self.details.value = details_html(
            site,
            names=self.data.names,
            network_of=self.data.network_of,
            evidence=self.data.evidence,
            activity=self.case.site_activity(self.run_id, site=site_id),
            reviews=self.case.reviews(site_id, run_id=self.run_id),
            seen=self.seen.rows(site.get("sellers") or [], self.data.network_of, site_id),
        )

    # -- actions --------------------------------------------------------------------------
    def review(self, status: str, note: str | None = None) -> dict[str, Any] | None:
        """Record a decision on the selected site (as the panel's buttons do)."""
        site_id = self.selected_site
        if not site_id:
            self._say("Select a site in the table or on the map first.", error=True)
            return None
        text = self.note.value if note is None else note
        try:
            if isinstance(self.case, ExplorerReads):
                self.case.require_review()  # a role that may not review: say which it needs
            record = self.case.review(
                site_id, status=status, note=text, by=self.reviewer, run_id=self.run_id
            )
        except WorkbenchError as error:
            self._say(str(error), error=True)
            return None
        self.note.value = ""
        self.sites = run_sites(self.case, self.run_id)
        self._site_rows = self._rows_of_sites()
        shown = visible_sites(self.sites, self.filters, self._site_weeks)
        self.table.rows = self.table.sort_rows(self._site_rows.table(shown))
        self._show_details(site_id)
        self._say(f"Recorded: {site_id} {status} by {record['by']} at {record['at']}.")
        return record

    def rerun(self) -> str:
        """Cluster again with the radius in the control; the new run is stored and shown."""
        from workbench.sites._finder import FIT_STEPS, SiteFinder

        params = self._run_parameters()
        finder = SiteFinder()
        known = finder.get_params()
        finder.set_params(**{k: v for k, v in params.items() if k in known})
        finder.set_params(radius_m=float(self.radius.value))
        try:  # a team case refuses a role that may not store a run before it reads
            with self._progress("Re-running", FIT_STEPS) as progress:
                finder.fit(
                    self.case.site_input(), networks=self.data.membership,
                    evidence=self.data.evidence, progress=progress,
                )  # fmt: skip
            run_id = self.case.save_sites(finder)
        except WorkbenchError as error:
            self._say(str(error), error=True)
            return self.run_id
        self.run_id = run_id
        self._load_run()
        self.selected_site = ""
        self.refresh()
        self._say(f"New run {self.run_id}: {len(self.sites):,} sites at {finder.radius_m:g} m.")
        return self.run_id

    def export(self, **options: Any) -> Path | None:
        """Write the tip-sheet bundle of the selected site into ``out_dir``.

        A site that is not confirmed is exported only with a reason, taken from the note box
        (it is printed in the report and audited). ``options`` go to
        :func:`workbench.export._bundle.export_tip_sheet` (``lang``, ``profile``, ``as_zip`` ...).
        """
        from workbench.export._bundle import EXPORT_STEPS, export_tip_sheet

        site_id = self.selected_site
        if not site_id:
            self._say("Select a site to export first.", error=True)
            return None
        options.setdefault("allow_unconfirmed", self.note.value.strip() or None)
        try:
            with self._progress("Exporting", EXPORT_STEPS) as progress:
                path = export_tip_sheet(
                    self.case, [site_id], out=self.out_dir, run_id=self.run_id,
                    progress=progress, **options,
                )  # fmt: skip
        except WorkbenchError as error:
            self._say(str(error), error=True)
            return None
        self._say(f"Tip sheet written: {path.resolve()}")
        return path

    @contextlib.contextmanager
    def _progress(self, what: str, total: int) -> Iterator[Progress]:
        """A Progress drawn in the explorer's own bar and message line while a task runs."""

        def show(done: int, steps: int, label: str) -> None:
            self.progress.max, self.progress.value = max(steps, 1), done
            if label:
                self._say(f"{what}: step {done + 1} of {steps}, {label}…")

        self.progress.layout.display = None
        try:
            with Progress(what, total, callback=show) as progress:
                yield progress
        finally:
            self.progress.layout.display = "none"

    def _say(self, text: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#333"
        self.message.value = f'<span style="color:{colour}">{html.escape(text)}</span>'

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is not None:
            bundle["text/plain"] = (
                f"Counterfeit Workbench explorer: run {self.run_id}, {len(self.sites):,} sites "
                "(run the cell to interact)"
            )
        return bundle


def _placed(
    relocations: pd.DataFrame | Relocations | None, case: ExplorerCase, run_id: str | None
) -> pd.DataFrame | None:
    """What ``case.relocations()`` found as arrows at the sites of the run shown; a frame
    (or None) as it is (:class:`Marks` checks it)."""
    from workbench.sites._relocation import Relocations

    if isinstance(relocations, Relocations):
        return relocations.arrows(run_sites(case, run_id))
    return relocations


def explore(case: ExplorerCase, run_id: str | None = None, **options: Any) -> Explorer:
    """Open the interactive explorer on ``case`` (the latest run unless ``run_id`` is given):
    a case file, or a team case (``workbench.open_case("postgresql://...?case=NAME")``),
    read through Arrow, whose reviews are recorded as the connected role.

    ``options``: ``max_points`` (markers before the map bins them, default 10,000),
    ``max_addresses`` (warehouse and return addresses before the map bins them, default
    2,000; zoomed in, those in view are drawn one by one),
    ``tiles`` and ``attribution`` (optional online tiles), ``out_dir`` (tip sheets),
    ``reviewer`` (the name recorded with reviews; default the case's actor; a team case
    records the connected role, refuses another name, and a role that may not review is
    told so on screen),
    ``events`` and ``relocations`` (frames drawn as markers and arrows as the timeline
    moves: see :class:`Explorer`; ``relocations`` may also be what ``case.relocations()``
    found, placed at the run's sites). The events default to those recorded in the case
    (``case.events()``); pass ``events=None`` to draw none.
    """
    if "events" not in options:
        recorded = case.events()
        options["events"] = recorded if len(recorded) else None
    return Explorer(case, run_id, **options)
