"""The case survives a SIGKILL at any point of a step, and several processes share it.

The kill and concurrency tests run ``tests/case/case_worker.py`` in a child process. It prints a
marker at each milestone (``staging``, ``writing parts``, ``sorting parts``, ``sql COMMIT``,
``done``, ...) with the time, so a test knows where a kill landed: before the COMMIT
statement started the case must be exactly as before the step; after COMMIT returned,
exactly as after a complete step; during COMMIT, one of the two.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import os
import re
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from workbench.case._case import open_case
from workbench.demo._generate import demo_frames, generate_demo
from workbench.errors import CaseLockedError, InputError
from workbench.intake._table import load_table
from workbench.networks._link import link_sellers
from workbench.sites._finder import SiteFinder

WORKER = Path(__file__).with_name("case_worker.py")
TABLES = ("sellers", "identifiers", "shipments", "evidence", "locations")
# ~0.4 s staging, ~0.4 s INSERT and ~0.2 s COMMIT on a 2-core machine: room to aim kills
BIG_INGEST_ROWS = 400_000


# -- a worker process ----------------------------------------------------------------------
class Worker:
    """A running ``case_worker.py``: its markers as they arrive, and SIGKILL."""

    def __init__(self, tmp: Path, step: str, case: Path, *options: str) -> None:
        scratch = tmp / "scratch"  # an ingest's scratch file goes here (TMPDIR), not /tmp
        scratch.mkdir(exist_ok=True)
        self.stderr = tmp / f"worker-{step}-{time.monotonic_ns()}.stderr"
        with open(self.stderr, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(WORKER), step, str(case), *options],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "TMPDIR": str(scratch)},
            )
        self.markers: list[tuple[float, str]] = []
        self._buffer = b""

    def _read_marker(self, deadline: float) -> bool:
        """Read one marker line; False at end of output."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.proc.kill()
                pytest.fail(f"worker silent too long; markers {self.names}\n{self.errors()}")
            chunk = os.read(fd, 65536)
            if not chunk:
                return False
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        at, marker = line.decode().split(" ", 1)
        self.markers.append((float(at), marker))
        return True

    def wait_for(self, prefix: str, timeout_s: float = 60.0) -> float:
        """Block until the worker prints a marker starting with ``prefix``; its time."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self._read_marker(deadline):
                pytest.fail(f"worker ended before {prefix!r}: {self.names}\n{self.errors()}")
            if self.markers[-1][1].startswith(prefix):
                return self.markers[-1][0]

    def kill(self) -> None:
        """SIGKILL, then collect every marker it printed before it died."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.finish(expect_ok=False)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, *, expect_ok: bool = True, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._read_marker(deadline):
            pass
        code = self.proc.wait(timeout=timeout_s)
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        if expect_ok:
            assert code == 0, f"worker failed ({code}): {self.names}\n{self.errors()}"

    def time_of(self, prefix: str) -> float:
        return next(at for at, marker in self.markers if marker.startswith(prefix))

    @property
    def names(self) -> list[str]:
        return [marker for _, marker in self.markers]

    def errors(self) -> str:
        return self.stderr.read_text(errors="replace")[-3000:]


def landed(names: list[str]) -> str:
    """Where a kill landed, from the markers printed before it."""
    if "sql COMMIT" not in names:
        return "before COMMIT"
    rest = names[names.index("sql COMMIT") + 1 :]
    if rest == ["paused"]:  # the trace hook runs before SQLite executes the statement
        return "before COMMIT"
    return "after COMMIT" if rest else "during COMMIT"


# -- the state of a case -------------------------------------------------------------------
@dataclass(frozen=True)
class CaseState:
    """Fingerprint of every table (rows, largest rowid, sum of ingest_seq) and the audit log."""

    tables: dict[str, tuple[int, int, int]]
    audit: list[tuple[int, str, str]]  # seq, action, hash


