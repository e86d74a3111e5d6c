"""What the host does for its orchestrations, told to an observer: the public instrumentation hook.

    class Steps(Observer):
        def replayed(self, replay: Replay) -> None:
            print(replay.instance_id, replay.history_events, replay.seconds)

    with DevHost("function_app:app", root=path, port=0, observer=Steps()) as host: ...

Three things are reported, each after it ended (also when it raised), with `time.monotonic()`
when it began (system-wide on Linux, so it compares with other processes' moments):

- `invoked`: a function invoked in a language worker for an instance: kind `activity` (its
  request handed to the worker pool, to the worker's answer back on the host, so the pickling,
  the pipe both ways, the worker's scheduling and the function itself; not the wait for an
  activity slot) or `orchestrator` (one episode's replay in a worker, inside `replayed`);
- `replayed`: one episode's replay as the host runs it: the context JSON (the whole history)
  built, a replay slot waited for, the orchestrator invoked in a worker, its answer read;
- `checkpointed`: an instance's checkpoint after an episode (the blob, and the row when the
  status changed), with the document's size and the status it records, so a terminal status
  marks when the instance finished; the wait for a checkpoint slot is not in it. The first
  checkpoint of a new instance (written by the start itself) is not reported.

Nothing else is reported (HTTP functions, timers, starts): what `bench/` measures needs no more.
The observer is called on the host's event loop, so it must be quick and must not block; an
exception it raises is logged and dropped, never the host's. With no observer (the default) a
call site gets one shared do-nothing context manager back, and nothing is timed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["activity", "orchestrator"]


@dataclass(frozen=True, slots=True)
class Invocation:
    kind: Kind
    function: str
    instance_id: str
    started: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Replay:
    instance_id: str
    history_events: int  # the history replayed, this episode's new events included
    started: float
    seconds: float


@dataclass(frozen=True, slots=True)
class Checkpoint:
    instance_id: str
    document_bytes: int
    runtime_status: str  # Pending, Running, Completed, Failed, Terminated
    started: float
    seconds: float


class Observer:
    """Override what you need; every method does nothing here."""

    def invoked(self, invocation: Invocation) -> None:
        """A function invoked in a language worker for an instance."""

    def replayed(self, replay: Replay) -> None:
        """One episode's replay."""

    def checkpointed(self, checkpoint: Checkpoint) -> None:
        """A checkpoint written after an episode."""


_UNOBSERVED: AbstractContextManager[None] = nullcontext()


class _Timed(AbstractContextManager[None]):
    """Times the block, then hands (started, seconds) to one of the observer's methods."""

    def __init__(self, report: Callable[[float, float], None]) -> None:
        self._report = report
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.monotonic()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        seconds = time.monotonic() - self._started
        try:
            self._report(self._started, seconds)
        except Exception:
            log.exception("the host's observer failed; its report is dropped")


def invocation(
    observer: Observer | None, kind: Kind, function: str, instance_id: str
) -> AbstractContextManager[None]:
    """Around a worker invocation made for an instance."""
    if observer is None:
        return _UNOBSERVED
    return _Timed(
        lambda started, seconds: observer.invoked(
            Invocation(kind, function, instance_id, started, seconds)
        )
    )


def replay(
    observer: Observer | None, instance_id: str, history_events: int
) -> AbstractContextManager[None]:
    """Around one episode's replay."""
    if observer is None:
        return _UNOBSERVED
    return _Timed(
        lambda started, seconds: observer.replayed(
            Replay(instance_id, history_events, started, seconds)
        )
    )


def checkpoint(
    observer: Observer | None, instance_id: str, document_bytes: int, runtime_status: str
) -> AbstractContextManager[None]:
    """Around a checkpoint write after an episode."""
    if observer is None:
        return _UNOBSERVED
    return _Timed(
        lambda started, seconds: observer.checkpointed(
            Checkpoint(instance_id, document_bytes, runtime_status, started, seconds)
        )
    )
