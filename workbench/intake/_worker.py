"""Intake of a large file in a second process (private to intake).

Reading and checking an export (parsing, dates, coordinates, repairs, duplicate keys) is
most of an ingest's work, and much of it holds Python's GIL: on a thread beside the case's
writer the two take turns more than they overlap. So a file of ``WORKER_BYTES`` or more is
read and checked by a child process, which sends each chunk's result back through a socket;
the case's writer works on one chunk while the child checks the next, each on its own core.

The child checks at most two chunks ahead of the parent (one being sent, one waiting; a
socket holds a few hundred kilobytes, so a send waits for the receiver), so memory stays
bounded by a few chunks in each process, whatever the file's size. A
file read in the child gives the same rows, quarantine, report and errors as one read
here (tested). When the consumer stops early the child is stopped; when the parent dies,
the child's next send fails and it exits.

The child is a new interpreter running this module (``python -m workbench.intake._worker``),
not a ``multiprocessing`` child: that would run the caller's own script again in the child
unless it had an ``if __name__ == "__main__"`` guard. It gets the stream pickled on its
standard input and sends its results on a socket of its own (its standard output and error
stay the caller's).

Files are read here instead when they are small (starting a process costs about a second
of imports) or when the caller gave its own geocoder (a function need not survive
pickling).
"""

from __future__ import annotations

import os
import pickle
import queue
import socket
import struct
import subprocess
import sys
import threading
import traceback
from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.arrays import release_unused
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.intake._table import IntakeResult, IntakeStream

__all__ = ["WORKER_BYTES", "results_from_worker", "use_worker"]

WORKER_BYTES = 96 << 20  # about 750,000 waybills of a typical export
# NumPy's advice to back large arrays with 2 MB pages, off in the child as on the command
# line (``workbench.cli``): faulting them in cost more system time than it saved
HUGE_PAGES = "NUMPY_MADVISE_HUGEPAGE"


def use_worker(stream: IntakeStream) -> bool:
    """Whether ``stream``'s file is read in a child process."""
    return (
        os.name == "posix"  # the results' socket is handed over by descriptor
        and bool(sys.executable)
        and stream.path.stat().st_size >= WORKER_BYTES
        and stream.portable_geocode
    )


