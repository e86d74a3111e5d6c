"""The durable client binding, and how the SDK's client calls reach the engine.

The binding is the JSON string the Functions host hands to `@app.durable_client_input`
parameters: `taskHubName`, `creationUrls`, `managementUrls` (with `id: "INSTANCEID"`),
`rpcBaseUrl` and the rest. `rpcBaseUrl` is `{host}/durabletask/`, the analogue of the
extension's local RPC listener, and the HTTP server really serves it (no key, as the extension's
loopback listener).

In-process routing. `DurableOrchestrationClient` copies the module-level functions
`post_async_request`, `get_async_request` and `delete_async_request` when it is built. `install()`
swaps them, once per process, for wrappers that look the URL up among the running hosts' RPC
bases and call that host's handler directly; any other URL goes to the SDK's own function. So
unchanged app code works, several hosts can live in one process (each owns its base), and no
client call depends on the SDK's process-wide aiohttp session, which is tied to the first event
loop that used it. A call made from another event loop is handed to the owning host's loop.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from devhost.management import ApiRequest, ApiResponse, ManagementUrls

Handler = Callable[[ApiRequest], Coroutine[Any, Any, ApiResponse]]
CLIENT_MODULE = "azure.durable_functions.models.DurableOrchestrationClient"


@dataclass(frozen=True)
class _Route:
    base: str
    handler: Handler
    loop: asyncio.AbstractEventLoop


_routes: dict[str, _Route] = {}
_lock = threading.Lock()
_originals: dict[str, Any] = {}


def binding_json(urls: ManagementUrls, rpc_base: str) -> str:
    """The client binding a durable client function receives, for one host."""
    creation = f"{urls.webhook_base}/orchestrators/{{functionName}}[/{{instanceId}}]"
    management = urls.payload("INSTANCEID")
    return json.dumps(
        {
            "taskHubName": urls.hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{creation}?code={urls.system_key}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{creation}?timeout={{timeoutInSeconds}}"
                    f"&pollingInterval={{intervalInSeconds}}&code={urls.system_key}"
                ),
            },
            "managementUrls": management,
            "baseUrl": urls.webhook_base,
            "requiredQueryStringParameters": f"code={urls.system_key}",
            "rpcBaseUrl": rpc_base,
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        }
    )


def register(base: str, handler: Handler, loop: asyncio.AbstractEventLoop) -> None:
    install()
    with _lock:
        _routes[base] = _Route(base, handler, loop)


def unregister(base: str) -> None:
    with _lock:
        _routes.pop(base, None)


def _route_for(url: str) -> _Route | None:
    with _lock:
        for base, route in _routes.items():
            if url.startswith(base):
                return route
    return None


def api_request(method: str, url: str, base: str, body: bytes) -> ApiRequest:
    parts = urlsplit(url)
    base_path = urlsplit(base).path
    path = unquote(parts.path)[len(base_path) :].strip("/")
    return ApiRequest(method, path, dict(parse_qsl(parts.query)), body, url)


async def _call(route: _Route, method: str, url: str, body: bytes) -> list[Any]:
    request = api_request(method, url, route.base, body)
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is route.loop:
        response = await route.handler(request)
    else:
        future = asyncio.run_coroutine_threadsafe(route.handler(request), route.loop)
        response = await asyncio.wrap_future(future)
    data = json.loads(response.encoded_body()) if response.body is not None else None
    return [response.status, data]


async def _post(
    url: str,
    data: Any = None,
    trace_parent: str | None = None,
    trace_state: str | None = None,
    function_invocation_id: str | None = None,
) -> list[Any]:
    route = _route_for(url)
    if route is None:
        original = _originals["post_async_request"]
        return list(await original(url, data, trace_parent, trace_state, function_invocation_id))
    body = b"" if data is None else json.dumps(data).encode()
    return await _call(route, "POST", url, body)


async def _get(url: str, function_invocation_id: str | None = None) -> list[Any]:
    route = _route_for(url)
    if route is None:
        return list(await _originals["get_async_request"](url, function_invocation_id))
    status, data = await _call(route, "GET", url, b"")
    return [status, "" if data is None else data]


async def _delete(url: str, function_invocation_id: str | None = None) -> list[Any]:
    route = _route_for(url)
    if route is None:
        return list(await _originals["delete_async_request"](url, function_invocation_id))
    return await _call(route, "DELETE", url, b"")


def install() -> None:
    """Swap the SDK client's request functions for the routing wrappers (idempotent)."""
    client_module = importlib.import_module(CLIENT_MODULE)
    with _lock:
        if _originals:
            return
        for name, wrapper in (
            ("post_async_request", _post),
            ("get_async_request", _get),
            ("delete_async_request", _delete),
        ):
            _originals[name] = getattr(client_module, name)
            setattr(client_module, name, wrapper)
