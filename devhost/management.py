"""The Durable extension's HTTP API (`HttpApiHandler`), answered from the engine.

Paths are relative to the webhook base (`/runtime/webhooks/durabletask/`) or to the local RPC
base (`/durabletask/`); both bases serve the same handlers, as in the extension.
- POST   orchestrators/{functionName}/{instanceId?}  start: 202 + check-status payload; 500 with
         OrchestrationAlreadyExistsException's body if the id is running (the extension catches
         only JSON errors there: HttpApiHandler.cs L446-449, 2.13.7 and v3.x), 500 if the first
         checkpoint could not be written
- GET    instances/{id}   status: 202 + Location while Pending/Running, 200 once finished
         (500 for Failed with returnInternalServerErrorOnFailure=true), 404 with no body
- POST   instances/{id}/terminate?reason=   202, 404 unknown, 410 already finished
- DELETE instances/{id}   purge: 200 {"instancesDeleted": 1} whatever the status, 404 unknown
         (HttpApiHandler.HandleDeleteHistoryByIdRequestAsync, L554-567, checks no status, and
         the Azure Storage provider's single-instance purge deletes a running one too)
- POST   instances/{id}/raiseEvent/{name}   202; 404 unknown, 410 finished (checked first),
         400 unless application/json with a JSON body (see `devhost.events`)
Other operations of the extension (rewind, restart, suspend, resume, queries) answer 501.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from devhost.engine import Engine, PurgeOutcome, TerminateOutcome
from devhost.errors import InstanceExists, InvalidInstanceId, StorageError, UnknownFunction
from devhost.events import RaiseOutcome, event_input
from devhost.status import RuntimeStatus, status_payload

RETRY_AFTER_STATUS = "5"
ALREADY_EXISTS_TYPE = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"
RETRY_AFTER_CHECK = "10"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApiRequest:
    method: str
    path: str  # relative to the base, decoded, without leading or trailing "/"
    query: Mapping[str, str]
    body: bytes
    url: str  # the full request URL, for Location headers
    content_type: str = ""  # the media type, without parameters


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any = None  # JSON-serialisable; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)

    def encoded_body(self) -> bytes:
        return b"" if self.body is None else json.dumps(self.body).encode()


@dataclass(frozen=True)
class ManagementUrls:
    """Where management links point: the webhook base plus the query every link carries."""

    webhook_base: str
    hub: str
    system_key: str
    connection: str = "Storage"

    @property
    def query_suffix(self) -> str:
        return f"taskHub={quote(self.hub)}&connection={self.connection}&code={self.system_key}"

    def payload(self, instance_id: str) -> dict[str, str]:
        """HttpManagementPayload for one instance (the ids are URL-encoded, as .NET does)."""
        prefix = f"{self.webhook_base}/instances/{quote(instance_id, safe='')}"
        suffix = self.query_suffix
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{prefix}?{suffix}",
            "sendEventPostUri": f"{prefix}/raiseEvent/{{eventName}}?{suffix}",
            "terminatePostUri": f"{prefix}/terminate?reason={{text}}&{suffix}",
            "rewindPostUri": f"{prefix}/rewind?reason={{text}}&{suffix}",
            "purgeHistoryDeleteUri": f"{prefix}?{suffix}",
            "restartPostUri": f"{prefix}/restart?{suffix}",
            "suspendPostUri": f"{prefix}/suspend?reason={{text}}&{suffix}",
            "resumePostUri": f"{prefix}/resume?reason={{text}}&{suffix}",
        }


def _flag(query: Mapping[str, str], name: str, default: bool) -> bool:
    """.NET bool.TryParse: "true"/"false" in any case, anything else keeps the default."""
    value = query.get(name, "").strip().lower()
    return {"true": True, "false": False}.get(value, default)


def _error(status: int, message: str, exception: str | None = None) -> ApiResponse:
    body = {"Message": message}
    if exception is not None:
        body["ExceptionMessage"] = exception
    return ApiResponse(status, body)


class ManagementApi:
    def __init__(self, engine: Engine, urls: ManagementUrls) -> None:
        self._engine = engine
        self._urls = urls

    async def handle(self, request: ApiRequest) -> ApiResponse:
        parts = request.path.split("/") if request.path else []
        method = request.method.upper()
        if parts and parts[0] == "orchestrators" and len(parts) in (2, 3):
            if method != "POST":
                return ApiResponse(404)
            return await self._start(request, parts[1], parts[2] if len(parts) == 3 else None)
        if parts and parts[0] == "instances" and len(parts) == 2 and parts[1]:
            if method == "GET":
                return await self._status(request, parts[1])
            if method == "DELETE":
                return await self._purge(parts[1])
            return ApiResponse(404)
        if parts[:1] == ["instances"] and len(parts) == 4 and parts[2].lower() == "raiseevent":
            if method != "POST":
                return ApiResponse(404)
            return await self._raise(request, parts[1], parts[3])
        if parts and parts[0] == "instances" and len(parts) == 3 and method == "POST":
            if parts[2].lower() == "terminate":
                return await self._terminate(parts[1], request.query.get("reason"))
            return _error(501, f"devhost does not implement the '{parts[2]}' operation")
        if parts and parts[0] in ("instances", "entities"):
            return _error(501, "devhost does not implement this operation")
        return ApiResponse(404)

    async def _start(self, request: ApiRequest, name: str, instance_id: str | None) -> ApiResponse:
        text = None
        if request.body:
            try:
                text = request.body.decode("utf-8")
                json.loads(text)
            except ValueError:  # includes UnicodeDecodeError
                return _error(400, "Invalid JSON content")
        try:
            instance_id = await self._engine.start_new(name, instance_id or None, text)
        except (UnknownFunction, InvalidInstanceId) as exc:
            return _error(400, "One or more of the arguments submitted is incorrect", str(exc))
        except InstanceExists as exc:
            return ApiResponse(
                500,
                {
                    "Message": "Something went wrong while processing your request",
                    "ExceptionMessage": str(exc),
                    "ExceptionType": ALREADY_EXISTS_TYPE,
                },
            )
        except StorageError as exc:
            log.error("start of %s failed: %s", name, exc)
            return _error(500, "The orchestration could not be started: its checkpoint failed")
        payload = self._urls.payload(instance_id)
        payload.pop("rewindPostUri")
        return ApiResponse(
            202,
            payload,
            {"Location": payload["statusQueryGetUri"], "Retry-After": RETRY_AFTER_CHECK},
        )

    async def _status(self, request: ApiRequest, instance_id: str) -> ApiResponse:
        query = request.query
        show_history = _flag(query, "showHistory", False)
        view = await self._engine.status(instance_id, with_history=show_history)
        if view is None:
            return ApiResponse(404)
        body = status_payload(
            view,
            show_input=_flag(query, "showInput", True),
            show_history=show_history,
            show_history_output=_flag(query, "showHistoryOutput", False),
        )
        if view.status in (RuntimeStatus.PENDING, RuntimeStatus.RUNNING):
            return ApiResponse(
                202, body, {"Location": request.url, "Retry-After": RETRY_AFTER_STATUS}
            )
        if view.status == RuntimeStatus.FAILED and _flag(
            query, "returnInternalServerErrorOnFailure", False
        ):
            return ApiResponse(500, body)
        return ApiResponse(200, body)

    async def _terminate(self, instance_id: str, reason: str | None) -> ApiResponse:
        outcome = await self._engine.terminate(instance_id, reason)
        return ApiResponse(
            {
                TerminateOutcome.ACCEPTED: 202,
                TerminateOutcome.NOT_FOUND: 404,
                TerminateOutcome.GONE: 410,
            }[outcome]
        )

    async def _raise(self, request: ApiRequest, instance_id: str, name: str) -> ApiResponse:
        view = await self._engine.status(instance_id, with_history=False)
        if view is None:
            return ApiResponse(404)
        if view.status.is_terminal:
            return ApiResponse(410)
        if request.content_type.lower() != "application/json":
            return _error(400, "Only application/json request content is supported")
        try:
            data = event_input(request.body.decode("utf-8"))
        except ValueError as exc:  # includes UnicodeDecodeError
            return _error(400, "Invalid JSON content", str(exc))
        outcome = await self._engine.raise_event(instance_id, name, data)
        if outcome == RaiseOutcome.NOT_STORED:
            return _error(500, "The event could not be stored: its checkpoint failed")
        return ApiResponse(
            {RaiseOutcome.ACCEPTED: 202, RaiseOutcome.NOT_FOUND: 404, RaiseOutcome.GONE: 410}[
                outcome
            ]
        )

    async def _purge(self, instance_id: str) -> ApiResponse:
        outcome = await self._engine.purge(instance_id)
        if outcome == PurgeOutcome.PURGED:
            return ApiResponse(200, {"instancesDeleted": 1})
        return ApiResponse(404)
