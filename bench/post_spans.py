"""Timers around a POST /api/analyses's phases and around every storage call the process makes,
for `bench.post_profile`. Nothing is changed but wrapped, and only while `post_spans()` is
active: `devhost`'s app-route handler, `Engine.start_new`, `CheckpointStore.create` (the new
instance's blob and row), the app's `Admission.admit`, and azure-core's sync and async HTTP
transports (the storage SDKs' calls)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from azure.core.pipeline.transport import AioHttpTransport, RequestsTransport

from bench.instrument import Patch, patched
from bench.threads_cpu import group
from devhost.engine import Engine
from devhost.http_server import HttpServer
from devhost.store import CheckpointStore


@dataclass
class StorageCall:
    thread: str
    kind: str  # "blob GET", "table POST", ...
    started: float
    seconds: float
    cpu: float | None  # the calling thread's CPU time (sync calls only)


@dataclass
class Spans:
    """(start, end) per job id for each wrapped call."""

    route: dict[str, tuple[float, float]] = field(default_factory=dict)
    admission: dict[str, tuple[float, float]] = field(default_factory=dict)
    start_new: dict[str, tuple[float, float]] = field(default_factory=dict)
    create: dict[str, tuple[float, float]] = field(default_factory=dict)
    storage: list[StorageCall] = field(default_factory=list)


def first(spans: dict[str, tuple[float, float]], key: str, span: tuple[float, float]) -> None:
    spans.setdefault(key, span)


def _kind(request: Any, services: dict[int, str]) -> str:
    port = urlsplit(str(request.url)).port or 0
    return f"{services.get(port, 'other')} {request.method}"


@contextmanager
def post_spans(services: dict[int, str]) -> Iterator[Spans]:
    from shared import admission as admission_module

    spans = Spans()
    route = HttpServer._app_route
    start_new = Engine.start_new
    create = CheckpointStore.create
    admission_class: Any = getattr(admission_module, "Admission", None)
    admit = getattr(admission_class, "admit", None)
    sync_send = RequestsTransport.send
    async_send = AioHttpTransport.send
    lock = threading.Lock()

    def timed_sync_send(transport: Any, request: Any, **kwargs: Any) -> Any:
        started, cpu = time.monotonic(), time.thread_time()
        try:
            return sync_send(transport, request, **kwargs)
        finally:
            name = group(threading.current_thread().name)
            call = StorageCall(
                name,
                _kind(request, services),
                started,
                time.monotonic() - started,
                time.thread_time() - cpu,
            )
            with lock:
                spans.storage.append(call)

    async def timed_async_send(transport: Any, request: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        try:
            return await async_send(transport, request, **kwargs)
        finally:
            call = StorageCall(
                "devhost-loop",
                _kind(request, services),
                started,
                time.monotonic() - started,
                None,
            )
            with lock:
                spans.storage.append(call)

    async def timed_route(server: HttpServer, request: Any) -> Any:
        started = time.monotonic()
        response = await route(server, request)
        body = response.body
        if request.method == "POST" and response.status == 202 and isinstance(body, bytes):
            job_id = json.loads(body).get("id")
            if job_id:
                spans.route[job_id] = (started, time.monotonic())
        return response

    def timed_admit(admission: Any, job: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.monotonic()
        assert admit is not None
        result = admit(admission, job, *args, **kwargs)
        first(spans.admission, job.id, (started, time.monotonic()))
        return result

    async def timed_start_new(engine: Engine, name: str, instance_id: Any, raw: Any) -> str:
        started = time.monotonic()
        result = await start_new(engine, name, instance_id, raw)
        first(spans.start_new, result, (started, time.monotonic()))
        return result

    async def timed_create(store: CheckpointStore, document: bytes, summary: Any) -> bool:
        started = time.monotonic()
        result = await create(store, document, summary)
        first(spans.create, summary.instance_id, (started, time.monotonic()))
        return result

    patches: list[Patch] = [
        (HttpServer, "_app_route", timed_route),
        (Engine, "start_new", timed_start_new),
        (CheckpointStore, "create", timed_create),
        (RequestsTransport, "send", timed_sync_send),
        (AioHttpTransport, "send", timed_async_send),
    ]
    if admit is not None:
        patches.append((admission_class, "admit", timed_admit))
    with patched(patches):
        yield spans
