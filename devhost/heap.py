"""Keeping the host's full garbage collections short.

A full collection scans every object the collector tracks, with the GIL held: about 200,000
once an app has imported its SDKs, about 120 ms on a 2-core machine, a stall for every request,
replay and activity in the process. Objects that live as long as the process (modules,
classes, clients) need not be scanned again and again: `gc.freeze()` moves everything alive to a
permanent generation, in constant time, and later collections skip it.

Once per process, the host freezes after indexing the app, and once more after the first
orchestration has finished, by when the modules an app imports on first use are loaded.
Freezing does not collect, so cyclic garbage pending at those moments is kept: a bounded,
one-time cost.
"""

from __future__ import annotations

import gc
import threading

_lock = threading.Lock()
_done: set[str] = set()


def _freeze_once(moment: str) -> None:
    with _lock:
        if moment in _done:
            return
        _done.add(moment)
    gc.freeze()


def freeze_startup() -> None:
    """After the app's modules are imported."""
    _freeze_once("startup")


def freeze_once_warm() -> None:
    """After the first orchestration finishes."""
    _freeze_once("warm")
