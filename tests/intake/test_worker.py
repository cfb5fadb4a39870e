"""A large file is read and checked in a child process: the same results as here."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workbench.errors import InvalidFileError, MissingColumnsError, WorkbenchError
from workbench.intake import _worker
from workbench.intake._table import stream_table


def _messy_file(path: Path, n: int = 3_000) -> Path:
    lines = ["shipment_id,seller_id,lat,lon,shipped_at,items,value_cny,coord_system,address"]
    for i in range(n):
        kind = i % 11
        lat, lon, day = f"{25.4 + i * 1e-5:.6f}", f"{119.0 + i * 1e-5:.6f}", "2026-03-05"
        wid, system = f"W{i}", "wgs84"
        if kind == 1:
            lat, lon = "0", "0"  # null island
        elif kind == 2:
            wid = f"W{i - 2}"  # a repeat, sometimes of a row in an earlier chunk
        elif kind == 3:
            day = "2026-02-30"
        elif kind == 4:
            system = "gcj02"
        elif kind == 5:
            day = "2026/03/05 10:00"
        elif kind == 6:
            lat, lon = lon, lat  # swapped
        lines.append(f"{wid},S{i % 17},{lat},{lon},{day},{i % 4},{i * 1.5},{system},莆田 {i}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _workers() -> list[int]:
    """This process's intake children (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                parent = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                command = fh.read()
        except OSError:
            continue
        if parent == os.getpid() and b"workbench.intake._worker" in command:
            found.append(int(entry))
    return found


def _read(path: Path, *, worker: bool, monkeypatch: pytest.MonkeyPatch, **kw):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0 if worker else 1 << 62)
    stream = stream_table(path, kw.pop("table", "shipments"), chunk_rows=700, **kw)
    results = list(stream)
    return stream, results


def test_a_file_read_in_a_child_gives_the_same_rows_quarantine_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _messy_file(tmp_path / "shipments.csv")
    here, mine = _read(path, worker=False, monkeypatch=monkeypatch)
    there, theirs = _read(path, worker=True, monkeypatch=monkeypatch)
    assert len(mine) == len(theirs) == 5
    for a, b in zip(mine, theirs, strict=True):
        pd.testing.assert_frame_equal(a.frame, b.frame)
        pd.testing.assert_frame_equal(a.quarantine, b.quarantine)
        assert a.report == b.report
    assert here.report == there.report
    assert here.report["quarantine_reasons"]  # the file has every kind of trouble
    assert here.report["repairs"]
    assert here.info == there.info and here.sha256 == there.sha256
    assert not _workers()


def test_errors_in_the_child_are_raised_here_as_they_were_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0)
    rows = "".join(f"S{i},shop {i}\n" for i in range(5000))
    bad = tmp_path / "sellers.csv"
    bad.write_bytes(("seller_id,name\n" + rows).encode() + b"S9,Caf\xe9\n")
    with pytest.raises(InvalidFileError, match=r"line 5002 is not valid UTF-8"):
        list(stream_table(bad, "sellers", chunk_rows=1000))
    headless = tmp_path / "shipments.csv"
    headless.write_text("a,b\n1,2\n")
    with pytest.raises(MissingColumnsError, match="shipment_id") as caught:
        list(stream_table(headless, "shipments"))
    assert "shipment_id" in caught.value.missing
    assert not _workers()


def test_stopping_early_stops_the_child(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0)
    results = iter(stream_table(_messy_file(tmp_path / "s.csv"), "shipments", chunk_rows=500))
    first = next(results)
    assert len(first.frame) + len(first.quarantine) == 500
    assert _workers()  # the child is checking the next chunk
    results.close()  # type: ignore[attr-defined]
    assert not _workers()


def test_a_caller_s_own_geocoder_keeps_the_file_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0)
    path = _messy_file(tmp_path / "s.csv", 50)
    assert _worker.use_worker(stream_table(path, "shipments"))
    own = stream_table(path, "shipments", geocode=lambda a: pd.DataFrame())
    assert not _worker.use_worker(own)
    with pytest.raises(ValueError, match="own geocoder"):
        own.portable()