def results_from_worker(stream: IntakeStream) -> Generator[IntakeResult, None, None]:
    """``stream``'s results, read and checked by a child process; at the end ``stream``
    takes the child's report, file information and SHA-256 as if it had read the file."""
    here, there = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    package_root = str(Path(__file__).resolve().parents[2])  # where ``workbench`` is found
    env = {
        HUGE_PAGES: "0",
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [package_root, *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    try:
        child = subprocess.Popen(  # this interpreter, this module
            [sys.executable, "-m", "workbench.intake._worker", str(there.fileno())],
            stdin=subprocess.PIPE,
            pass_fds=(there.fileno(),),
            env=env,
        )
    finally:
        there.close()  # the child holds the sending end: a dead child is an EOF here
    receive = _Channel(here)
    try:
        assert child.stdin is not None
        with child.stdin:
            pickle.dump(stream.portable(), child.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        while True:
            try:
                kind, value = receive.recv()
            except EOFError:
                code = child.wait(5)
                raise WorkbenchError(
                    f"{stream.path}: the process reading the file stopped "
                    f"(exit code {code}) before it finished; nothing was stored"
                ) from None
            if kind == "chunk":
                yield value
            elif kind == "done":
                stream.adopt(*value)
                return
            else:  # "error": raised here as the child raised it
                raise value
    finally:
        receive.close()
        if child.poll() is None:
            child.terminate()
        child.wait()


class _Channel:
    """Pickled messages over a socket: a head (the pickle's length and its buffers'), the
    pickle, then each large buffer as it is in memory.

    Not a ``multiprocessing`` Connection on a pipe: there the receiving thread takes the
    GIL back after each read of at most a pipe's 64 KiB, and waits for it while the
    case's writer works in Python, so a chunk of 30 MB took half a second and the child
    sat blocked in its send. Here one ``recv_into`` with ``MSG_WAITALL`` receives a whole
    message without the GIL (20 messages of 30 MB beside a busy thread: 1.2 s, against
    9.9 s through a Connection). Arrays travel out of band (pickle protocol 5): never
    copied into the pickle, received straight into 64-byte aligned memory they then use."""

    _HEAD = struct.Struct("!QQ")  # pickle bytes, number of out-of-band buffers
    _SIZE = struct.Struct("!Q")  # each buffer's bytes, after the head

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, message: object) -> None:
        buffers: list[pickle.PickleBuffer] = []
        data = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        raw = [b.raw() for b in buffers]
        sizes = b"".join(self._SIZE.pack(r.nbytes) for r in raw)
        self.sock.sendall(self._HEAD.pack(len(data), len(raw)) + sizes)
        self.sock.sendall(data)
        for view in raw:  # sendall lets go of the GIL while the kernel copies
            self.sock.sendall(view)

    def recv(self) -> Any:
        size, count = self._HEAD.unpack(self._exactly(self._HEAD.size))
        sizes = struct.unpack(f"!{count}Q", self._exactly(8 * count)) if count else ()
        data = self._exactly(size)
        buffers = [self._exactly(n, aligned=True) for n in sizes]
        return pickle.loads(data, buffers=buffers)  # noqa: S301 - our own child's bytes

    def _exactly(self, size: int, *, aligned: bool = False) -> Any:
        if aligned:  # an array's memory, as NumPy and Arrow like it: 64-byte aligned
            block = np.empty(size + 64, dtype=np.uint8)
            skip = -block.ctypes.data % 64
            view = block[skip : skip + size].data
            data: Any = view
        else:
            data = bytearray(size)
            view = memoryview(data)
        got = 0
        while got < size:  # more than one call only when a signal interrupts the wait
            n = self.sock.recv_into(view[got:], size - got, socket.MSG_WAITALL)
            if n == 0:
                raise EOFError("the other end closed the socket")
            got += n
        return data

    def close(self) -> None:
        self.sock.close()


def _work(stream: IntakeStream, channel: _Channel) -> None:
    """The child: read and check the file, send each result, then the final report.

    Results are sent by a second thread, one at most waiting: while the parent is busy
    storing a chunk and the send blocks, the next chunk is being checked here."""
    waiting: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=1)
    gone = threading.Event()  # the parent stopped reading

    def sender() -> None:
        while (message := waiting.get()) is not None:
            if gone.is_set():
                continue  # drain until told to stop
            try:
                channel.send(message)
            except OSError:  # BrokenPipe, ConnectionReset: the parent is gone or stopped
                gone.set()

    thread = threading.Thread(target=sender, name="workbench-send", daemon=True)
    thread.start()

    def put(message: tuple[str, Any]) -> bool:
        if not gone.is_set():
            waiting.put(message)
        return not gone.is_set()

    try:
        try:
            for result in stream.results():
                if not put(("chunk", result)):
                    return
                del result
                release_unused()  # the peak stays one chunk's, not creeping up (arrays)
            put(("done", (stream.report, stream.info, stream.sha256)))
        except BaseException as error:  # handed to the parent, raised there
            put(("error", _portable_error(error)))
    finally:
        waiting.put(None)
        thread.join()
        channel.close()


def _portable_error(error: BaseException) -> BaseException:
    """``error`` itself when it survives pickling; else a WorkbenchError with its text."""
    try:
        pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes, just made
    except Exception:  # any failure means: send its text instead
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        return WorkbenchError(text)
    return error


def _main() -> None:
    """``python -m workbench.intake._worker FD``: the stream on stdin, results to FD."""
    channel = _Channel(socket.socket(fileno=int(sys.argv[1])))
    stream = pickle.load(sys.stdin.buffer)  # noqa: S301 - written by our parent process
    _work(stream, channel)


if __name__ == "__main__":
    _main()
