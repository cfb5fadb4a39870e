"""Storing and reading a case's matches (``cross_references``) and its own index
(``xref_index``), each write one transaction with its audit entry (private to ``case``)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from workbench.case import audit as audit_log
from workbench.case._fingerprint import SCHEME
from workbench.case._gpkg import touch
from workbench.case._io import read_frame, stage
from workbench.case._staging import scratch_folder
from workbench.case._xref_index import Index, basis, blobs, build_index, linked, options_of

if TYPE_CHECKING:
    from workbench.case._case import Case
    from workbench.networks._link import Networks

__all__ = [
    "XREF_COLUMNS", "cross_references", "linked_index", "site_match_seqs", "store_index",
    "store_linked_index", "store_matches",
]  # fmt: skip

XREF_COLUMNS = (
    "match", "kind", "value_norm", "seller_id", "network_id", "site_id", "source",
    "source_name", "source_path", "source_hash", "other_seller_ids", "n_other_sellers",
    "other_network_id", "other_site_ids", "review_status", "brand", "verdict",
    "verdict_date", "explanation", "run_at", "audit_seq",
)  # fmt: skip
_WRITES = ["cross_references", "xref_index"]


def site_match_seqs(runs: Sequence[tuple[Any, Any]], run_id: str | None) -> tuple[int, int]:
    """(low, high): the audit entries between which a stored ``site`` match applies to
    ``run_id`` (default: the latest of ``runs``, (run_id, audit_seq) oldest first): those
    made while it was the latest run. (0, -1), none, when there is no such run."""
    ids = [str(r[0]) for r in runs]
    run = run_id or (ids[-1] if ids else None)
    if run not in ids:
        return 0, -1
    at = ids.index(run)
    high = int(runs[at + 1][1] or 0) if at + 1 < len(runs) else 2**62
    return int(runs[at][1] or 0), high


def store_matches(
    case: Case,
    frame: pd.DataFrame,
    *,
    source: str,
    names: Sequence[str] | None,
    action: str,
    parameters: Mapping[str, Any],
    inputs: Sequence[Mapping[str, Any]],
    index: Index | None = None,
) -> pd.DataFrame:
    """Replace the case's matches from ``source`` (those of ``names`` only, if given) with
    ``frame``, in one transaction with an audit entry; returns the rows as stored (as
    :func:`cross_references` reads them). ``index``: the case's own index, stored too.

    The rows reach SQLite as Arrow through a scratch file (ADBC, in C), attached and
    copied in one ``INSERT ... SELECT``, as an ingest does."""
    frame = frame.reindex(columns=list(XREF_COLUMNS)).reset_index(drop=True)
    frame["source"] = source
    written = _WRITES if index is not None else _WRITES[:1]
    staged = [c for c in XREF_COLUMNS if c not in ("run_at", "audit_seq")]
    listed = ", ".join(f'"{c}"' for c in staged)
    with contextlib.ExitStack() as stack:
        scratch = stack.enter_context(scratch_folder())
        stage(str(scratch / "rows.sqlite"), {"rows": _arrow_rows(frame, staged)})
        case._con.execute("ATTACH DATABASE ? AS xref_stage", (str(scratch / "rows.sqlite"),))
        stack.callback(case._con.execute, "DETACH DATABASE xref_stage")
        with case._write() as con:
            audit_log.check_unchanged(con, written)
            seq, at = audit_log.next_seq(con), audit_log.now()
            if names is None:
                con.execute("DELETE FROM cross_references WHERE source = ?", (source,))
            else:
                con.executemany(
                    "DELETE FROM cross_references WHERE source = ? AND source_name = ?",
                    [(source, n) for n in names],
                )
            con.execute(
                f"INSERT INTO cross_references ({listed}, run_at, audit_seq) "  # noqa: S608
                f"SELECT {listed}, ?, ? FROM xref_stage.rows ORDER BY rowid",
                (at, seq),
            )
            if index is not None:
                _store_index(con, index)
            touch(con, ["cross_references"])
            audit_log.append(
                con,
                actor=case.actor,
                action=action,
                parameters=dict(parameters),
                inputs=list(inputs),
                at=at,
                wrote=written,
            )
    return _typed(frame.assign(run_at=at, audit_seq=seq))


def _arrow_rows(frame: pd.DataFrame, columns: Sequence[str]) -> Any:
    """The rows as an Arrow table of strings (counts as integers), nulls where missing."""
    import pyarrow as pa

    arrays = {}
    for column in columns:
        kind = pa.int64() if column == "n_other_sellers" else pa.string()
        arrays[column] = pa.array(frame[column].astype(object), type=kind, from_pandas=True)
    return pa.table(arrays)


def store_index(case: Case, index: Index | None = None) -> int:
    """Store the case's own index without cross-referencing it (what a later case reads
    to match against this one fast; linking and a cross-reference store it too); returns
    the audit entry. ``index``: one just built from the case's current tables."""
    if index is None:
        index, _ = build_index(case._con, case.path, keep_values=True)
    options = index.options or {}
    with case._write() as con:
        audit_log.check_unchanged(con, ["xref_index"])
        _store_index(con, index)
        return audit_log.append(
            con,
            actor=case.actor,
            action="index identifiers",
            parameters={"n_identifiers": len(index.identifiers), **options},
            wrote=["xref_index"],
        )


def linked_index(sellers: pd.DataFrame, networks: Networks) -> Index | None:
    """The case's index from what linking its tables (``sellers`` among them) into
    ``networks`` normalised and counted (nothing is normalised again), to be stored with
    the networks (:meth:`Case.save_networks`); None when linking used custom e-mail rules
    (the index is then built when a cross-reference needs it)."""
    normalised = networks._normalised
    if normalised is None:
        return None
    networks._normalised = None  # the values live on in the index only
    members = networks.membership
    return linked(
        sellers, members[members["network_id"].notna()], normalised,
        options_of(networks.parameters),
    )  # fmt: skip


def store_linked_index(
    con: sqlite3.Connection, index: Index, seq: int, parameters: Mapping[str, Any]
) -> None:
    """Store ``index`` in the transaction that saves the networks, before its ``link
    sellers`` entry ``seq`` (with ``parameters``) is appended: current once it is."""
    _store_index(con, index, basis(con, linking=(seq, parameters)))


def _store_index(
    con: sqlite3.Connection, index: Index, based_on: Mapping[str, Any] | None = None
) -> None:
    text = json.dumps(basis(con) if based_on is None else based_on, sort_keys=True)
    con.execute("DELETE FROM xref_index")
    for part, n, data in blobs(index):  # one blob at a time: each is written and let go
        con.execute(
            "INSERT INTO xref_index (part, scheme, basis, n_rows, data) VALUES (?, ?, ?, ?, ?)",
            (part, SCHEME, text, n, data),
        )
        del data


def cross_references(case: Case, *, source: str | None = None) -> pd.DataFrame:
    """The case's stored matches (from earlier cases: ``source="case"``; from partners'
    lists: ``"partner"``), in the order they were stored."""
    where, params = ("WHERE source = ?", (source,)) if source else ("", ())
    listed = ", ".join(f'"{c}"' for c in XREF_COLUMNS)
    frame = read_frame(
        case._con,
        f"SELECT {listed} FROM cross_references {where} ORDER BY fid",  # noqa: S608
        params,
    )
    return _typed(frame.reindex(columns=list(XREF_COLUMNS)))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts as nullable integers, every other column as Python objects (None missing)."""
    frame = frame.astype(object).where(frame.notna(), None)
    for column in ("n_other_sellers", "audit_seq"):
        frame[column] = frame[column].astype("Int64")
    return frame
