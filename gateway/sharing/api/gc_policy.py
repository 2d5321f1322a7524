"""The cyclic garbage collector's settings for a long-running API worker.

Why: under load (``bench/gateway.py``, 32 connections) CPython's default thresholds (700, 10, 10) ran a *full*
collection about three times a second, each about 55 ms over the ~110,000 objects that FastAPI, pydantic,
SQLAlchemy and the app keep alive: close to a fifth of the worker's time spent proving that the imported
modules are still alive. A full collection comes round so often because the objects of the 32 requests in
flight survive the young collections (they are in use), get promoted, and then die by reference counting in
the old generation; CPython counts them as "long-lived pending" and collects everything again.

Nearly everything a request creates is freed by reference counting the moment the request ends; the cyclic
collector is only needed for the rare cycle. So at startup the worker collects once, *freezes* what exists
(modules, the app, the runtime: never garbage, now never traversed again — ``gc.freeze``, as pre-fork servers
do), and raises the young generation's threshold so that a collection runs after ``young_threshold`` net new
container objects instead of 700. Memory stays bounded: cycles are still collected, a little later.

Undone when the last server of the process stops (tests run several apps in one process, overlapping).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

__all__ = ["server_gc"]

_lock = threading.Lock()
_servers = 0
_previous: tuple[int, int, int] | None = None


@contextlib.contextmanager
def server_gc(young_threshold: int) -> Iterator[None]:
    """Freeze the startup heap and set the young threshold while the server runs; ``0`` changes nothing."""
    global _servers, _previous
    if young_threshold <= 0:
        yield
        return
    with _lock:
        _servers += 1
        if _servers == 1:
            _previous = gc.get_threshold()
            gc.collect()
            gc.freeze()
            gc.set_threshold(young_threshold, _previous[1], _previous[2])
    try:
        yield
    finally:
        with _lock:
            _servers -= 1
            if _servers == 0 and _previous is not None:
                gc.set_threshold(*_previous)
                gc.unfreeze()