def test_a_child_that_dies_is_an_error_not_a_short_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0)
    results = iter(stream_table(_messy_file(tmp_path / "s.csv"), "shipments", chunk_rows=500))
    next(results)
    for child in _workers():
        os.kill(child, 9)
    with pytest.raises(WorkbenchError, match=r"stopped .* before it finished; nothing was stored"):
        list(results)


def test_a_script_without_a_main_guard_reads_a_large_file(tmp_path: Path) -> None:
    """The child is a fresh interpreter running the worker module: it never runs the
    caller's script again (as multiprocessing's spawn would)."""
    data = _messy_file(tmp_path / "shipments.csv", 2_000)
    script = tmp_path / "plain.py"
    script.write_text(
        "from workbench.intake import _worker\n"
        "from workbench.intake._table import stream_table\n"
        "_worker.WORKER_BYTES = 0\n"
        "print('script ran')\n"
        f"s = stream_table({str(data)!r}, 'shipments', chunk_rows=500)\n"
        "print(sum(len(r.frame) + len(r.quarantine) for r in s))\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["script", "ran", "2000"]


@pytest.mark.parametrize(("setting", "expected"), [(None, b"0"), ("1", b"1")])
def test_the_child_uses_small_pages_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str | None, expected: bytes
) -> None:
    """The child runs with NumPy's huge-page advice off, as the command line does, unless
    the caller's environment sets it."""
    if setting is None:
        monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    else:
        monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", setting)
    monkeypatch.setattr(_worker, "WORKER_BYTES", 0)
    stream = iter(stream_table(_messy_file(tmp_path / "s.csv"), "shipments", chunk_rows=700))
    next(stream)
    (child,) = _workers()
    with open(f"/proc/{child}/environ", "rb") as fh:
        environ = dict(v.split(b"=", 1) for v in fh.read().split(b"\0") if b"=" in v)
    stream.close()  # type: ignore[attr-defined]
    assert environ[b"NUMPY_MADVISE_HUGEPAGE"] == expected


def test_large_arrays_cross_the_socket_out_of_band_and_intact() -> None:
    import socket
    import threading

    import numpy as np

    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    send, receive = _worker._Channel(there), _worker._Channel(here)
    frame = pd.DataFrame(
        {
            "id": pd.array([f"W{i}" for i in range(50_000)], dtype="string[pyarrow]"),
            "lat": np.linspace(20.0, 30.0, 50_000),
            "items": pd.array(np.arange(50_000) % 7, dtype="Int64"),
        }
    )
    sent = threading.Thread(target=send.send, args=(("chunk", frame),))
    sent.start()  # a message larger than the socket's buffer: sent while received
    kind, got = receive.recv()
    sent.join()
    assert kind == "chunk"
    pd.testing.assert_frame_equal(got, frame)
    assert got["lat"].to_numpy().ctypes.data % 64 == 0  # buffers land aligned
    send.send(("done", None))
    assert receive.recv() == ("done", None)
    send.close()
    with pytest.raises(EOFError):
        receive.recv()
    receive.close()


def test_the_child_checks_a_chunk_while_the_last_one_is_sent(tmp_path: Path) -> None:
    import threading
    import time

    class Slow:
        def __init__(self) -> None:
            self.sent: list[object] = []
            self.done: list[float] = []

        def send(self, message: object) -> None:
            time.sleep(0.4)  # the parent is busy storing
            self.sent.append(message)
            self.done.append(time.perf_counter())

        def close(self) -> None:
            pass

    class Stream:
        report, info, sha256 = {"rows": 3}, "info", "digest"

        def __init__(self) -> None:
            self.made: list[float] = []

        def results(self):  # type: ignore[no-untyped-def]
            for i in range(3):
                time.sleep(0.2)  # checking a chunk
                self.made.append(time.perf_counter())
                yield i

    stream, channel = Stream(), Slow()
    _worker._work(stream, channel)  # type: ignore[arg-type]
    done = ("done", ({"rows": 3}, "info", "digest"))
    assert channel.sent == [("chunk", 0), ("chunk", 1), ("chunk", 2), done]
    assert stream.made[1] < channel.done[0]  # chunk 1 checked while chunk 0 was sent
    assert not [t for t in threading.enumerate() if t.name.startswith("workbench-send")]
