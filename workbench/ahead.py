"""Work one step ahead on a second thread.

An ingest's reader parses the next chunk of a file while this one is checked, the case
writes the next chunk while the last one is stored, and writing a part sorts the next
bucket while the last is encoded. Both sides spend most of their time
in Arrow, NumPy and zlib/zstd code that releases the GIL, so on two cores the two overlap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["ahead"]

T = TypeVar("T")

_DONE = object()


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items``, produced on a background thread at most ``depth`` items
    ahead of the one the consumer works on (so memory holds ``depth + 1`` items at most:
    the next is made only once the consumer has taken the last).

    An exception raised while producing is raised here, at the item it replaced. When the
    consumer stops early (an error of its own, or ``close``), the producer is told to stop
    and joined, so no thread outlives the loop."""
    slots: queue.Queue[object] = queue.Queue()
    room = threading.Semaphore(depth)  # items made and not yet taken
    stop = threading.Event()

    def produce() -> None:
        source: Iterator[T] | None = None
        try:
            source = iter(items)
            while True:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                try:
                    item = next(source)
                except StopIteration:
                    slots.put(_DONE)
                    return
                slots.put(item)
        except BaseException as error:  # handed to the consumer, raised there
            slots.put(_Failed(error))
        finally:  # a generator's own clean-up (a worker process stopped) runs now
            close = getattr(source, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=produce, name="workbench-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = slots.get()
            if item is _DONE:
                return
            if isinstance(item, _Failed):
                raise item.error
            room.release()  # the producer may start the next one now
            yield item  # type: ignore[misc]
            del item
    finally:
        stop.set()
        thread.join()