def inspect_case(path: Path) -> CaseState:
    """Open the case as a user would, check its integrity and fingerprint it."""
    with open_case(path, actor="checker", timeout_s=5) as case:
        check = case.verify_audit()
        assert check.ok, str(check)
        assert len(case.audit()) == check.n_entries  # and it reads
        n_waybills = case.n_waybills()  # in the GeoParquet parts, listed in waybill_parts
    con = sqlite3.connect(path)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        tables = {}
        for name in sorted(names):
            columns = {row[1] for row in con.execute(f'PRAGMA table_info("{name}")')}
            seq = "total(ingest_seq)" if "ingest_seq" in columns else "0"
            rows, rowid, seqs = con.execute(
                f'SELECT count(*), coalesce(max(rowid), 0), {seq} FROM "{name}"'
            ).fetchone()
            tables[name] = (rows, rowid, int(seqs))
        audit = con.execute("SELECT seq, action, hash FROM audit ORDER BY seq").fetchall()
    finally:
        con.close()
    tables["shipments"] = (n_waybills, 0, 0)
    return CaseState(tables, audit)


def content_digest(path: Path) -> str:
    """SHA-256 of every row of every table (for small cases: it reads everything)."""
    digest = hashlib.sha256()
    con = sqlite3.connect(path)
    try:
        names = con.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        for (name,) in names.fetchall():
            rows = con.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
            digest.update(repr((name, rows.fetchall())).encode())
    finally:
        con.close()
    return digest.hexdigest()


def outcome(path: Path, before: CaseState, after: CaseState, action: str) -> str:
    """'before' or 'after' the step, exactly; anything else fails the test."""
    # a killed step may leave the WAL and its index, and the audit anchor beside the case
    # (or its temporary file), nothing else (the scratch is in TMPDIR)
    # and the waybills folder, where parts of a step killed before its commit may lie until
    # the next write sweeps them (no committed transaction lists them)
    leftovers = {p.name for p in path.parent.iterdir()} - {path.name}
    anchor = f"{path.name}.audit-head.json"
    allowed = {f"{path.name}-wal", f"{path.name}-shm", anchor, path.with_suffix(".waybills").name}
    scratch = {n for n in leftovers if n.startswith(anchor) and n.endswith(".tmp")}
    assert leftovers - scratch <= allowed, leftovers
    state = inspect_case(path)
    if state == before:
        return "before"
    new_entry = state.audit[len(before.audit) :]
    if state.tables == after.tables and state.audit[:-1] == before.audit:
        assert [action] == [entry[1] for entry in new_entry]
        return "after"
    changed = {
        t: (before.tables.get(t), v) for t, v in state.tables.items() if v != before.tables.get(t)
    }
    pytest.fail(f"case is neither as before nor as after {action}: {changed}, audit {new_entry}")


# -- fixtures --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    case: Path  # a case after a first (small) ingest, a linking and a clustering run
    digest: str  # of its content
    big: Path  # BIG_INGEST_ROWS waybills as Parquet, for a long ingest
    site_id: str  # a site of its clustering run, to review
    evidence: Path  # the demo's evidence file, for a small ingest


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Prepared:
    root = tmp_path_factory.mktemp("reliability")
    demo = generate_demo(root / "demo", n_shipments=2_000, n_background_sellers=50, defects=True)
    path = root / "template" / "case.gpkg"
    with open_case(path, actor="analyst") as case:
        case.ingest(load_table(getattr(demo, t), t) for t in TABLES)
        networks = link_sellers(case.table("sellers"), case.table("identifiers"))
        case.save_networks(networks)
        finder = SiteFinder(radius_m=300).fit(
            case.table("shipments"), networks=networks.membership, evidence=case.table("evidence")
        )
        case.save_sites(finder)
        site_id = str(finder.sites_["site_id"].iloc[0])  # the review tests need a site
    # closing the last connection checkpoints the WAL: the template is the file and its
    # waybills folder
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "case.gpkg",
        "case.gpkg.audit-head.json",
        "case.waybills",
    ]
    big = demo_frames(seed=11, n_shipments=BIG_INGEST_ROWS)["shipments"]
    assert isinstance(big, pd.DataFrame)
    big["shipped_at"] = pd.to_datetime(big["shipped_at"])  # typed as intake types them
    big["items"] = big["items"].astype("Int64")
    big.to_parquet(root / "big.parquet")
    return Prepared(path, content_digest(path), root / "big.parquet", site_id, demo.evidence)


