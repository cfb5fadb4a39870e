"""The case: one investigation in one GeoPackage file, shared by notebook, CLI and exports.

A case holds the canonical tables, the quarantine, seller networks, clustering runs and
their sites, review decisions and the hash-chained audit log. Every step writes inside one
SQLite transaction (a process killed mid-step leaves the case as it was), writes from
several processes take turns, and QGIS, ArcGIS or ``ogrinfo`` open the file as layers.

>>> case = open_case("putian-2026.gpkg")                     # doctest: +SKIP
>>> case.ingest([load_shipments("shipments.csv")])            # doctest: +SKIP
>>> case.review("S001", status="confirmed", note="test buy 14 matched")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd
import pyarrow as pa

from workbench.case import _analysis, _part_write, _parts
from workbench.case import audit as audit_log
from workbench.case._gpkg import parse_geometries, register_functions, touch
from workbench.case._io import quarantine_rows, read_arrow, read_frame, typed
from workbench.case._paths import is_locked, resolve_case_path, storage_error
from workbench.case._schema import LAYERS, SCHEMA_VERSION, migrate, schema_version
from workbench.case._site_input import write_ready_copy
from workbench.case._staging import (
    QUARANTINE_STAGED,
    listed_files,
    replaced_segments,
    scratch_folder,
    stage_item,
    sweep_stale_scratch,
)
from workbench.errors import (
    CaseError,
    CaseLockedError,
    CaseVersionError,
    InputError,
    NotFoundError,
)
from workbench.progress import Progress
from workbench.schema import KEY_COLUMNS, REVIEW_STATUSES

if TYPE_CHECKING:
    from workbench.case._distributed_ingest import WaybillFile
    from workbench.case._xref_index import Index
    from workbench.intake._table import IntakeResult
    from workbench.networks._link import Networks
    from workbench.sites._finder import SiteFinder
    from workbench.sites._relocation import Relocations

    # one file of an ingest: its table, its intake chunks and its final report; or a
    # waybill file to read on a Dask worker
    Item = tuple[str, Iterable[IntakeResult], Callable[[], dict[str, Any]]] | WaybillFile

__all__ = ["Case", "open_case", "resolve_case_path"]

FIND_SITES_STEPS = 3 + 8  # Case.find_sites's own steps plus SiteFinder.fit's (FIT_STEPS)
_AUDITED_REPORT = (
    "table",
    "source",
    "sha256",
    "format",
    "encoding",
    "rows_read",
    "rows_stored",
    "rows_quarantined",
    "quarantine_reasons",
    "rows_repaired",
    "repairs",
)
_CHILD_READ_ROWS = 400_000  # below this, starting a reader process costs more than it saves:
# the child costs ~0.45 s of CPU to start (Python, pyarrow, ADBC); sqlite3 rows ~1.5 us each
# (the 97,607 identifiers of the 10M demo: 0.85 s wall and 0.5 s CPU in a child, 0.35 s and
# 0.15 s in this process)


class Case:
    """An open case file. Use :func:`open_case` to get one; close it (or use ``with``)."""

    def __init__(self, path: Path, *, actor: str | None, timeout_s: float, create: bool) -> None:
        if not create and not path.exists():
            raise NotFoundError(f"no case at {path}; open_case(..., create=True) makes one")
        if path.exists() and path.is_dir():
            raise InputError(f"case path {path} is a folder, not a .gpkg file")
        if not create and path.stat().st_size == 0:
            raise InputError(
                f"{path} is empty (0 bytes): not a case file; was it copied or downloaded "
                "completely?"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.actor = actor or audit_log.current_actor()
        self._timeout_s = timeout_s
        self._con = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
        register_functions(self._con)  # the R-tree index triggers call them
        try:
            self._con.execute("PRAGMA journal_mode = WAL")
            self._con.execute("PRAGMA synchronous = NORMAL")
            self._prepare_schema()
        except sqlite3.OperationalError as error:
            self._con.close()
            if is_locked(error):
                raise self._locked() from error
            raise storage_error(path, error) from error
        except sqlite3.DatabaseError as error:  # e.g. "file is not a database"
            self._con.close()
            raise InputError(f"{path} is not a case file (not SQLite: {error})") from error
        except Exception:
            self._con.close()
            raise

    # -- plumbing ----------------------------------------------------------------------
    def _locked(self) -> CaseLockedError:
        return CaseLockedError(
            f"case {self.path} is being written by another process (waited "
            f"{self._timeout_s:g} s); try again when it has finished"
        )

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: everything inside lands together or not at all."""
        try:
            self._con.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            if is_locked(error):
                raise self._locked() from error
            raise storage_error(self.path, error) from error
        try:
            yield self._con
            self._con.execute("COMMIT")
        except BaseException as error:
            if self._con.in_transaction:  # SQLite may have rolled back already (a full disk)
                self._con.execute("ROLLBACK")
            if isinstance(error, sqlite3.OperationalError) and not is_locked(error):
                raise storage_error(self.path, error) from error
            raise
        audit_log.write_anchor(self._con, self.path)  # the latest entry, kept beside the case

    def _prepare_schema(self) -> None:
        version = schema_version(self._con)
        if version > SCHEMA_VERSION:
            raise CaseVersionError(
                f"case {self.path} uses schema {version}; this workbench reads up to "
                f"{SCHEMA_VERSION}. Upgrade counterfeit-workbench to open it."
            )
        if version == SCHEMA_VERSION:
            return
        with self._write() as con:
            version = schema_version(con)  # another process may have done it meanwhile
            if version == 0 and con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise InputError(
                    f"{self.path} has tables but is not a workbench case; open_case makes a "
                    "new case in a new file, it does not take over another tool's database"
                )
            if version < SCHEMA_VERSION:
                migrate(con, version)
                action = "create case" if version == 0 else "migrate case"
                audit_log.append(
                    con,
                    actor=self.actor,
                    action=action,
                    parameters={"from_schema": version, "to_schema": SCHEMA_VERSION},
                    wrote=audit_log.STATE_TABLES,  # the baseline every later step builds on
                )

    def close(self) -> None:
        """Close the file (a closed case cannot be used any more)."""
        self._con.close()

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Case {self.path} schema {self.schema_version}>"

    @property
    def schema_version(self) -> int:
        return schema_version(self._con)

    # -- reading -------------------------------------------------------------------------
    def table(self, name: str, *, geometry: bool = True) -> pd.DataFrame:
        """A table as a frame; shipments, locations and sites as GeoDataFrames (EPSG:4326),
        or as plain frames with their lat and lon when ``geometry=False``."""
        if name not in LAYERS:
            raise NotFoundError(f"no table {name!r} in a case; tables: {', '.join(LAYERS)}")
        if name == "shipments":
            ships = self.waybills()
            if not geometry:
                return ships
            points = gpd.points_from_xy(ships["lon"], ships["lat"])
            return gpd.GeoDataFrame(ships, geometry=points, crs="EPSG:4326")
        columns = [
            row[1]
            for row in self._con.execute(f'PRAGMA table_info("{name}")')
            if row[1] not in {"fid", "geom"}
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        order = "seq" if name == "audit" else "fid"
        sql = f'SELECT {listed} FROM "{name}" ORDER BY {order}'  # noqa: S608
        rows = self._con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608
        # big tables: Arrow through ADBC in a child process, ~4x faster than sqlite3 rows
        arrow = read_arrow(str(self.path), sql) if rows >= _CHILD_READ_ROWS else None
        frame = typed(arrow) if arrow is not None else read_frame(self._con, sql)
        if geometry and LAYERS[name][1] == "POINT":
            points = gpd.points_from_xy(frame["lon"], frame["lat"])
            return gpd.GeoDataFrame(frame, geometry=points, crs="EPSG:4326")
        return frame

    def waybills(
        self,
        columns: Sequence[str] | None = None,
        *,
        bbox: tuple[float, float, float, float] | None = None,
        categorical: Iterable[str] = (),
        before_seq: int | None = None,
    ) -> pd.DataFrame:
        """The case's waybills as a plain frame, read from its GeoParquet parts.

        ``columns``: only these (and ``ingest_seq``); ``bbox`` (min lat, min lon, max lat,
        max lon): only the row groups that overlap it (so some rows outside it come too);
        ``categorical``: string columns as categoricals (a few thousand sellers instead of
        millions of strings); ``before_seq``: only waybills ingested before that audit entry.
        """
        table = _parts.read_parts(
            self._con, columns, bbox=bbox, before_seq=before_seq, dictionary=categorical
        )
        if categorical:
            table = table.unify_dictionaries()
        return typed(table.to_pandas(split_blocks=True, self_destruct=True))

    def waybill_cells(self) -> pa.Table:
        """Waybill counts per (lat, lon, seller_id, brand, day), column ``n``: what a map
        draws, without reading the waybills (an Arrow table; seller_id and brand
        dictionary-encoded; a cell can repeat across parts: sum ``n``)."""
        from workbench.case._cells import read_cells

        return read_cells(self._con, _parts.folder_for(self.path))

    def site_input(self) -> pd.DataFrame:
        """The waybill columns the site finder uses, shaped for it: sellers, brands and
        precision levels as categoricals, dates as categoricals of days (a few hundred
        values instead of millions)."""
        from workbench.case._site_input import site_frame

        return site_frame(self._con)

    def n_waybills(self) -> int:
        """How many waybills the case holds (from the parts' listing: no file is read)."""
        return _parts.count_rows(self._con)

    def runs(self) -> pd.DataFrame:
        """Every clustering run, oldest first, with its parameters."""
        runs = self.table("runs")
        runs["parameters"] = runs["parameters"].map(json.loads)
        return runs

    def latest_run(self) -> str:
        row = self._con.execute("SELECT run_id FROM runs ORDER BY fid DESC LIMIT 1").fetchone()
        if row is None:
            raise NotFoundError(f"case {self.path} has no clustering run yet; find sites first")
        return str(row[0])

    def sites(self, run_id: str | None = None) -> gpd.GeoDataFrame:
        """Sites of a run (default: the latest) with hull and latest review ``status``."""
        run = run_id or self.latest_run()
        frame = read_frame(
            self._con,
            "SELECT s.*, a.geom AS hull FROM sites s LEFT JOIN site_areas a "
            "ON a.run_id = s.run_id AND a.site_id = s.site_id WHERE s.run_id = ? ORDER BY rank",
            (run,),
        )
        known = self._con.execute("SELECT 1 FROM runs WHERE run_id = ?", (run,)).fetchone()
        if not known:
            raise NotFoundError(f"run_id={run!r} is not in this case; see case.runs()")
        frame = frame.drop(columns=["fid", "geom"])
        frame["hull"] = parse_geometries(frame["hull"].tolist())
        for column in ("sellers", "networks", "brands", "score_parts", "stability", "precision"):
            # one JSON document of the whole column: a parse per value costs more than it reads
            texts = [v if isinstance(v, str) else "{}" for v in frame[column].tolist()]
            frame[column] = json.loads("[" + ",".join(texts) + "]") if texts else []
        frame["stable"] = [None if pd.isna(v) else bool(v) for v in frame["stable"].tolist()]
        latest = self.reviews(run_id=run).groupby("site_id").tail(1).set_index("site_id")
        status = dict(zip(latest.index, latest["status"], strict=True))
        frame["status"] = [status.get(site, "unreviewed") for site in frame["site_id"]]
        return gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs="EPSG:4326"
        )

    def site_shipments(self, site_id: str, run_id: str | None = None) -> gpd.GeoDataFrame:
        """The waybills of one site: those at the site's points when the run was made, by
        day then waybill number.

        Waybills ingested after the run are not included, and only points precise enough
        to take part in clustering count.
        """
        run = run_id or self.latest_run()
        found = self._con.execute(
            "SELECT r.audit_seq FROM runs r JOIN sites s ON s.run_id = r.run_id "
            "WHERE r.run_id = ? AND s.site_id = ?",
            (run, site_id),
        ).fetchone()
        if found is None:
            raise NotFoundError(f"site_id={site_id!r} is not in run {run}; see case.sites()")
        from workbench.case._site_input import site_waybills

        ships = typed(site_waybills(self._con, self.site_points(site_id, run), int(found[0])))
        ships = ships.sort_values(["shipped_at", "shipment_id"], kind="stable", ignore_index=True)
        return gpd.GeoDataFrame(
            ships, geometry=gpd.points_from_xy(ships["lon"], ships["lat"]), crs="EPSG:4326"
        )

    def site_points(self, site_id: str, run_id: str | None = None) -> pd.DataFrame:
        """One site's ship-from points (lat, lon, n_shipments) in a run (default: latest)."""
        sql = "SELECT lat, lon, n_shipments FROM site_points WHERE run_id = ? AND site_id = ?"
        return read_frame(self._con, sql, (run_id or self.latest_run(), site_id))

    def site_activity(self, run_id: str | None = None, site: str | None = None) -> pd.DataFrame:
        """Waybills and declared value per site (or only ``site``) and week (Monday) of a run."""
        run = run_id or self.latest_run()
        sql = "SELECT site_id, week, n_shipments, value_cny FROM site_activity WHERE run_id = ?"
        one = " AND site_id = ?" if site is not None else ""
        params = (run,) if site is None else (run, site)
        frame = read_frame(self._con, sql + one + " ORDER BY site_id, week", params)
        frame["week"] = pd.to_datetime(frame["week"])
        return frame

    def reviews(self, site_id: str | None = None, *, run_id: str | None = None) -> pd.DataFrame:
        """Review history, oldest first; nothing is ever overwritten."""
        frame = self.table("reviews")
        if run_id is not None:
            frame = frame[frame["run_id"] == run_id]
        if site_id is not None:
            frame = frame[frame["site_id"] == site_id]
        return frame.reset_index(drop=True)

    def networks(self) -> Networks:
        """The stored seller networks (from the last linking), with their summary."""
        from workbench.networks._link import Networks, describe_networks

        membership = pd.DataFrame(self.table("networks"))
        if membership.empty:
            raise NotFoundError(f"case {self.path} has no networks yet; link sellers first")
        links = pd.DataFrame(self.table("network_links"))
        log = self.audit()
        last = log[log["action"] == "link sellers"].iloc[-1]
        return Networks(
            membership=membership,
            summary=describe_networks(membership, links),
            links=links,
            infrastructure=pd.DataFrame(columns=["kind", "value_norm", "n_accounts", "value"]),
            parameters=json.loads(last["parameters"]),
            unknown_sellers=pd.DataFrame(columns=["seller_id", "kind", "value"]),
        )

    def audit(self) -> pd.DataFrame:
        """The audit log, oldest first."""
        return self.table("audit")

    def verify_audit(self) -> audit_log.AuditCheck:
        """Recompute the audit hash chain, the tables' recorded state and the anchor beside
        the case (see :mod:`workbench.case.audit` for exactly what this proves)."""
        return audit_log.verify(self._con, self.path)

    # -- writing -------------------------------------------------------------------------
    def ingest(
        self, results: Iterable[IntakeResult], *, link: bool = True
    ) -> dict[str, dict[str, int]]:
        """Store intake results (clean rows and quarantine) in one transaction.

        Rows whose key (seller_id, shipment_id, evidence_id) is already in the case replace
        it; identical identifier and location rows are kept once. Returns counts per table.
        The rows are first bulk-written to a scratch file outside the case; the case itself
        changes only in the final transaction, so a crash at any point leaves it as it was.
        With ``link`` (the default), an ingest of sellers or identifiers then links the
        accounts again (:func:`workbench.case._analysis.relink`), in its own audited step.
        """
        items = [(r.table, [r], lambda r=r: r.report) for r in results]
        return {table: c for table, c, _ in self._ingest(items, link=link)}

    def ingest_files(
        self,
        files: Mapping[str, str | os.PathLike[str] | Sequence[str | os.PathLike[str]]],
        *,
        mapping: Any = None,
        chunk_rows: int | None = None,
        progress: bool | None = None,
        geocode: Any = None,
        link: bool = True,
        client: Any = None,
    ) -> list[dict[str, Any]]:
        """Stream export files (``{"shipments": path, ...}``, or a list of files for a
        table: a waybill in a later file replaces the earlier one) into the case in chunks.

        Memory stays proportional to a chunk, so files larger than memory load. ``mapping``
        is a mapping file or dict covering the tables. Returns each file's intake report
        with what the case did with its rows; the whole ingest is one transaction. With
        ``link`` (the default), an ingest of sellers or identifiers then links the accounts
        again with the options of the last linking, in its own audited step, so the stored
        networks always match the accounts (and a site run need not link first). With a
        Dask ``client``, the waybill files are read on the workers, one file a task, while
        this process reads the other tables; the case comes out the same
        (:mod:`workbench.case._distributed_ingest`).
        """
        from workbench.case._distributed_ingest import WaybillFile
        from workbench.intake._table import CHUNK_ROWS, stream_table

        items: list[Item] = []
        for table, path in listed_files(files):
            if client is not None and table == "shipments":
                items.append(WaybillFile(path, mapping, chunk_rows, geocode).checked())
                continue
            stream = stream_table(
                path,
                table,
                mapping=mapping,
                chunk_rows=chunk_rows or CHUNK_ROWS,
                progress=progress,
                geocode=geocode,
            )
            items.append((stream.table, stream, functools.partial(getattr, stream, "report")))
        done = self._ingest(items, link=link, client=client)
        return [{**report, **counts} for _, counts, report in done]

    def _ingest(
        self, items: Sequence[Item], *, link: bool, client: Any = None
    ) -> list[tuple[str, dict[str, int], dict[str, Any]]]:
        try:
            done = self._ingest_items(items, client)
            if link and {"sellers", "identifiers"} & {table for table, _, _ in done}:
                _analysis.relink(self)
            return done
        except OSError as error:
            if error.errno != errno.ENOSPC:
                raise
            raise CaseError(
                f"case {self.path}: no space left on the disk that holds it ({error}); nothing "
                "was written. Free some space and run the step again."
            ) from error

    def _ingest_items(
        self, items: Sequence[Item], client: Any = None
    ) -> list[tuple[str, dict[str, int], dict[str, Any]]]:
        from workbench.case import _distributed_ingest as remote

        sweep_stale_scratch()
        done: list[tuple[str, dict[str, int], dict[str, Any]]] = []
        doomed: list[Path] = []
        with contextlib.ExitStack() as stack:
            scratch = stack.enter_context(scratch_folder())
            staged = str(scratch / "stage.sqlite")
            incoming = None
            if any(
                isinstance(item, remote.WaybillFile) or item[0] == "shipments" for item in items
            ):
                folder = _parts.folder_for(self.path)
                incoming = stack.enter_context(_parts.incoming_folder(folder))
            files = {
                i: item for i, item in enumerate(items) if isinstance(item, remote.WaybillFile)
            }
            with ThreadPoolExecutor(1, thread_name_prefix="workbench-ingest") as pool:
                # the workers read the waybill files while this process reads the rest
                read = None
                if files and incoming is not None:
                    read = pool.submit(remote.read_on_workers, client, files, incoming)
                plans = [
                    stage_item(i, *item, staged, incoming)
                    for i, item in enumerate(items)
                    if not isinstance(item, remote.WaybillFile)
                ]
                for plan, quarantined in read.result() if read is not None else []:
                    if quarantined is not None:
                        remote.copy_quarantine(staged, plan[0], quarantined)
                    plans.append(plan)
            plans.sort(key=lambda plan: plan[0])  # in the order given: a later file wins
            self._con.execute("ATTACH DATABASE ? AS stage", (staged,))
            stack.callback(self._con.execute, "DETACH DATABASE stage")
            with self._write() as con:
                written = sorted({p[1] for p in plans} | {"quarantine"})
                replaced = replaced_segments(con, plans)
                parts = [info for p in plans for info in p[6]]
                hits = _parts.replacements(con, [p[6] for p in plans if p[6]])
                replaced.setdefault("shipments", set()).update(hits.segments)
                audit_log.check_unchanged(con, written, replaced)
                seq = audit_log.next_seq(con)
                replaced_rows, doomed = _parts.commit_parts(con, parts, seq, hits)
                counts = [self._store(con, *plan, seq, replaced_rows) for plan in plans]
                if incoming is not None:  # the site finder's columns, ready for the next run
                    doomed += write_ready_copy(con, incoming)
                touch(con, written)
                audit_log.append(
                    con,
                    actor=self.actor,
                    action="ingest",
                    parameters={"tables": {p[1]: c for p, c in zip(plans, counts, strict=True)}},
                    inputs=[{k: p[3].get(k) for k in _AUDITED_REPORT} for p in plans],
                    wrote=written,
                    segments={t: replaced.get(t, set()) | {seq} for t in written},
                )
            done = [(p[1], c, p[3]) for p, c in zip(plans, counts, strict=True)]
        for path in doomed:  # parts whose every row was replaced, now unlisted
            with contextlib.suppress(OSError):
                path.unlink()
        return done

    def quarantine(self, table: str | None = None, reason: str | None = None) -> pd.DataFrame:
        """Rejected rows with file, row number, raw row, reason and message, oldest first."""
        return quarantine_rows(self.table("quarantine"), table, reason)

    def _store(
        self,
        con: sqlite3.Connection,
        i: int,
        table: str,
        columns: list[str],
        report: dict[str, Any],
        n_clean: int,
        n_quarantined: int,
        parts: list[_part_write.PartInfo],
        seq: int,
        replaced_rows: dict[str, int],
    ) -> dict[str, int]:
        self._store_quarantine(con, i, table, report, n_quarantined, seq)
        if table == "shipments":  # its part is committed: count what it replaced
            replaced = sum(replaced_rows.get(info.path.name, 0) for info in parts)
            return {
                "rows_read": int(report["rows_read"]),
                "new": n_clean - replaced,
                "replaced_or_already_present": replaced,
                "quarantined": n_quarantined,
            }
        before = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        key = KEY_COLUMNS.get(table)
        if key:
            updates = ", ".join(
                f'"{c}" = excluded."{c}"' for c in [*columns, "ingest_seq"] if c != key
            )
            conflict = f'ON CONFLICT("{key}") DO UPDATE SET {updates}'
        else:
            conflict = "ON CONFLICT DO NOTHING"
        names = ", ".join(f'"{c}"' for c in columns)
        # WHERE true: SQLite's rule for an upsert on INSERT ... SELECT
        con.execute(
            f'INSERT INTO "{table}" ({names}, ingest_seq) SELECT {names}, ? '  # noqa: S608
            f"FROM stage.data_{i} WHERE true {conflict}",
            (seq,),
        )
        after = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # noqa: S608
        new = int(after - before)
        return {
            "rows_read": int(report["rows_read"]),
            "new": new,
            "replaced_or_already_present": n_clean - new,
            "quarantined": n_quarantined,
        }

    @staticmethod
    def _store_quarantine(
        con: sqlite3.Connection,
        i: int,
        table: str,
        report: dict[str, Any],
        n_quarantined: int,
        seq: int,
    ) -> None:
        # the quarantine holds each file's rejects once: those of its latest ingest
        con.execute(
            'DELETE FROM quarantine WHERE "table" = ? AND source_sha256 = ?',
            (table, report.get("sha256")),
        )
        if n_quarantined:
            q = ", ".join(f'"{c}"' for c in QUARANTINE_STAGED)
            con.execute(
                f"INSERT INTO quarantine ({q}, ingest_seq) SELECT {q}, ? FROM stage.quarantine_{i}",  # noqa: S608
                (seq,),
            )

    def save_networks(self, networks: Networks, *, index: Index | None = None) -> int:
        """Replace the stored networks with a new linking result; returns its audit entry.

        ``index``: the case's cross-reference index from what this linking normalised
        (:func:`workbench.case._xref_store.linked_index`), stored with the networks."""
        return _analysis.save_networks(self, networks, index=index)

    def save_sites(self, finder: SiteFinder) -> str:
        """Store a clustering run and its sites; an identical earlier run is reused."""
        return _analysis.save_sites(self, finder)

    def link_sellers(self, **params: Any) -> Networks:
        """Link the case's accounts into networks, store them and return them.

        ``params`` go to :func:`workbench.networks.link_sellers` (``max_accounts``,
        ``allow_list``, ``include_weak``, ...); the summary gets volumes, brands and verdicts
        from the case's shipments and evidence.
        """
        return _analysis.link_sellers(self, **params)

    def find_sites(
        self,
        radius_m: float = 300.0,
        *,
        max_accounts: int | None = None,
        since: _analysis.DateLike | None = None,
        until: _analysis.DateLike | None = None,
        progress: Progress | None = None,
        client: Any = None,
        **params: Any,
    ) -> str:
        """Cluster the case's shipments and store the run; returns the run id.

        ``since`` / ``until`` (days, both included) restrict the run to the waybills
        shipped in that window; the window is recorded with the run. ``client``: a
        ``distributed.Client`` (``workbench.sites.make_client``) to cluster on a Dask
        cluster, with the same result as here.

        The case's stored networks are used as they are when they were linked after its
        last ingest of sellers or identifiers (an ingest links them) and no
        ``max_accounts`` is given. Otherwise the sellers are linked first (and the networks
        stored) with the options of the last linking (``allow_list``, ``include_weak``)
        and ``max_accounts`` when given.

        ``progress`` is told each of the ``FIND_SITES_STEPS`` steps as it starts.
        """
        return _analysis.find_sites(
            self,
            radius_m,
            max_accounts=max_accounts,
            since=since,
            until=until,
            progress=progress,
            client=client,
            **params,
        )

    def compare_runs(self, before: str, after: str, **options: Any) -> pd.DataFrame:
        """Site by site, what changed from run ``before`` to run ``after`` (e.g. two time
        windows): one row per site that appeared, vanished, grew, shrank or held steady,
        with the distance between matched sites and a one-line summary. ``options``:
        ``factor`` (1.5: grew/shrank from there), ``min_reach_m`` (300)."""
        return _analysis.compare_runs(self, before, after, **options)

    def record_event(
        self,
        kind: str,
        date: str | dt.date,
        *,
        note: str,
        site_id: str | None = None,
        seller_ids: Iterable[str] = (),
        network_id: str | None = None,
        by: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a raid, an account takedown, a test-buy campaign or another event, with
        its date, note and who recorded it (audited); returns the event as stored. It
        concerns a site (of ``run_id``, default the latest), accounts or a network."""
        from workbench.case._events import record_event

        return record_event(
            self, kind, date, note=note, site_id=site_id, seller_ids=seller_ids,
            network_id=network_id, by=by, run_id=run_id,
        )  # fmt: skip

    def events(self, kind: str | None = None) -> pd.DataFrame:
        """The recorded events, by date (``seller_ids`` as a list)."""
        from workbench.case._events import events

        return events(self, kind=kind)

    def relocations(self, run_id: str | None = None, **params: Any) -> Relocations:
        """Where each network's production went after its site stopped: relocations with
        their evidence, parallel operations and activity spans of a run (default the latest;
        ``params`` go to :func:`workbench.sites.find_relocations`)."""
        from workbench.case._events import relocations

        return relocations(self, run_id, **params)

    def review(
        self,
        site_id: str,
        *,
        status: str,
        note: str = "",
        by: str | None = None,
        run_id: str | None = None,
    ) -> dict[str, Any]:
        """Record a review decision on a site; earlier decisions are kept as history."""
        if status not in REVIEW_STATUSES:
            raise InputError(f"status={status!r}; expected one of {', '.join(REVIEW_STATUSES)}")
        run = run_id or self.latest_run()
        with self._write() as con:
            known = con.execute(
                "SELECT 1 FROM sites WHERE run_id = ? AND site_id = ?", (run, site_id)
            ).fetchone()
            if not known:
                raise NotFoundError(f"site_id={site_id!r} is not in run {run}")
            reviewer = by or self.actor
            audit_log.check_unchanged(con, ["reviews"])
            seq, at = audit_log.next_seq(con), audit_log.now()
            con.execute(
                "INSERT INTO reviews (run_id, site_id, status, note, by, at, audit_seq) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run, site_id, status, note, reviewer, at, seq),
            )
            audit_log.append(
                con,
                actor=reviewer,
                action="review",
                parameters={"run_id": run, "site_id": site_id, "status": status, "note": note},
                at=at,
                wrote=["reviews"],
            )
        return {
            "run_id": run,
            "site_id": site_id,
            "status": status,
            "note": note,
            "by": reviewer,
            "at": at,
        }

    def settings(self) -> dict[str, str]:
        """Case settings (``organisation``, ``contact``, ...), as set by :meth:`set_setting`."""
        rows = self._con.execute(
            "SELECT key, value FROM workbench_meta WHERE key LIKE 'setting:%' ORDER BY key"
        ).fetchall()
        return {str(k).removeprefix("setting:"): str(v) for k, v in rows}

    def set_setting(self, key: str, value: str) -> None:
        """Set a case setting such as the reporting ``organisation``; the change is audited."""
        if not key or not key.replace("_", "").replace("-", "").isalnum():
            raise InputError(f"setting key={key!r}: use letters, digits, '-' and '_' only")
        with self._write() as con:
            audit_log.check_unchanged(con, ["settings"])
            con.execute(
                "INSERT OR REPLACE INTO workbench_meta VALUES (?, ?)", (f"setting:{key}", value)
            )
            audit_log.append(
                con, actor=self.actor, action="set setting", parameters={key: value},
                wrote=["settings"],
            )  # fmt: skip

    def log(
        self, action: str, parameters: dict[str, Any], inputs: Iterable[dict[str, Any]] = ()
    ) -> int:
        """Append an audit entry for an action done outside the case (an export, say)."""
        with self._write() as con:
            return audit_log.append(
                con, actor=self.actor, action=action, parameters=parameters, inputs=list(inputs)
            )


def open_case(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    actor: str | None = None,
    create: bool = True,
    timeout_s: float = 10.0,
) -> Case:
    """Open (or create) a case file; migrate it if an older workbench wrote it.

    Parameters
    ----------
    path : the ``.gpkg`` file (``.gpkg`` is added when there is no suffix)
    root : if given, ``path`` must resolve inside this folder (user-supplied names)
    actor : who is acting, for the audit log (default: the OS user)
    create : make the file when it does not exist
    timeout_s : how long to wait for another process's write before giving up

    A team case's URL is opened by ``workbench.open_case`` (:mod:`workbench.opening`).
    """
    return Case(resolve_case_path(path, root), actor=actor, timeout_s=timeout_s, create=create)
