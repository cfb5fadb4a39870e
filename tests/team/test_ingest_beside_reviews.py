"""An ingest and reviews side by side on a team case: reviewers are not kept waiting while
an ingest reads its files, site runs and linkings wait for it (and it for them), and what
a run saw stays what its site's waybills show."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest

from workbench.intake._table import stream_table
from workbench.team import open_team_case, parse_url, pull, push, record_review
from workbench.team._ingest import ingest_items

WAIT = 60  # seconds a thread may take before the test calls it stuck


def _new_waybills(case: Any, site_id: str, folder: Path, n: int = 40) -> Path:
    """A shipments export of ``n`` new waybills at ``site_id``'s points (new numbers)."""
    ships = case.site_shipments(site_id).head(n)
    frame = pd.DataFrame(
        {
            "shipment_id": [f"NEW{i:05d}" for i in range(len(ships))],
            "seller_id": ships["seller_id"].astype(str),
            "lat": ships["lat"],
            "lon": ships["lon"],
            "shipped_at": pd.to_datetime(ships["shipped_at"]).dt.strftime("%Y-%m-%d"),
            "items": 1,
            "value_cny": 10.0,
        }
    )
    path = folder / "more-shipments.csv"
    frame.to_csv(path, index=False)
    return path


class PausedIngest:
    """An ingest of ``path`` in a thread that stops after its first chunk until released."""

    def __init__(self, url: str, path: Path) -> None:
        self.url, self.path = url, path
        self.reading, self.go = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _chunks(self, stream: Any) -> Iterator[Any]:
        for i, chunk in enumerate(stream):
            yield chunk
            if i == 0:
                self.reading.set()
                assert self.go.wait(WAIT), "the test never released the ingest"

    def _run(self) -> None:
        try:
            with open_team_case(self.url) as team:
                stream = stream_table(self.path, "shipments", chunk_rows=10)
                items = [("shipments", self._chunks(stream), lambda: stream.report)]
                ingest_items(team._con, team.case_id, items)
        except BaseException as error:  # reported by finish(), in the test's thread
            self.error = error
            self.reading.set()

    def __enter__(self) -> PausedIngest:
        self.thread.start()
        assert self.reading.wait(WAIT), "the ingest never started reading"
        if self.error is not None:
            raise self.error
        return self

    def finish(self) -> None:
        self.go.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the ingest did not end"
        if self.error is not None:
            raise self.error

    def __exit__(self, *exc: object) -> None:
        self.go.set()
        self.thread.join(WAIT)


def _waiting_on_ingest_lock(url: str) -> bool:
    """Whether a session waits for a case's ingest lock (advisory, first key 20)."""
    with psycopg.connect(url, autocommit=True) as con:
        return bool(
            con.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 20 "
                "AND NOT granted"
            ).fetchone()[0]
        )


@pytest.fixture
def putian(store, case_file) -> str:
    push(case_file, parse_url(store.url("amira", "putian")))
    return "putian"


def test_reviews_are_recorded_while_an_ingest_reads(store, putian, tmp_path) -> None:
    with open_team_case(store.url("amira", putian)) as team:
        before = team.site_shipments("S001")
        run = team.latest_run()
        n_before, case_id = team.n_waybills(), team.case_id
        path = _new_waybills(team, "S001", tmp_path)
    with PausedIngest(store.url("amira", putian), path) as ingest:
        # two reviewers decide while the ingest is in the middle of its file
        for who, status in (("li", "rejected"), ("chen", "confirmed")):
            with psycopg.connect(store.url(who)) as con:
                con.execute("SET lock_timeout = '10s'")  # waiting for the ingest would fail
                record_review(con, case_id, "S001", status=status, note=f"{who} meanwhile")
        with open_team_case(store.url("wang", putian)) as viewer:
            assert viewer.n_waybills() == n_before  # readers see the case as it was
            assert viewer.reviews()["note"].tolist()[-2:] == ["li meanwhile", "chen meanwhile"]
        ingest.finish()

    with open_team_case(store.url("wang", putian)) as team:
        log = team.audit()
        assert log["action"].tolist()[-3:] == ["review", "review", "ingest"]
        assert log["seq"].tolist() == list(range(1, len(log) + 1))  # one chain
        entry = json.loads(log["parameters"].iloc[-1])
        first_review = int(log["seq"].iloc[-3])
        assert entry["rows_seq"] == first_review  # the number the ingest took at its start
        assert entry["tables"]["shipments"]["new"] == 40
        assert team.n_waybills() == n_before + 40
        assert team.verify_audit().ok, str(team.verify_audit())
        # the run was made before the ingest: its site's waybills are still what it saw
        pd.testing.assert_frame_equal(team.site_shipments("S001", run), before)
    # the moved chain verifies and the case file reads the same
    back = tmp_path / "back.gpkg"
    pull(parse_url(store.url("wang", putian)), back)
    with workbench_case(back) as pulled:
        assert pulled.verify_audit().ok
        assert len(pulled.site_shipments("S001", run)) == len(before)