def copy_case(prepared: Prepared, folder: Path) -> Path:
    """A fresh copy of the prepared case, alone in its folder."""
    folder.mkdir(parents=True)
    shutil.copytree(prepared.case.with_suffix(".waybills"), folder / "case.waybills")
    return Path(shutil.copy(prepared.case, folder / "case.gpkg"))


STEPS = {  # worker options of each step; each changes the case when it completes
    "ingest": ("ingest", "--data"),
    "link sellers": ("networks", "--max-accounts", "5"),
    "find sites": ("sites", "--radius-m", "500"),
}


def worker_args(prepared: Prepared, action: str) -> tuple[str, ...]:
    step, *options = STEPS[action]
    return (step, *options, str(prepared.big)) if step == "ingest" else (step, *options)


def calibrate(prepared: Prepared, tmp: Path, action: str) -> tuple[Worker, CaseState]:
    """Run the step to its end once: its markers (with times) and the state after it."""
    path = copy_case(prepared, tmp / "calibration")
    step, *options = worker_args(prepared, action)
    worker = Worker(tmp, step, path, *options)
    worker.finish()
    return worker, inspect_case(path)


def kill_while_paused(
    prepared: Prepared, tmp: Path, action: str, pause_points: list[str], after: CaseState
) -> collections.Counter[tuple[str, str]]:
    """Kill one worker at each pause point (all run at once: timing plays no part)."""
    before = inspect_case(prepared.case)
    step, *options = worker_args(prepared, action)
    started = []
    for i, point in enumerate(pause_points):
        path = copy_case(prepared, tmp / f"paused-{i}")
        started.append((point, path, Worker(tmp, step, path, *options, "--pause-at", point)))
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    for point, path, worker in started:
        worker.wait_for("paused")
        worker.kill()
        where, result = landed(worker.names), outcome(path, before, after, action)
        expected = {"before COMMIT": "before", "after COMMIT": "after"}[where]
        assert result == expected, f"killed at {point} ({where}) but the case is {result}"
        if result == "before":
            assert content_digest(path) == prepared.digest, f"killed at {point}"
        seen[where, result] += 1
        shutil.rmtree(path.parent)
    shutil.rmtree(tmp / "scratch")  # killed ingests leave their scratch files behind
    return seen


@pytest.fixture(scope="module")
def ingest_calibration(
    prepared: Prepared, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Worker, CaseState]:
    """The big ingest run to its end once: its markers and the case after it."""
    return calibrate(prepared, tmp_path_factory.mktemp("ingest"), "ingest")


# -- 1. SIGKILL at any point -------------------------------------------------------------------
# (marker, share of the phase that starts at it): where the timed kills aim
TIMED_KILLS = [
    ("staging", 0.5),  # writing the scratch file: the case is not touched yet
    ("writing parts", 0.5),  # the waybills spill to buckets in the incoming folder
    ("sorting parts", 0.15),  # each bucket sorted and written to the new part
    ("sorting parts", 0.5),
    ("sorting parts", 0.85),
    ("sql COMMIT", 0.0),  # final WAL frames, then the automatic checkpoint
    ("sql COMMIT", 0.6),
]


@pytest.mark.slow
def test_ingest_killed_at_timed_points_leaves_the_case_before_or_after(
    prepared: Prepared, ingest_calibration: tuple[Worker, CaseState], tmp_path: Path
) -> None:
    calibration, after = ingest_calibration
    before = inspect_case(prepared.case)
    step, *options = worker_args(prepared, "ingest")
    seen: collections.Counter[tuple[str, str]] = collections.Counter()
    scratch_left = 0
    for i, (marker, share) in enumerate(TIMED_KILLS):
        # the phase lasts from its marker to the next one, as measured in the calibration
        k = next(k for k, (_, name) in enumerate(calibration.markers) if name.startswith(marker))
        phase_s = calibration.markers[k + 1][0] - calibration.markers[k][0]
        path = copy_case(prepared, tmp_path / f"timed-{i}")
        worker = Worker(tmp_path, step, path, *options)
        at = worker.wait_for(marker)
        time.sleep(max(0.0, at + share * phase_s - time.monotonic()))
        worker.kill()
        where, result = landed(worker.names), outcome(path, before, after, "ingest")
        if where != "during COMMIT":  # during COMMIT either is right
            assert result == {"before COMMIT": "before", "after COMMIT": "after"}[where]
        if result == "before":
            assert content_digest(path) == prepared.digest
        seen[f"{worker.names[-1]} ({where})", result] += 1
        # a killed ingest leaves its scratch file behind, in TMPDIR (outside the case folder)
        scratch_left += len(list((tmp_path / "scratch").glob("workbench-*/stage.sqlite")))
        shutil.rmtree(tmp_path / "scratch")
        shutil.rmtree(path.parent)
    print("timed kills:", dict(seen), f"scratch files left in TMPDIR: {scratch_left}")
    assert scratch_left >= 1  # the kill while staging left one there, not in the case folder
    # the point: a kill in the middle of writing the waybills changes nothing
    assert seen["sorting parts (before COMMIT)", "before"] >= 1, seen


