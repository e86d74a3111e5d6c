"""/api/openapi.json: the OpenAPI document of the public API.

The schemas come from the pydantic models the handlers build their bodies from
(`model_json_schema`), so the document cannot drift from what the routes accept and answer.
Routes, parameters and status codes are listed here, next to the error codes each may answer.
"""

from __future__ import annotations

import functools
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode

from api.analyses import DEFAULT_PAGE, IDEMPOTENCY_HEADER, MAX_PAGE
from api.responses import base_url, error_boundary, json_response
from shared.domain.models import (
    TICKER_RULE,
    Accepted,
    AnalysisRequest,
    ErrorBody,
    HealthView,
    JobPage,
    JobView,
    ReportLink,
)
from shared.store.admission import MAX_KEY_CHARS

bp = df.Blueprint()

REF = "#/components/schemas/{model}"
JSON = "application/json"
ID_PATTERN = "^[0-9a-f]{32}$"
REQUEST_MODELS: tuple[type[BaseModel], ...] = (AnalysisRequest,)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Accepted, JobView, JobPage, ReportLink, ErrorBody, HealthView,
)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF.format(model=model.__name__)}


@functools.cache
def component_schemas() -> dict[str, Any]:
    """Every model's schema and the schemas they nest, keyed by model name."""
    schemas: dict[str, Any] = {}
    modes: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        *((model, "validation") for model in REQUEST_MODELS),
        *((model, "serialization") for model in RESPONSE_MODELS),
    ]
    for model, mode in modes:
        schema = model.model_json_schema(ref_template=REF, mode=mode)
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    return schemas


def _json(model: type[BaseModel], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(model)}}, **extra}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return _json(ErrorBody, description, **extra)


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "required": True, "schema": schema}


RETRY_AFTER = _header("Seconds to wait before asking again.", {"type": "integer", "minimum": 1})
UNAUTHENTICATED = _error(
    "`unauthenticated`: AUTH_MODE=easyauth and no App Service Authentication principal."
)
NOT_FOUND = _error("`not_found`: no such job for this caller.")
JOB_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The job id from POST /api/analyses.",
    "schema": {"type": "string", "pattern": ID_PATTERN},
}


def paths() -> dict[str, Any]:
    return {
        "/api/analyses": {
            "post": {
                "operationId": "submit_analysis",
                "summary": "Start a memo for a ticker.",
                "parameters": [
                    {
                        "name": IDEMPOTENCY_HEADER,
                        "in": "header",
                        "required": False,
                        "description": (
                            "Repeat a request safely: the same key with the same body answers "
                            "the same job; with another body, 422 `idempotency_conflict`."
                        ),
                        "schema": {
                            "type": "string",
                            "minLength": 1,
                            "maxLength": MAX_KEY_CHARS,
                            "pattern": f"^[ -~]{{1,{MAX_KEY_CHARS}}}$",
                        },
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": _ref(AnalysisRequest)}},
                },
                "responses": {
                    "202": _json(
                        Accepted,
                        "Accepted (or the job an earlier request with this key started).",
                        headers={
                            "Location": _header("The job's status URL.", {"type": "string"}),
                            "Retry-After": RETRY_AFTER,
                        },
                    ),
                    "400": _error(
                        "`invalid_body`, `invalid_ticker` or `invalid_idempotency_key`."
                    ),
                    "401": UNAUTHENTICATED,
                    "411": _error(
                        "`length_required`: a chunked body without Content-Length is not read."
                    ),
                    "413": _error("`body_too_large`: the body is over MAX_BODY_BYTES."),
                    "422": _error("`idempotency_conflict`: the key was used with another body."),
                    "429": _error(
                        "`quota_exceeded`: ANALYSES_PER_HOUR reached for this caller.",
                        headers={"Retry-After": RETRY_AFTER},
                    ),
                    "503": _error("`storage_failed`: storage is unavailable; try again."),
                },
            },
            "get": {
                "operationId": "list_analyses",
                "summary": "The caller's jobs for one ticker, newest first.",
                "parameters": [
                    {
                        "name": "ticker",
                        "in": "query",
                        "required": True,
                        "description": TICKER_RULE,
                        "schema": {"type": "string"},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PAGE,
                            "default": DEFAULT_PAGE,
                        },
                    },
                    {
                        "name": "cursor",
                        "in": "query",
                        "required": False,
                        "description": "`next_cursor` of the previous page.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": _json(JobPage, "One page of jobs."),
                    "400": _error("`invalid_ticker` or `invalid_query`."),
                    "401": UNAUTHENTICATED,
                },
            },
        },
        "/api/analyses/{id}": {
            "parameters": [JOB_ID],
            "get": {
                "operationId": "get_analysis",
                "summary": "A job's status, stage and verdict.",
                "responses": {
                    "200": _json(JobView, "The job."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "cancel_analysis",
                "summary": "Cancel a queued or running job.",
                "responses": {
                    "202": _json(JobView, "The job, now cancelled."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": _error("`not_cancellable`: the job has finished; `status` says how."),
                },
            },
        },
        "/api/analyses/{id}/report": {
            "parameters": [JOB_ID],
            "get": {
                "operationId": "get_report",
                "summary": "The memo (Markdown, or sanitised HTML with format=html), or with "
                "link=sas a short-lived read-only link.",
                "parameters": [
                    {
                        "name": "link",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["sas"]},
                    },
                    {
                        "name": "format",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["markdown", "html"]},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The memo; with link=sas, a link valid SAS_TTL_SECONDS.",
                        "content": {
                            "text/markdown": {"schema": {"type": "string"}},
                            "text/html": {"schema": {"type": "string"}},
                            JSON: {"schema": _ref(ReportLink)},
                        },
                    },
                    "400": _error("`invalid_query`: an unknown `link` or `format`."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": _error("`not_completed`: no report (yet); `status` says why."),
                },
            },
        },
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Storage reachable, and which providers are active.",
                "responses": {
                    "200": _json(HealthView, "Healthy or degraded."),
                    "503": _json(HealthView, "Storage is unreachable."),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "openapi",
                "summary": "This document.",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def document(base: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "stockmemo",
            "version": "1",
            "description": "Research memos for a stock ticker. Errors answer ErrorBody with a "
            "stable `code`; see the README for the codes.",
        },
        "servers": [{"url": base}],
        "paths": paths(),
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
        "security": [{"functionKey": []}],
    }


@bp.route(route="openapi.json", methods=["GET"])
@error_boundary
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(document(base_url(req)))
