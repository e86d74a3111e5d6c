"""The HTTP side of the host: the app's routes under the route prefix, the Durable webhook API
(system key required) and the local RPC base (loopback callers, no key), on one aiohttp server."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
from collections.abc import Mapping
from concurrent.futures import Executor
from functools import partial
from typing import Any

import azure.functions as func
from aiohttp import web

from devhost.management import ApiRequest, ManagementApi
from devhost.registry import CONTEXT_PARAMETER, HttpFunction
from devhost.routes import RouteTable
from devhost.worker import InvocationContext

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
MAX_BODY = 100 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"


def _under(path: str, base: str) -> str | None:
    """`path` relative to `base` (no slashes at either end), or None when outside it."""
    if path == base or path.startswith(base + "/"):
        return path[len(base) :].strip("/")
    return None


def to_aiohttp(result: Any) -> web.Response:
    """What the worker makes of an HTTP function's return value."""
    if result is None:
        return web.Response(status=204)
    if isinstance(result, func.HttpResponse):
        headers = {k: v for k, v in result.headers.items() if k.lower() != "content-length"}
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = f"{result.mimetype}; charset={result.charset}"
        return web.Response(status=result.status_code, body=result.get_body(), headers=headers)
    if isinstance(result, bytes | bytearray):
        return web.Response(body=bytes(result), content_type="application/octet-stream")
    if isinstance(result, str):
        return web.Response(text=result)
    return web.Response(body=json.dumps(result).encode(), headers={"Content-Type": JSON_TYPE})


class HttpServer:
    def __init__(
        self,
        *,
        routes: RouteTable[HttpFunction],
        management: ManagementApi,
        system_key: str,
        client_binding: str,
        http_pool: Executor,
    ) -> None:
        self._routes = routes
        self._management = management
        self._system_key = system_key
        self._binding = client_binding
        self._pool = http_pool

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        webhook = _under(path, WEBHOOK_PATH)
        if webhook is not None:
            if not self._authorised(request):
                return web.Response(status=401)
            return await self._api(request, webhook)
        rpc = _under(path, RPC_PATH)
        if rpc is not None and _loopback(request.remote):
            return await self._api(request, rpc)
        return await self._app_route(request)

    def _authorised(self, request: web.Request) -> bool:
        given = request.query.get("code") or request.headers.get("x-functions-key") or ""
        return hmac.compare_digest(given.encode(), self._system_key.encode())

    async def _api(self, request: web.Request, relative: str) -> web.Response:
        api_request = ApiRequest(
            method=request.method,
            path=relative,
            query=dict(request.query),
            body=await request.read(),
            url=str(request.url),
        )
        response = await self._management.handle(api_request)
        headers = dict(response.headers)
        if response.body is not None:
            headers["Content-Type"] = JSON_TYPE
        return web.Response(status=response.status, body=response.encoded_body(), headers=headers)

    async def _app_route(self, request: web.Request) -> web.Response:
        resolved = self._routes.resolve(request.method, request.path)
        if resolved is None:
            return web.Response(status=404)
        function, route_params = resolved
        http_request = func.HttpRequest(
            method=request.method,
            url=str(request.url),
            headers=dict(request.headers),
            params=_first_values(request.query),
            route_params=route_params,
            body=await request.read(),
        )
        kwargs: dict[str, Any] = {function.request_arg: http_request}
        if function.client_arg:
            kwargs[function.client_arg] = self._binding
        if function.wants_context:
            kwargs[CONTEXT_PARAMETER] = InvocationContext(function.name)
        kwargs.update({name: None for name in function.unsupported_args})
        try:
            if function.is_async:
                result = await function.call(**kwargs)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self._pool, partial(function.call, **kwargs))
        except Exception:
            log.exception("HTTP function %s raised", function.name)
            return web.Response(status=500)
        return to_aiohttp(result)


def _loopback(address: str | None) -> bool:
    """The RPC base answers local callers only, like the extension's loopback listener."""
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def _first_values(query: Mapping[str, str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for key, value in query.items():
        values.setdefault(key, value)
    return values
