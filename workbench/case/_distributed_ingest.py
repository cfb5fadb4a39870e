"""Waybill files of one ingest read in parallel on a Dask cluster's workers.

Each worker streams one export file through the intake (checks, mapping, repairs) and
writes its waybills into GeoParquet parts in the ingest's incoming folder beside the case,
and its quarantined rows into a scratch SQLite file there; the client, which reads the
other tables meanwhile, then commits every file's parts in the one transaction a local
ingest uses. The parts are the bytes a local ingest writes (the same chunks, the same
writer), so the case is the same. The workers must see the case's folder at the same path
(a LocalCluster does; a remote cluster needs a shared file system, as for reading parts).

>>> case.ingest_files({"shipments": monthly_files}, client=make_client(workers=2))  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.case._staging import Plan, stage_item
from workbench.errors import InputError

__all__ = ["WaybillFile", "copy_quarantine", "read_file", "read_on_workers"]

_STOP = "stop"  # in the incoming folder: a file failed, the files not started are skipped


@dataclass(frozen=True)
class WaybillFile:
    """One waybill export file to read on a worker, with the intake's options."""

    path: Path
    mapping: Any = None
    chunk_rows: int | None = None
    geocode: Any = None

    def checked(self) -> WaybillFile:
        """Refuse, on the client, a file the workers could not read (named)."""
        if not self.path.is_file():
            raise InputError(f"{self.path}: no such file (shipments)")
        if not os.access(self.path, os.R_OK):
            raise InputError(f"{self.path}: not readable (shipments)")
        return self


def read_file(i: int, file: WaybillFile, incoming: str) -> tuple[Plan, str | None]:
    """On a worker: stream ``file`` into parts in ``incoming``; returns the file's plan and
    the scratch file holding its quarantined rows (None when none were)."""
    from workbench.intake._table import CHUNK_ROWS, stream_table

    if (Path(incoming) / _STOP).exists():  # another file failed: this ingest is over
        raise InputError(f"{file.path}: not read, another file of this ingest failed")
    stream = stream_table(
        file.path,
        "shipments",
        mapping=file.mapping,
        chunk_rows=file.chunk_rows or CHUNK_ROWS,
        progress=False,
        geocode=file.geocode,
    )
    staged = Path(incoming) / f"quarantine-{i}.sqlite"
    plan = stage_item(i, "shipments", stream, lambda: stream.report, str(staged), Path(incoming))
    return plan, str(staged) if staged.exists() else None


def read_on_workers(
    client: Any, files: Mapping[int, WaybillFile], incoming: Path
) -> list[tuple[Plan, str | None]]:
    """Read ``files`` (by their place in the ingest) on the workers, one task a file; waits
    for all. A file that fails raises its error once the files being read have ended (the
    ones not started are dropped)."""
    futures = [
        client.submit(
            read_file, i, file, str(incoming), key=f"workbench-ingest-{i}-{incoming.name}"
        )
        for i, file in files.items()
    ]
    try:
        results: list[tuple[Plan, str | None]] = client.gather(futures)
    except BaseException:
        # the files not started are skipped, those being read waited for: no worker
        # writes into the incoming folder once this ingest has removed it
        (incoming / _STOP).touch()
        with contextlib.suppress(Exception):
            from distributed import wait

            wait(futures)
        raise
    return results


def copy_quarantine(staged: str, i: int, source: str) -> None:
    """Copy file ``i``'s quarantined rows from a worker's scratch file into ``staged``."""
    with contextlib.closing(sqlite3.connect(staged)) as con:
        con.execute("ATTACH DATABASE ? AS worker", (source,))
        with con:
            con.execute(
                f'CREATE TABLE "quarantine_{i}" AS SELECT * FROM worker."quarantine_{i}"'  # noqa: S608
            )
        con.execute("DETACH DATABASE worker")
