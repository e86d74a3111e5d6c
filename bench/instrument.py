"""Timers around the in-process host's episode phases, for the bench only.

The host's own code is not changed: while `instrumented()` is active, the module-level replay
and encode functions of `devhost.engine`, `CheckpointStore.save` and `Engine._finish` are
wrapped with timers, and a heartbeat measures how late the host's event loop runs a callback
(the loop serves HTTP, checkpoints and completions: a late heartbeat is a busy loop).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from devhost import activity_processes as runners_module
from devhost import engine as engine_module
from devhost.engine import Engine
from devhost.store import CheckpointStore


@dataclass
class Sample:
    instance_id: str
    size: int  # history events (replay) or document bytes (encode, save)
    seconds: float
    at: float  # time.monotonic() at the end


@dataclass
class ActivityRun:
    instance_id: str
    name: str
    started: float
    ended: float


@dataclass
class Timings:
    replays: list[Sample] = field(default_factory=list)
    encodes: list[Sample] = field(default_factory=list)
    saves: list[Sample] = field(default_factory=list)
    finished: dict[str, float] = field(default_factory=dict)
    activities: list[ActivityRun] = field(default_factory=list)
    loop_lag: list[tuple[float, float]] = field(default_factory=list)  # (at, seconds late)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: list[Sample], sample: Sample) -> None:
        with self._lock:
            kind.append(sample)

    def of(self, kind: list[Sample], instance_id: str) -> list[Sample]:
        with self._lock:
            return [s for s in kind if s.instance_id == instance_id]

    def between(self, kind: list[Sample], start: float, end: float) -> list[Sample]:
        with self._lock:
            return [s for s in kind if start <= s.at <= end]


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
def instrumented() -> Iterator[Timings]:
    timings = Timings()
    replay = engine_module._replay
    encode = engine_module._encode
    save = CheckpointStore.save
    finish = Engine._finish
    run_activity = runners_module.run_activity

    def timed_activity(function: Any, input_json: Any, instance_id: str) -> Any:
        started = time.monotonic()
        try:
            return run_activity(function, input_json, instance_id)
        finally:
            run = ActivityRun(instance_id, function.name, started, time.monotonic())
            with timings._lock:
                timings.activities.append(run)

    def timed_replay(function: Any, instance_id: str, history: list[Any], raw: Any) -> Any:
        started = time.monotonic()
        try:
            return replay(function, instance_id, history, raw)
        finally:
            now = time.monotonic()
            timings.add(timings.replays, Sample(instance_id, len(history), now - started, now))

    def timed_encode(document: dict[str, Any]) -> bytes:
        started = time.monotonic()
        data = encode(document)
        now = time.monotonic()
        sample = Sample(str(document.get("instanceId")), len(data), now - started, now)
        timings.add(timings.encodes, sample)
        return data

    async def timed_save(
        store: CheckpointStore, document: bytes, summary: Any, status_changed: bool
    ) -> None:
        started = time.monotonic()
        try:
            await save(store, document, summary, status_changed)
        finally:
            now = time.monotonic()
            sample = Sample(summary.instance_id, len(document), now - started, now)
            timings.add(timings.saves, sample)

    async def timed_finish(engine: Engine, instance: Any) -> None:
        await finish(engine, instance)
        with timings._lock:
            timings.finished[instance.instance_id] = time.monotonic()

    patches: list[Patch] = [
        (engine_module, "_replay", timed_replay),
        (engine_module, "_encode", timed_encode),
        (CheckpointStore, "save", timed_save),
        (Engine, "_finish", timed_finish),
        (runners_module, "run_activity", timed_activity),
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