def workbench_case(path: Path) -> Any:
    from workbench.opening import open_case

    return open_case(path, create=False)


def test_a_site_run_waits_for_an_ingest_and_sees_its_waybills(
    store, putian, tmp_path, capfd
) -> None:
    with open_team_case(store.url("amira", putian)) as team:
        path = _new_waybills(team, "S001", tmp_path)
        n_sites = sum(len(team.site_shipments(s)) for s in team.sites()["site_id"])
    found: dict[str, Any] = {}

    def run_sites() -> None:
        try:
            with open_team_case(store.url("amira", putian)) as team:
                found["run"] = team.find_sites(300)
        except BaseException as error:
            found["error"] = error

    with PausedIngest(store.url("amira", putian), path) as ingest:
        runner = threading.Thread(target=run_sites, daemon=True)
        runner.start()
        for _ in range(200):  # the run waits for the ingest's lock, not for the chain
            if _waiting_on_ingest_lock(store.url()) or not runner.is_alive():
                break
            threading.Event().wait(0.05)
        assert runner.is_alive() and _waiting_on_ingest_lock(store.url())
        ingest.finish()
    runner.join(WAIT)
    assert "error" not in found, found.get("error")
    said = capfd.readouterr().err  # the run said what it waits for
    assert re.search(r"this step of this case waits for an ingest by amira \(since \d\d:", said)
    with open_team_case(store.url("wang", putian)) as team:
        log = team.audit()
        assert log["action"].tolist()[-2:] == ["ingest", "find sites"]
        assert "rows_seq" not in json.loads(log["parameters"].iloc[-2])  # nothing came first
        assert team.verify_audit().ok
        # the run read the case after the ingest: its sites hold the new waybills too
        run = found["run"]
        sites = team.sites(run)["site_id"]
        assert sum(len(team.site_shipments(s, run)) for s in sites) == n_sites + 40


def test_an_ingest_waits_for_a_site_run(store, putian, tmp_path, capfd) -> None:
    with open_team_case(store.url("amira", putian)) as team:
        path = _new_waybills(team, "S001", tmp_path)
        case_id = team.case_id
    # a run under way holds the ingest lock shared (as find_sites does while it reads)
    from workbench.team._audit import ingests_held_off

    with psycopg.connect(store.url("amira")) as holder, ingests_held_off(holder, case_id):
        ingest = PausedIngest(store.url("amira", putian), path)
        ingest.go.set()  # no pause: it waits for the lock before it reads
        ingest.thread.start()
        for _ in range(200):
            if _waiting_on_ingest_lock(store.url()):
                break
            threading.Event().wait(0.05)
        assert _waiting_on_ingest_lock(store.url()) and not ingest.reading.is_set()
    ingest.thread.join(WAIT)
    assert ingest.error is None, ingest.error
    said = capfd.readouterr().err
    assert "an ingest of this case waits for a linking or site run by amira (since" in said
    with open_team_case(store.url("wang", putian)) as team:
        assert team.audit()["action"].iloc[-1] == "ingest"
        assert team.verify_audit().ok
