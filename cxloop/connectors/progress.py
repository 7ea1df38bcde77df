"""Progress events of a pull (a page written, a stream done) for whoever displays them.

The library emits; the CLI listens (a rich progress display). A listener set here is seen by
every thread of the process, so the Prefect tasks the CLI runs in-process report to it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class PageEvent:
    """A page of `stream` was written (or a stream finished, `done`)."""

    source: str
    stream: str
    pages: int  # pages written so far in this run
    records: int  # records in them
    seconds: float  # since the stream started
    done: bool = False


Listener = Callable[[PageEvent], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


@contextlib.contextmanager
def listen(listener: Listener) -> Iterator[None]:
    """Send every event to `listener` while the block runs."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


def emit(event: PageEvent) -> None:
    for listener in list(_listeners):
        listener(event)
