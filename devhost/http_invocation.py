"""An HTTP request as the Functions host hands it to the worker (`RpcHttp`), and the worker's
answer turned back into an HTTP response.

Both follow the host's code (Azure/azure-functions-host, `GrpcMessageConversionExtensions.
ToRpcHttp`, `HttpBinding`, `RawScriptResult`, `ExceptionMiddleware`), for a worker that declares
RpcHttpBodyOnly, RawHttpBodyBytes and RpcHttpTriggerMetadataRemoved, as the Python runtime does:
- header names lower-cased; repeated headers and query values joined with "," (ASP.NET's
  `StringValues.ToString()`, which skips empty items); query keys without a value left out;
- the body as bytes, and only when the request has a Content-Length above 0;
- trigger metadata: `Headers` and `Query` as JSON, each query key but `code` and each route
  parameter as a string (the last of repeated query values);
- the answer: status 200 unless the RpcHttp says otherwise; a string body as
  `text/plain; charset=utf-8` unless a content-type header is given, bytes as they are; no
  output at all is 200 with an empty body; a failed invocation is 500 with an empty body.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from multidict import MultiMapping

from devhost import rpc_messages as rpc
from devhost.invocations import client_bindings, failure_message, succeeded
from devhost.registry import HttpFunction

log = logging.getLogger(__name__)

TEXT_PLAIN = "text/plain; charset=utf-8"


def _joined(values: MultiMapping[str], key: str) -> str:
    return ",".join(v for v in values.getall(key) if v)


def request_headers(headers: MultiMapping[str]) -> dict[str, str]:
    return {key.lower(): _joined(headers, key) for key in headers}


def request_query(query: MultiMapping[str]) -> dict[str, str]:
    joined = {key: _joined(query, key) for key in query}
    return {key: value for key, value in joined.items() if value}


def _trigger_metadata(
    request: web.Request, route_params: Mapping[str, str]
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        key: rpc.TypedData(string=request.query.getall(key)[-1])
        for key in request.query
        if key != "code"
    }
    metadata.update({k: rpc.TypedData(string=v) for k, v in route_params.items()})
    query = {key: request.query.getall(key)[-1] for key in request.query}
    headers = {key: ",".join(request.headers.getall(key)) for key in request.headers}
    metadata["Query"] = rpc.TypedData(json=json.dumps(query))
    metadata["Headers"] = rpc.TypedData(json=json.dumps(headers))
    return metadata


def http_request(
    function: HttpFunction,
    request: web.Request,
    body: bytes,
    route_params: Mapping[str, str],
    client_json: str,
) -> Any:
    http = rpc.RpcHttp(
        method=request.method,
        url=str(request.url),
        headers=request_headers(request.headers),
        query=request_query(request.query),
        params={k: v for k, v in route_params.items() if v is not None},
        body=rpc.TypedData(bytes=body) if (request.content_length or 0) > 0 else None,
    )
    return rpc.InvocationRequest(
        invocation_id=str(uuid.uuid4()),
        function_id=function.function_id,
        input_data=[
            rpc.ParameterBinding(name=function.request_arg, data=rpc.TypedData(http=http)),
            *client_bindings(function.client_args, client_json),
        ],
        trigger_metadata=_trigger_metadata(request, route_params),
    )


def _body(data: Any) -> tuple[bytes, str | None]:
    """A TypedData body as bytes, with the content type its kind implies."""
    kind = data.WhichOneof("data")
    if kind is None:
        return b"", None
    if kind in ("bytes", "stream"):
        return bytes(getattr(data, kind)), None
    if kind == "string":
        return data.string.encode(), TEXT_PLAIN
    if kind == "json":
        return data.json.encode(), TEXT_PLAIN
    if kind in ("int", "double"):
        return str(getattr(data, kind)).encode(), TEXT_PLAIN
    raise ValueError(f"an HTTP body cannot be TypedData.{kind}")


def _cookie(cookie: Any) -> str:
    parts = [f"{cookie.name}={cookie.value}"]
    if cookie.domain.value:
        parts.append(f"Domain={cookie.domain.value}")
    if cookie.path.value:
        parts.append(f"Path={cookie.path.value}")
    if cookie.HasField("max_age"):
        parts.append(f"Max-Age={int(cookie.max_age.value)}")
    if cookie.HasField("secure") and cookie.secure.value:
        parts.append("Secure")
    if cookie.HasField("http_only") and cookie.http_only.value:
        parts.append("HttpOnly")
    same_site = {1: "Lax", 2: "Strict", 3: "None"}.get(cookie.same_site)
    if same_site:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


def _from_rpc_http(http: Any) -> web.Response:
    status = int(http.status_code) if http.status_code.strip().isdigit() else 200
    body, implied = _body(http.body)
    response = web.Response(status=status, body=body)
    for name, value in http.headers.items():
        if name.lower() != "content-length":
            response.headers[name] = value
    if implied and "Content-Type" not in response.headers:
        response.headers["Content-Type"] = implied
    for cookie in http.cookies:
        response.headers.add("Set-Cookie", _cookie(cookie))
    return response


def http_response(function: HttpFunction, response: Any) -> web.Response:
    """What the client gets from the worker's InvocationResponse."""
    if not succeeded(response):
        log.error("HTTP function %s failed: %s", function.name, failure_message(response))
        return web.Response(status=500)
    value = response.return_value
    for output in response.output_data:  # an http output binding other than $return
        if output.data.WhichOneof("data") == "http":
            value = output.data
    kind = value.WhichOneof("data")
    if kind == "http":
        return _from_rpc_http(value.http)
    if kind is None:
        return web.Response(status=200)
    body, implied = _body(value)
    return web.Response(status=200, body=body, headers={"Content-Type": implied or TEXT_PLAIN})