@pytest.mark.slow
def test_ingest_killed_inside_its_transaction_changes_nothing(
    prepared: Prepared, ingest_calibration: tuple[Worker, CaseState], tmp_path: Path
) -> None:
    _, after = ingest_calibration
    # all waybills written but no quarantine yet; everything written but not committed;
    # the step returned (the control: a kill there must find the case as after)
    points = ["sql INSERT INTO quarantine", "sql COMMIT", "done"]
    seen = kill_while_paused(prepared, tmp_path, "ingest", points, after)
    print("paused kills:", dict(seen))
    assert seen == {("before COMMIT", "before"): 2, ("after COMMIT", "after"): 1}


@pytest.mark.slow
@pytest.mark.parametrize("action", ["link sellers", "find sites"])
def test_step_killed_before_each_write_changes_nothing(
    prepared: Prepared, tmp_path: Path, action: str
) -> None:
    calibration, after = calibrate(prepared, tmp_path, action)
    assert after != inspect_case(prepared.case)  # the step does change the case
    # kill just before every writing statement of its transaction, and once it returned
    names = calibration.names
    inside = names[names.index("sql BEGIN IMMEDIATE") + 1 : names.index("sql COMMIT") + 1]
    writes = [n for n in inside if n.split()[1] in {"INSERT", "DELETE", "UPDATE", "COMMIT"}]
    points = [*dict.fromkeys(writes), "done"]
    seen = kill_while_paused(prepared, tmp_path, action, points, after)
    print(f"{action} kills at {points}:", dict(seen))
    # link sellers: 2 deletes, 2 inserts, gpkg_contents, audit, COMMIT (7 before) + done
    # find sites: audit, runs, sites, site_areas, gpkg_contents, COMMIT (6 before) + done
    assert seen == {("before COMMIT", "before"): len(points) - 1, ("after COMMIT", "after"): 1}


# -- 2. several processes ----------------------------------------------------------------------
def big_ingest_paused(prepared: Prepared, tmp: Path, path: Path, pause_s: float) -> Worker:
    """A worker whose big ingest stops ``pause_s`` inside its transaction, rows written."""
    step, *options = worker_args(prepared, "ingest")
    pause = ("--pause-at", "sql INSERT INTO quarantine", "--pause-s", str(pause_s))
    return Worker(tmp, step, path, *options, *pause)


@pytest.mark.slow
def test_a_second_writer_gets_a_clear_error_or_waits_its_turn(
    prepared: Prepared, ingest_calibration: tuple[Worker, CaseState], tmp_path: Path
) -> None:
    _, after = ingest_calibration
    path = copy_case(prepared, tmp_path / "case")
    evidence = load_table(prepared.evidence, "evidence")
    # the worker holds the write lock for 3 s: time for two refused attempts below
    worker = big_ingest_paused(prepared, tmp_path, path, pause_s=3.0)
    worker.wait_for("paused")
    impatient = open_case(path, actor="analyst-2", timeout_s=0.5)  # opening only reads
    site = prepared.site_id
    locked = re.escape(f"case {path} is being written by another process (waited 0.5 s); ")
    locked += "try again when it has finished"
    start = time.monotonic()
    with pytest.raises(CaseLockedError, match=locked):
        impatient.review(site, status="confirmed")
    assert 0.45 < time.monotonic() - start < 2.0  # it waited its 0.5 s, then gave up
    with pytest.raises(CaseLockedError, match=locked):
        impatient.ingest([evidence])
    with open_case(path, actor="analyst-3", timeout_s=30) as patient:
        patient.review(site, status="rejected", note="waited its turn")
        reviewed_at = time.monotonic()
    worker.finish()
    assert worker.time_of("sql COMMIT") < reviewed_at  # the review waited for the commit
    # the refused ingest detached its scratch file: the same case object writes now
    impatient.ingest([evidence])
    impatient.close()
    state = inspect_case(path)
    # worker's ingest, the patient review, the retried ingest; the refused ones left nothing
    assert [entry[1] for entry in state.audit[-3:]] == ["ingest", "review", "ingest"]
    assert state.tables["reviews"][0] == 1
    assert state.tables["shipments"] == after.tables["shipments"]


