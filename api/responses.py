"""JSON responses and the error boundary shared by every route."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import azure.functions as func
from pydantic import BaseModel

from shared.domain.models import ErrorBody, ErrorDetail, JobStatus
from shared.errors import QuotaExceeded, StockMemoError

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[func.HttpResponse]]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    """`body` as JSON; a pydantic model as its own serialization says (shared/domain/models)."""
    if isinstance(body, BaseModel):
        body = body.model_dump(mode="json")
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status_code=status,
        mimetype="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(
    code: str,
    message: str,
    http_status: int,
    field: str | None = None,
    status: JobStatus | str | None = None,
    headers: dict[str, str] | None = None,
    value: str | None = None,
) -> func.HttpResponse:
    """The one error body: `ErrorBody` (its schema is in /api/openapi.json)."""
    job_status = JobStatus(status) if status is not None else None
    body = ErrorBody(
        error=ErrorDetail(
            code=code, message=message, field=field, status=job_status, value=value
        )
    )
    return json_response(body, http_status, headers)


def from_error(exc: StockMemoError) -> func.HttpResponse:
    headers = None
    if isinstance(exc, QuotaExceeded):
        headers = {"Retry-After": str(exc.retry_after)}
    return error_response(
        exc.code, exc.message, exc.http_status, exc.field, headers=headers, value=exc.value
    )


def error_boundary(handler: Handler) -> Handler:
    """Turn our errors into their JSON body and status; anything else into a plain 500."""

    @functools.wraps(handler)
    async def wrapper(*args: Any, **kwargs: Any) -> func.HttpResponse:
        try:
            return await handler(*args, **kwargs)
        except StockMemoError as exc:
            if exc.http_status >= 500:
                log.warning("%s: %s", handler.__name__, exc)
            return from_error(exc)
        except Exception:
            log.exception("%s failed", handler.__name__)
            return error_response("internal_error", "the server failed to answer", 500)

    return wrapper


def base_url(req: func.HttpRequest) -> str:
    """Scheme and host of the request, as the caller addressed us."""
    url = req.url
    scheme_end = url.find("://")
    path_start = url.find("/", scheme_end + 3) if scheme_end != -1 else -1
    return url if path_start == -1 else url[:path_start]
