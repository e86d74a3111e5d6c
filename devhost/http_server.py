"""The HTTP side of the host: the app's routes under the route prefix, the Durable webhook API
(system key required) and the local RPC base (loopback callers, no key), on one aiohttp server."""

from __future__ import annotations

import hmac
import ipaddress
import logging

from aiohttp import web

from devhost.dispatch import Invoke
from devhost.http_invocation import http_request, http_response
from devhost.keys import HostKeys
from devhost.management import ApiRequest, ManagementApi
from devhost.registry import HttpFunction
from devhost.routes import RouteTable
from devhost.worker_pool import NoWorkers, WorkerExited

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/runtime/webhooks/durabletask"
RPC_PATH = "/durabletask"
MAX_BODY = 100 * 1024 * 1024
JSON_TYPE = "application/json; charset=utf-8"
KEY_HEADER = "x-functions-key"
KEY_QUERY = "code"


def _under(path: str, base: str) -> str | None:
    """`path` relative to `base` (no slashes at either end), or None when outside it."""
    if path == base or path.startswith(base + "/"):
        return path[len(base) :].strip("/")
    return None


def _given_key(request: web.Request) -> str:
    return request.headers.get(KEY_HEADER) or request.query.get(KEY_QUERY) or ""


def _matches(given: str, keys: list[str]) -> bool:
    found = False
    for key in keys:  # compare with every key, so the time says nothing about which matched
        found |= hmac.compare_digest(given.encode(), key.encode())
    return bool(given) and found


class HttpServer:
    def __init__(
        self,
        *,
        routes: RouteTable[HttpFunction],
        management: ManagementApi,
        keys: HostKeys,
        client_binding: str,
        invoke: Invoke,
    ) -> None:
        self._routes = routes
        self._management = management
        self._keys = keys
        self._binding = client_binding
        self._invoke = invoke

    def application(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        webhook = _under(path, WEBHOOK_PATH)
        if webhook is not None:
            given = _given_key(request)
            if not _matches(given, self._keys.extension_keys):
                # A key the host knows that is not the extension's: authenticated, not allowed.
                return web.Response(status=403 if _matches(given, self._keys.all_keys) else 401)
            return await self._api(request, webhook)
        rpc = _under(path, RPC_PATH)
        if rpc is not None and _loopback(request.remote):
            return await self._api(request, rpc)
        return await self._app_route(request)

    def _authorised(self, function: HttpFunction, request: web.Request) -> bool:
        """AuthLevel as the host applies it (FunctionInvocationMiddleware, AuthUtility): anonymous
        needs no key; function takes a function key or the master key (not a system key); admin
        only the master key. The header wins over `code=`."""
        level = function.auth_level
        if level == "ANONYMOUS":
            return True
        allowed = [self._keys.master]
        if level != "ADMIN":
            allowed += list(self._keys.function_keys.values())
        return _matches(_given_key(request), allowed)

    async def _api(self, request: web.Request, relative: str) -> web.Response:
        api_request = ApiRequest(
            method=request.method,
            path=relative,
            query=dict(request.query),
            body=await request.read(),
            url=str(request.url),
            content_type=request.content_type if request.headers.get("Content-Type") else "",
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
        if not self._authorised(function, request):
            return web.Response(status=401)
        body = await request.read()
        invocation = http_request(function, request, body, route_params, self._binding)
        try:
            response = await self._invoke(invocation)
        except (WorkerExited, NoWorkers) as exc:
            log.error("HTTP function %s: %s", function.name, exc)
            return web.Response(status=500)
        return http_response(function, response)


def _loopback(address: str | None) -> bool:
    """The RPC base answers local callers only, like the extension's loopback listener."""
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
