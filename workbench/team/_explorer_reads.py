"""What the explorer reads from a team case (counts, a site's points and weeks, a viewport's
waybills), through Arrow, as a case file answers the same calls.

A mixin of :class:`workbench.team._case.TeamCase`; it uses the case's connection
(``_con``), ``case_id`` and ``target``. Everything that grows with the waybills (the count
companions, the parts a viewport reads, a run's weekly activity and site points) comes as
Arrow through ADBC's PostgreSQL driver, on one connection opened when first needed and
closed with the case, and is shaped by the case file's own code:

- :meth:`waybill_cells`: the counts per place, seller, brand and day a map draws. The
  companions (``cells-*.parquet``) an ingest writes beside each part are kept byte for
  byte in ``waybill_files``; they are read in one binary COPY, and a part with replaced
  rows (or without a companion) is counted from its rows, as
  :func:`workbench.case._cells.read_cells` does. No schema change was needed.
- :meth:`waybills`: a viewport's or selection's waybills from the stored parts whose
  listed bounds overlap it, read with the case file's reader (its row groups' bbox
  statistics), so the rows and their order are the case file's.
- :meth:`table_frame` is ``Case.table(name, geometry=False)`` read through Arrow, and
  :meth:`site_layer` is ``Case.sites`` (hulls, parsed lists, review status), which
  ``TeamCase.sites`` is not (its lists stay JSON text; it has no hull); :meth:`site_points`
  and :meth:`site_activity` answer as the case file's methods of those names (site ids
  ordered byte by byte, as SQLite orders them).
- "Seen before": :meth:`cross_reference_counts` (one grouped query) and
  :meth:`cross_reference_rows` (a selection's accounts), with the scope rule of
  :func:`workbench.export._seen.xref_scope`.
- A re-run reads :meth:`site_input` (refused first for a role that may not store a run)
  and stores with :meth:`save_sites`; :meth:`require_review` refuses a review up front to a
  role that may not record one, naming the role it needs.

The events and whether the case was cross-referenced are
:class:`~workbench.team._bundle_reads.BundleReads`'s (``events``, ``cross_referenced``),
which a bundle reads too.

>>> team = open_team_case("postgresql://li@db:5432/workbench?case=putian")  # doctest: +SKIP
>>> team.waybill_cells().num_rows                                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.team._stored_file import StoredFile

if TYPE_CHECKING:
    import geopandas as gpd
    import pyarrow as pa

    from workbench.sites._finder import SiteFinder
    from workbench.team._store import TeamURL

__all__ = ["ExplorerReads"]

_XREF_ACTIONS = ("cross-reference", "import exchange list")  # as export._seen decides


class ExplorerReads:
    """The explorer's reads on a team case."""

    _con: Any
    _stack: contextlib.ExitStack
    case_id: int
    target: TeamURL
    _arrow_con: Any = None

    # -- plumbing -------------------------------------------------------------------------
    def _run(self, run_id: str | None) -> str:
        """``run_id``, or the case's latest run (NotFoundError: none yet)."""
        if run_id is not None:
            return run_id
        from workbench.team._case import _latest_run

        run = _latest_run(self._con, self.case_id)
        self._con.commit()
        return run

    def _arrow(self, sql: str, *params: Any) -> pa.Table:
        """``sql`` through ADBC's PostgreSQL driver (one autocommit connection per case,
        closed with it); without parameters the driver reads with a binary COPY."""
        if self._arrow_con is None:
            import adbc_driver_postgresql.dbapi as adbc

            self._arrow_con = adbc.connect(self.target.conninfo, autocommit=True)
            self._stack.callback(self._arrow_con.close)
        with self._arrow_con.cursor() as cursor:
            cursor.execute(sql, list(params) if params else None)
            table: pa.Table = cursor.fetch_arrow_table()
        return table

    def _files(self, sql: str) -> list[tuple[int, bytes | None, pa.Buffer, Any]]:
        """Stored files of ``sql``'s rows (part_id, deleted, extra, chunk, data; in part
        and chunk order), one per part: its id, replaced rows, bytes and ``extra``."""
        import pyarrow as pa

        table = self._arrow(sql)
        ids = table.column("part_id").to_numpy()
        out = []
        for part_id in dict.fromkeys(ids.tolist()):
            rows = np.flatnonzero(ids == part_id)
            data = [table.column("data")[int(r)] for r in rows]
            buffer = data[0].as_buffer() if len(data) == 1 else pa.py_buffer(
                b"".join(v.as_py() for v in data)
            )  # fmt: skip
            first = int(rows[0])
            deleted, extra = (table.column(c)[first].as_py() for c in ("deleted", "extra"))
            out.append((int(part_id), deleted, buffer, extra))
        return out

    # -- what a map draws -------------------------------------------------------------------
    def waybill_cells(self) -> pa.Table:
        """Waybill counts per (lat, lon, seller_id, brand, day), column ``n``, as
        ``Case.waybill_cells`` gives them (seller_id and brand dictionary-encoded; a cell
        can repeat across parts: sum ``n``): each part's companion, or its live rows
        counted when rows of it were replaced."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        from workbench.case._cells import _DICT_COLUMNS, _DICT_SCHEMA, _SOURCE, _slices, cells_of

        usable = "(c.file IS NOT NULL AND d.rows IS NULL)"
        files = self._files(
            f"SELECT p.part_id, d.rows AS deleted, {usable} AS extra, f.chunk, f.data "  # noqa: S608
            "FROM waybill_parts p LEFT JOIN waybill_deletes d ON d.case_id = p.case_id AND "
            "d.part_id = p.part_id LEFT JOIN waybill_cells c ON c.case_id = p.case_id AND "
            "c.part_id = p.part_id JOIN waybill_files f ON f.case_id = p.case_id AND f.file = "
            f"CASE WHEN {usable} THEN c.file ELSE p.file END WHERE p.case_id = "
            f"{int(self.case_id)} ORDER BY p.part_id, f.chunk"
        )
        tables = []
        for _, deleted, buffer, companion in files:
            source = pa.BufferReader(buffer)
            if companion:
                tables.append(pq.ParquetFile(source, read_dictionary=_DICT_COLUMNS).read())
                continue
            table = pq.read_table(source, columns=_SOURCE)
            if deleted:
                keep = np.ones(table.num_rows, dtype=bool)
                keep[np.frombuffer(deleted, "<u4").astype(np.int64)] = False
                table = table.filter(pa.array(keep))
            counted = [cells_of(t) for t in _slices(table)] or [cells_of(table)]
            tables.append(pa.concat_tables(counted).cast(_DICT_SCHEMA))
        if not tables:
            return _DICT_SCHEMA.empty_table()
        return pa.concat_tables(tables).unify_dictionaries()

    def waybills(
        self,
        columns: Sequence[str] | None = None,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        categorical: Iterable[str] = (),
    ) -> pd.DataFrame:
        """The case's waybills as ``Case.waybills`` gives them (``columns`` and
        ``ingest_seq``; ``bbox`` (min lat, min lon, max lat, max lon): the row groups that
        overlap it; ``categorical``: string columns as categoricals). Without ``bbox`` the
        stored parts come whole, in one binary COPY; with it, only the parts whose listed
        bounds overlap it, and of them only the footer and the row groups read (byte
        ranges of the stored files), as a case file reads its parts from disk."""
        import pyarrow as pa

        from workbench.case._io import typed
        from workbench.case._listing import retrying
        from workbench.case._part_write import COLUMNS, SCHEMA
        from workbench.case._parts import _empty, _read_one

        wanted = list(COLUMNS) if columns is None else [c for c in columns if c != "ingest_seq"]
        unknown = [c for c in wanted if c not in SCHEMA.names]
        if unknown:
            raise KeyError(f"no waybill column {unknown}")
        dictionary = set(categorical)

        def read() -> list[pa.Table]:
            return [
                _read_one(
                    source,  # a file, where a case file passes a path
                    np.frombuffer(deleted or b"", "<u4").astype(np.int64),
                    seq,
                    wanted,
                    bbox,
                    dictionary,
                )
                for source, deleted, seq in self._parts(bbox)
            ]

        tables = retrying(read)  # again when an ingest dropped a part listed meanwhile
        table = (
            pa.concat_tables(tables, promote_options="permissive")
            if tables
            else _empty(wanted, dictionary)
        )
        if dictionary:
            table = table.unify_dictionaries()
        return typed(table.to_pandas(split_blocks=True, self_destruct=True))

    def _parts(self, bbox: tuple[float, float, float, float] | None) -> list[tuple[Any, ...]]:
        """(source, replaced rows, ingest) of the listed parts that may hold waybills in
        ``bbox`` (all without one), in part order: each whole (one binary COPY of every
        part) or, with ``bbox``, a :class:`~workbench.team._stored_file.StoredFile` read by
        byte ranges."""
        import pyarrow as pa

        where = f"p.case_id = {int(self.case_id)}"
        if bbox is None or not all(math.isfinite(float(v)) for v in bbox):
            return [
                (pa.BufferReader(buffer), deleted, seq)
                for _, deleted, buffer, seq in self._files(
                    "SELECT p.part_id, d.rows AS deleted, p.ingest_seq AS extra, f.chunk, "  # noqa: S608
                    "f.data FROM waybill_parts p LEFT JOIN waybill_deletes d ON d.case_id = "
                    "p.case_id AND d.part_id = p.part_id JOIN waybill_files f ON f.case_id = "
                    f"p.case_id AND f.file = p.file WHERE {where} ORDER BY p.part_id, f.chunk"
                )
            ]
        south, west, north, east = (float(v) for v in bbox)
        rows = self._con.execute(
            "SELECT p.file, d.rows, p.ingest_seq, array_agg(octet_length(f.data) ORDER BY "  # noqa: S608
            "f.chunk) FROM waybill_parts p LEFT JOIN waybill_deletes d ON d.case_id = "
            "p.case_id AND d.part_id = p.part_id JOIN waybill_files f ON f.case_id = p.case_id "
            f"AND f.file = p.file WHERE {where} AND NOT coalesce(p.min_lat > %s OR p.max_lat "
            "< %s OR p.min_lon > %s OR p.max_lon < %s, false) GROUP BY p.part_id, p.file, "
            "d.rows, p.ingest_seq ORDER BY p.part_id",
            (north, south, east, west),
        ).fetchall()
        self._con.commit()
        return [
            (StoredFile(self._con, self.case_id, file, sizes), deleted, seq)
            for file, deleted, seq, sizes in rows
        ]

    # -- tables and runs --------------------------------------------------------------------
    def table_frame(self, name: str) -> pd.DataFrame:
        """A curated table (not the waybills, not the audit log) read through Arrow, as
        ``Case.table(name, geometry=False)`` gives it: its columns but ``fid`` and
        ``geom``, in ``fid`` order, dates parsed."""
        from workbench.case._io import typed
        from workbench.errors import NotFoundError
        from workbench.team._schema import TABLES

        if name not in TABLES or name.startswith("waybill_") or name in {"audit", "xref_index"}:
            raise NotFoundError(f"no table {name!r} to read in a team case")
        listed = ", ".join(f'"{c}"' for c in TABLES[name] if c not in {"fid", "geom"})
        frame = self._arrow(
            f'SELECT {listed} FROM "{name}" WHERE case_id = {int(self.case_id)} ORDER BY fid'  # noqa: S608
        ).to_pandas()
        return typed(frame)

    def site_layer(self, run_id: str | None = None) -> gpd.GeoDataFrame:
        """Sites of a run (default: the latest) as ``Case.sites`` gives them: by rank, with
        their hull, lists and score parts parsed and the latest review ``status``, read in
        one query through Arrow."""
        import geopandas as gpd

        from workbench.case._gpkg import parse_geometries
        from workbench.case._io import typed
        from workbench.case._sites import _JSON_COLUMNS
        from workbench.errors import NotFoundError
        from workbench.team._schema import TABLES

        run = self._run(run_id)
        listed = ", ".join(f's."{c}"' for c in TABLES["sites"] if c not in {"fid", "geom"})
        frame = self._arrow(
            f"SELECT {listed}, a.gpkg_geom AS hull, coalesce((SELECT v.status FROM reviews v "  # noqa: S608
            "WHERE v.case_id = s.case_id AND v.run_id = s.run_id AND v.site_id = s.site_id "
            "ORDER BY v.fid DESC LIMIT 1), 'unreviewed') AS status FROM sites s LEFT JOIN "
            "site_areas a ON a.case_id = s.case_id AND a.run_id = s.run_id AND a.site_id = "
            f"s.site_id WHERE s.case_id = {int(self.case_id)} AND s.run_id = $1 ORDER BY s.rank",
            run,
        ).to_pandas()
        if frame.empty and not self._has_run(run):
            raise NotFoundError(f"run_id={run!r} is not in this team case; see case.runs()")
        frame = typed(frame)
        frame["hull"] = parse_geometries(frame["hull"].tolist())
        for column in _JSON_COLUMNS:  # one JSON document of the whole column, as a case file
            texts = [v if isinstance(v, str) else "{}" for v in frame[column].tolist()]
            frame[column] = json.loads("[" + ",".join(texts) + "]") if texts else []
        frame["stable"] = [None if pd.isna(v) else bool(v) for v in frame["stable"].tolist()]
        frame["status"] = frame.pop("status")  # last, as a case file adds it
        return gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
        )

    def _has_run(self, run: str) -> bool:
        found = self._con.execute(
            "SELECT 1 FROM runs WHERE case_id = %s AND run_id = %s", (self.case_id, run)
        ).fetchone()
        self._con.commit()
        return found is not None

    def site_points(self, site_id: str, run_id: str | None = None) -> pd.DataFrame:
        """One site's ship-from points (lat, lon, n_shipments) in a run (default: latest)."""
        return self._arrow(
            "SELECT lat, lon, n_shipments FROM site_points WHERE case_id = "  # noqa: S608
            f"{int(self.case_id)} AND run_id = $1 AND site_id = $2 ORDER BY fid",
            self._run(run_id),
            site_id,
        ).to_pandas()

    def site_activity(self, run_id: str | None = None, site: str | None = None) -> pd.DataFrame:
        """Waybills and declared value per site (or only ``site``) and week (Monday) of a
        run, ordered as a case file orders them (site ids byte by byte, then weeks)."""
        run = self._run(run_id)
        one = " AND site_id = $2" if site is not None else ""
        frame = self._arrow(
            "SELECT site_id, week, n_shipments, value_cny FROM site_activity WHERE case_id = "  # noqa: S608
            f'{int(self.case_id)} AND run_id = $1{one} ORDER BY site_id COLLATE "C", week '
            'COLLATE "C"',
            *((run,) if site is None else (run, site)),
        ).to_pandas()
        frame["week"] = pd.to_datetime(frame["week"])
        return frame

    # -- cross-references ("seen before") ---------------------------------------------------
    def _xref_scope(self, run_id: str | None) -> str:
        """The condition on ``cross_references`` rows that still apply to ``run_id``
        (:func:`workbench.export._seen.xref_scope`'s rule: account and identifier matches
        always, a site match for the run latest when it was made, a network match until
        the sellers are linked again)."""
        from workbench.case._xref_store import site_match_seqs

        runs = self._con.execute(
            "SELECT run_id, audit_seq FROM runs WHERE case_id = %s ORDER BY fid", (self.case_id,)
        ).fetchall()
        low, high = site_match_seqs(runs, run_id)
        linked = self._con.execute(
            "SELECT max(seq) FROM audit WHERE case_id = %s AND action = 'link sellers'",
            (self.case_id,),
        ).fetchone()[0]
        self._con.commit()
        return (
            f"case_id = {int(self.case_id)} AND (match <> 'site' OR (audit_seq > {int(low)} "
            f"AND audit_seq < {int(high)})) AND (match <> 'network' OR audit_seq > "
            f"{int(linked or 0)})"
        )

    def cross_reference_counts(
        self, run_id: str | None
    ) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """How many stored matches apply to each account (account and identifier matches),
        network (``network`` matches of ``run_id``'s scope) and site (``site`` matches)."""
        counted = self._arrow(
            "SELECT seller_id, count(*) AS n FROM cross_references WHERE case_id = "  # noqa: S608
            f"{int(self.case_id)} AND seller_id IS NOT NULL GROUP BY seller_id"
        )
        ids, ns = counted.column("seller_id").to_pylist(), counted.column("n").to_pylist()
        by_seller = {str(s): int(n) for s, n in zip(ids, ns, strict=True)}
        grouped = self._arrow(
            "SELECT match, coalesce(network_id, '') AS network, coalesce(site_id, '') AS site, "  # noqa: S608
            "count(*) AS n FROM cross_references WHERE seller_id IS NULL AND match IN "
            f"('network', 'site') AND {self._xref_scope(run_id)} GROUP BY 1, 2, 3"
        ).to_pylist()
        by_network: dict[str, int] = {}
        by_site: dict[str, int] = {}
        for row in grouped:
            into, key = (by_network, row["network"]) if row["match"] == "network" else (
                by_site, row["site"]
            )  # fmt: skip
            into[key] = into.get(key, 0) + int(row["n"])
        return by_seller, by_network, by_site

    def cross_reference_rows(
        self,
        run_id: str | None,
        *,
        sellers: Iterable[str] = (),
        networks: Iterable[str] = (),
        site_ids: Iterable[str] = (),
    ) -> pd.DataFrame:
        """The stored matches that apply to ``run_id`` of these accounts, these networks'
        ``network`` matches and these sites' ``site`` matches, in stored order, as
        :func:`workbench.export._seen.read_cross_references` reads a case file's."""
        from workbench.case._io import typed
        from workbench.case._xref_store import XREF_COLUMNS

        listed = ", ".join(f'"{c}"' for c in XREF_COLUMNS)
        frame = self._arrow(
            f"SELECT {listed} FROM cross_references WHERE {self._xref_scope(run_id)} AND "  # noqa: S608
            f"(seller_id IN ({_ids(1)}) OR (match = 'network' AND network_id IN ({_ids(2)})) "
            f"OR (match = 'site' AND site_id IN ({_ids(3)}))) ORDER BY fid",
            *(
                json.dumps(sorted({str(v) for v in values}), ensure_ascii=False)
                for values in (sellers, networks, site_ids)
            ),
        ).to_pandas()
        return typed(frame.reindex(columns=list(XREF_COLUMNS)))

    # -- rights ----------------------------------------------------------------------------
    def require_review(self) -> None:
        """Refuse a role that may not record reviews (a viewer, an export role) with a
        :class:`~workbench.errors.TeamAccessError` naming the role it needs, before a
        decision is sent (the database refuses it anyway)."""
        from workbench.team._store import require_right

        require_right(
            self._con, "INSERT", "reviews", step="recording a review", role="workbench_review"
        )

    # -- a new run from the explorer ---------------------------------------------------------
    def site_input(self) -> pd.DataFrame:
        """The waybill columns the site finder uses, as ``Case.site_input`` gives them
        (for a new run: refused first for a role that may not store one)."""
        from workbench.team._analysis import site_input
        from workbench.team._store import require_right

        require_right(self._con, "INSERT", "runs", step="finding sites", role="workbench_ingest")
        return site_input(self.target.conninfo, self.case_id)

    def save_sites(self, finder: SiteFinder) -> str:
        """Store a clustering run and its sites (audited, as the connected role); an
        identical earlier run is reused, as ``Case.save_sites``."""
        from workbench.team._analysis import save_sites

        return save_sites(self, finder)  # type: ignore[arg-type]  # self is the TeamCase


def _ids(n: int) -> str:
    """The ids given as parameter ``$n`` (a JSON list of text: any number, one parameter)."""
    return f"SELECT json_array_elements_text(${n}::json)"