@pytest.mark.slow
def test_a_reader_sees_the_whole_ingest_or_none_of_it(
    prepared: Prepared, ingest_calibration: tuple[Worker, CaseState], tmp_path: Path
) -> None:
    _, after = ingest_calibration
    path = copy_case(prepared, tmp_path / "case")
    old_n = inspect_case(path).tables["shipments"][0]
    new_n = after.tables["shipments"][0]  # old_n + the new waybills of the big ingest
    reader = open_case(path, actor="reader")
    worker = big_ingest_paused(prepared, tmp_path, path, pause_s=1.5)
    worker.wait_for("ready")
    reads = []  # (started, ended, rows seen)
    while worker.proc.poll() is None:
        started = time.monotonic()
        reads.append((started, time.monotonic(), len(reader.table("shipments"))))
    worker.finish()
    final = len(reader.table("shipments"))
    reader.close()
    paused, committed = worker.time_of("paused"), worker.time_of("sql COMMIT")
    # every read saw all of the ingest or none of it (the process may end before a read
    # lands between its commit and its exit: the read after it counts then)
    seen = {rows for *_, rows in reads}
    assert seen <= {old_n, new_n} and old_n in seen, "a read saw a partial ingest"
    # reads while all the new waybills sat written but uncommitted saw none of them
    inside = [rows for started, ended, rows in reads if paused < started and ended < committed]
    assert inside
    assert set(inside) == {old_n}
    assert final == new_n


@pytest.mark.slow
def test_two_processes_reviewing_at_once_lose_nothing(prepared: Prepared, tmp_path: Path) -> None:
    path = copy_case(prepared, tmp_path / "case")
    n_before = len(inspect_case(path).audit)
    n = 40
    workers = [
        Worker(tmp_path, "reviews", path, "--n", str(n), "--gap-s", "0.0005", "--actor", actor)
        for actor in ("reviewer-1", "reviewer-2")
    ]
    for worker in workers:
        worker.wait_for("ready")
    for worker in workers:  # both start at once
        worker.send("go")
    for worker in workers:
        worker.finish()
    with open_case(path, actor="checker") as case:
        check = case.verify_audit()
        reviews = case.reviews()
        audit = case.audit().iloc[n_before:]
    assert check.ok, str(check)
    assert check.n_entries == n_before + 2 * n  # one audit entry per review, none lost
    # each reviewer's notes 0..n-1 all landed, in order, each with its own audit entry
    for actor in ("reviewer-1", "reviewer-2"):
        assert reviews.loc[reviews["by"] == actor, "note"].tolist() == [str(i) for i in range(n)]
    assert len(reviews) == 2 * n
    assert sorted(reviews["audit_seq"]) == audit["seq"].tolist()  # the n_before + 1.. entries
    # the two writers did overlap: their entries alternate in the log (with 0.5 ms between
    # decisions they take turns; without, one waits out the other's whole loop)
    order = audit["actor"].tolist()
    switches = sum(a != b for a, b in itertools.pairwise(order))
    assert switches >= 2
    # for the record: BEGIN IMMEDIATEs that waited for the other's transaction (the next
    # statement came >= 1 ms later, SQLite's busy handler first sleeps 1 ms); 2-14 here
    waits = sum(
        later - at >= 0.001
        for worker in workers
        for (at, marker), (later, _) in itertools.pairwise(worker.markers)
        if marker == "sql BEGIN IMMEDIATE"
    )
    print(f"reviewers: {switches} switches in the audit log, {waits} waits for the lock")


