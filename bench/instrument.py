"""Timers around what the host process does in an orchestration step, for the bench only.

The host's own code is not changed: while `instrumented()` is active these are wrapped with
timers (and put back after):
- `WorkerPool.invoke`: every invocation sent to a language worker, from the request handed to
  the pool to its response back on the host's loop (pickling, the pipe both ways, the worker's
  scheduling and the function itself), by kind and function name;
- `Engine._replay`: one episode's replay as the host runs it: the context JSON (the whole
  history) built, a replay slot taken, the orchestrator invoked in a worker (where the SDK
  replays the history), its answer read;
- `devhost.engine._encode`: a checkpoint's JSON encoding (on the host's encode threads);
- `CheckpointStore.save_with_retry`: a checkpoint write (blob, and the row when the status
  changed); a terminal status marks when the instance finished.
A heartbeat measures how late the host's event loop runs a callback (the loop serves HTTP,
the workers' pipes, checkpoints and completions: a late heartbeat is a busy loop).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from devhost import engine as engine_module
from devhost.engine import Engine
from devhost.registry import index_metadata
from devhost.store import CheckpointStore
from devhost.worker_pool import WorkerPool

# What a wrapper up the call stack (a replay, an app route) wants to know of the invocation it
# makes: (started, ended) by kind, filled in by the invoke timer in the same asyncio task.
_WATCHER: ContextVar[dict[str, tuple[float, float]] | None] = ContextVar(
    "bench_invocation_watcher", default=None
)


@dataclass
class Sample:
    instance_id: str
    size: int  # history events (replay) or document bytes (encode, save)
    seconds: float
    at: float  # time.monotonic() at the end
    invoke_seconds: float | None = None  # replays: the orchestrator's invocation in a worker


@dataclass
class Invocation:
    kind: str  # activity, orchestrator, http, timer
    name: str
    key: str | None  # activities: the job or instance their input names
    started: float
    ended: float


@dataclass
class Timings:
    replays: list[Sample] = field(default_factory=list)
    encodes: list[Sample] = field(default_factory=list)
    saves: list[Sample] = field(default_factory=list)
    finished: dict[str, float] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    loop_lag: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds late)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: list[Any], sample: Any) -> None:
        with self._lock:
            kind.append(sample)

    def of(self, kind: list[Sample], instance_id: str) -> list[Sample]:
        with self._lock:
            return [s for s in kind if s.instance_id == instance_id]

    def between(self, kind: list[Sample], start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in kind if start <= s.at <= end]

    def activities(self, key: str | None = None) -> list[Invocation]:
        with self._lock:
            return [
                i for i in self.invocations
                if i.kind == "activity" and (key is None or i.key == key)
            ]


Patch = tuple[Any, str, Callable[..., Any]]


@contextmanager
def patched(patches: list[Patch]) -> Iterator[None]:
    """Each (target, attribute, wrapper) set while the block runs, the originals put back."""
    originals = [(target, name, getattr(target, name)) for target, name, _ in patches]
    for target, name, wrapper in patches:
        setattr(target, name, wrapper)
    try:
        yield
    finally:
        for target, name, original in originals:
            setattr(target, name, original)


@contextmanager
def watching_invocations() -> Iterator[dict[str, tuple[float, float]]]:
    """Within the current asyncio task, note the (started, ended) of the first invocation of
    each kind (needs `instrumented()` active)."""
    seen: dict[str, tuple[float, float]] = {}
    token = _WATCHER.set(seen)
    try:
        yield seen
    finally:
        _WATCHER.reset(token)


class FunctionKinds:
    """function id -> (kind, name), from the metadata the pool's workers answered with."""

    def __init__(self) -> None:
        self._by_pool: dict[int, dict[str, tuple[str, str]]] = {}

    def of(self, pool: WorkerPool, function_id: str) -> tuple[str, str]:
        known = self._by_pool.get(id(pool))
        if known is None:
            index = index_metadata(pool.metadata)
            known = {}
            for kind, functions in (
                ("orchestrator", list(index.orchestrators.values())),
                ("activity", list(index.activities.values())),
                ("http", list(index.http)),
                ("timer", list(index.timers)),
            ):
                for function in functions:
                    known[function.function_id] = (kind, function.name)
            self._by_pool[id(pool)] = known
        return known.get(function_id, ("other", function_id))


def activity_key(request: Any) -> str | None:
    """The job (`job_id`) or instance (`instance`) an activity's JSON input names."""
    try:
        value = json.loads(request.input_data[0].data.string)
    except (IndexError, AttributeError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    key = value.get("job_id", value.get("instance"))
    return None if key is None else str(key)


@contextmanager
def instrumented() -> Iterator[Timings]:
    timings = Timings()
    kinds = FunctionKinds()
    invoke = WorkerPool.invoke
    replay = Engine._replay
    encode = engine_module._encode
    save = CheckpointStore.save_with_retry

    async def timed_invoke(pool: WorkerPool, request: Any) -> Any:
        started = time.monotonic()
        try:
            return await invoke(pool, request)
        finally:
            ended = time.monotonic()
            kind, name = kinds.of(pool, request.function_id)
            key = activity_key(request) if kind == "activity" else None
            timings.add(timings.invocations, Invocation(kind, name, key, started, ended))
            watcher = _WATCHER.get()
            if watcher is not None:
                watcher.setdefault(kind, (started, ended))

    async def timed_replay(
        engine: Engine, function: Any, instance: Any, new_events: list[Any]
    ) -> Any:
        size = len(instance.history) + len(new_events)
        started = time.monotonic()
        with watching_invocations() as seen:
            try:
                return await replay(engine, function, instance, new_events)
            finally:
                now = time.monotonic()
                inner = seen.get("orchestrator")
                sample = Sample(
                    instance.instance_id, size, now - started, now,
                    inner[1] - inner[0] if inner else None,
                )
                timings.add(timings.replays, sample)

    def timed_encode(document: dict[str, Any]) -> bytes:
        started = time.monotonic()
        data = encode(document)
        now = time.monotonic()
        sample = Sample(str(document.get("instanceId")), len(data), now - started, now)
        timings.add(timings.encodes, sample)
        return data

    async def timed_save(
        store: CheckpointStore, document: bytes, summary: Any, status_changed: bool,
        *args: Any, **kwargs: Any,
    ) -> bool:
        started = time.monotonic()
        try:
            return await save(store, document, summary, status_changed, *args, **kwargs)
        finally:
            now = time.monotonic()
            sample = Sample(summary.instance_id, len(document), now - started, now)
            timings.add(timings.saves, sample)
            if summary.status.is_terminal:
                with timings._lock:
                    timings.finished.setdefault(summary.instance_id, now)

    patches: list[Patch] = [
        (WorkerPool, "invoke", timed_invoke),
        (Engine, "_replay", timed_replay),
        (engine_module, "_encode", timed_encode),
        (CheckpointStore, "save_with_retry", timed_save),
    ]
    with patched(patches):
        yield timings


@contextmanager
def loop_heartbeat(
    loop: asyncio.AbstractEventLoop, timings: Timings, period: float = 0.01
) -> Iterator[None]:
    """Every `period` s, ask the loop to run a callback and note how late it ran."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            asked = time.monotonic()
            done = threading.Event()

            def ran(asked: float = asked, done: threading.Event = done) -> None:
                with timings._lock:
                    timings.loop_lag.append((time.monotonic(), time.monotonic() - asked))
                done.set()

            loop.call_soon_threadsafe(ran)
            done.wait(30)
            stop.wait(period)

    thread = threading.Thread(target=beat, name="bench-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=35)
