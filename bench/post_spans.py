"""Timers around what the host process sees of a POST /api/analyses, and around every storage
call the bench process makes, for `bench.post_profile`. Nothing is changed but wrapped, and only
while `post_spans()` is active (with `bench.instrument.instrumented()`, whose invocation timer
reports the route's invocation):

- `HttpServer._app_route`: the app route, from the request handed to it to the response it
  returns (the key check, the body read, the invocation, the answer converted);
- the route's invocation in a worker (`WorkerPool.invoke`, through `instrumented()`);
- `ManagementApi.handle` for `orchestrators/...`: the durable client's start, as it arrives on
  the host's RPC base (`/durabletask/`) from the worker;
- `Engine.start_new` inside it, and `CheckpointStore.create` inside that (the new instance's
  blob and row);
- azure-core's sync and async HTTP transports: the host's checkpoint calls (async, on its
  loop) and the bench's watcher (sync). The app's own storage calls (its admission
  transaction, its activities) are made in the workers and are not seen here.
"""

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

from bench.instrument import Patch, patched, watching_invocations
from bench.threads_cpu import group
from devhost.engine import Engine
from devhost.http_server import HttpServer
from devhost.management import ManagementApi
from devhost.store import CheckpointStore

START_PATH = "orchestrators/"


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
    invocation: dict[str, tuple[float, float]] = field(default_factory=dict)
    rpc_start: dict[str, tuple[float, float]] = field(default_factory=dict)
    start_new: dict[str, tuple[float, float]] = field(default_factory=dict)
    create: dict[str, tuple[float, float]] = field(default_factory=dict)
    storage: list[StorageCall] = field(default_factory=list)


def first(spans: dict[str, tuple[float, float]], key: str, span: tuple[float, float]) -> None:
    spans.setdefault(key, span)


def _kind(request: Any, services: dict[int, str]) -> str:
    port = urlsplit(str(request.url)).port or 0
    return f"{services.get(port, 'other')} {request.method}"


def _accepted_id(status: int, body: Any) -> str | None:
    """The `id` of a 202 answer's JSON body (the job id, which is also its instance id)."""
    if status != 202 or not isinstance(body, bytes | dict):
        return None
    try:
        data = json.loads(body) if isinstance(body, bytes) else body
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return str(found) if found else None


@contextmanager
def post_spans(services: dict[int, str]) -> Iterator[Spans]:
    spans = Spans()
    route = HttpServer._app_route
    handle = ManagementApi.handle
    start_new = Engine.start_new
    create = CheckpointStore.create
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
        with watching_invocations() as seen:
            response = await route(server, request)
        job_id = _accepted_id(response.status, response.body) if request.method == "POST" else None
        if job_id:
            spans.route[job_id] = (started, time.monotonic())
            if "http" in seen:
                spans.invocation[job_id] = seen["http"]
        return response

    async def timed_handle(api: ManagementApi, request: Any) -> Any:
        started = time.monotonic()
        response = await handle(api, request)
        if request.path.startswith(START_PATH):
            instance_id = _accepted_id(response.status, response.body)
            if instance_id:
                first(spans.rpc_start, instance_id, (started, time.monotonic()))
        return response

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
        (ManagementApi, "handle", timed_handle),
        (Engine, "start_new", timed_start_new),
        (CheckpointStore, "create", timed_create),
        (RequestsTransport, "send", timed_sync_send),
        (AioHttpTransport, "send", timed_async_send),
    ]
    with patched(patches):
        yield spans