# Regression: case.table() once read big tables through ADBC in this process. The driver
# bundles its own SQLite; closing that connection dropped every POSIX lock this process
# held on the case file, so another process's close deleted the WAL under the open case and
# a committed review went missing (1 run in 7, silently). Big reads now go through ADBC in a
# child process ("child"); "sqlite3" is the control with the in-process reader.
@pytest.mark.slow
@pytest.mark.parametrize("reader", ["child", "sqlite3"])
def test_a_review_survives_another_process_after_a_table_read(
    prepared: Prepared, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    if reader == "sqlite3":
        monkeypatch.setattr("workbench.case._case.read_arrow", lambda *_: None)
    else:  # make even this small table take the big-table path
        monkeypatch.setattr("workbench.case._case._CHILD_READ_ROWS", 0)
    path = copy_case(prepared, tmp_path / "case")

    def other_process(n_reviews: int, actor: str) -> None:  # opens, reviews, closes
        worker = Worker(tmp_path, "reviews", path, "--n", str(n_reviews), "--actor", actor)
        worker.wait_for("ready")
        worker.send("go")
        worker.finish()

    with open_case(path, actor="notebook") as notebook:
        notebook.table("sellers")  # a notebook shows a table...
        other_process(0, "viewer")  # ...someone opens the case elsewhere and closes it...
        notebook.review(prepared.site_id, status="confirmed")  # ...the notebook reviews...
        other_process(1, "cli")  # ...and so does the command line
    with open_case(path, actor="checker") as case:
        reviews = case.reviews()
        check = case.verify_audit()
    assert check.ok, str(check)
    # both decisions were committed, so both are kept (with ADBC the CLI's is lost: its
    # audit entry had the same seq as the notebook's, which overwrote it on close)
    assert sorted(reviews["by"]) == ["cli", "notebook"]


# -- 3. where a case may live -----------------------------------------------------------------
@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # a refused relative name must not land in the repo either
    (tmp_path / "cases").mkdir()
    return tmp_path / "cases"


@pytest.mark.parametrize("name", ["../x", "../x.gpkg", "sub/../../x", "../cases-2/x"])
def test_a_name_cannot_climb_out_of_the_cases_folder(root: Path, name: str) -> None:
    with pytest.raises(InputError, match=r"would lie outside the cases folder"):
        open_case(name, root=root)
    assert list(root.parent.rglob("*.gpkg")) == []  # nothing was created anywhere


def test_an_absolute_path_outside_the_root_is_refused(root: Path) -> None:
    with pytest.raises(InputError, match=r"would lie outside the cases folder"):
        open_case(root.parent / "elsewhere" / "x.gpkg", root=root)
    assert not (root.parent / "elsewhere").exists()


def test_a_symlink_out_of_the_root_is_refused(root: Path) -> None:
    (root.parent / "outside").mkdir()
    (root / "link").symlink_to(root.parent / "outside")
    with pytest.raises(InputError, match=r"would lie outside the cases folder"):
        open_case("link/x", root=root)


def test_inside_the_root_a_name_gets_gpkg(root: Path) -> None:
    with open_case("putian", root=root) as case:
        assert case.path == root.resolve() / "putian.gpkg"
    with open_case(root / "sub" / "putian", root=root) as case:  # absolute, but inside
        assert case.path == root.resolve() / "sub" / "putian.gpkg"
    assert sorted(p.name for p in root.rglob("*.gpkg")) == ["putian.gpkg", "putian.gpkg"]


@pytest.mark.parametrize(("name", "suffix"), [("x.csv", ".csv"), ("x.gpkg.sqlite", ".sqlite")])
def test_a_case_file_must_end_in_gpkg(root: Path, name: str, suffix: str) -> None:
    expected = re.escape(f"case {name!r}: a case is a NAME.case folder or a .gpkg file, not ")
    expected += re.escape(repr(suffix))
    with pytest.raises(InputError, match=expected):
        open_case(name)
    with pytest.raises(InputError, match=expected):
        open_case(name, root=root)
    assert not Path(name).exists()
