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

from api.openapi_batches import BatchSubmission, batch_paths
from api.openapi_parts import (
    BODY_TOO_LARGE,
    CURSOR,
    FORMAT,
    IDEMPOTENCY_CONFLICT,
    IDEMPOTENCY_KEY,
    JSON,
    LENGTH_REQUIRED,
    LIMIT,
    QUOTA_EXCEEDED_HEADERS,
    REF,
    STORAGE_FAILED,
    UNAUTHENTICATED,
    accepted_answer,
    document_answer,
    error,
    json_answer,
    path_id,
    ref,
)
from api.openapi_prices import price_paths
from api.openapi_watchlists import WatchlistSubmission, watchlist_paths
from api.pages import ASSETS
from api.responses import base_url, error_boundary, json_response
from api.stats import ADMIN_HEADER, DEFAULT_HOURS, MAX_HOURS, StatsView
from api.track_record import TrackRecordView
from shared.domain.batches import BatchPage, BatchView
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
from shared.domain.watchlists import CreatedWatchlist, WatchlistPage, WatchlistView
from shared.sources.market.closes import PriceHistory

bp = df.Blueprint()

REQUEST_MODELS: tuple[type[BaseModel], ...] = (
    AnalysisRequest, BatchSubmission, WatchlistSubmission,
)
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Accepted, JobView, JobPage, ReportLink, ErrorBody, HealthView, StatsView,
    BatchView, BatchPage, PriceHistory, TrackRecordView,
    WatchlistView, CreatedWatchlist, WatchlistPage,
)


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


NOT_FOUND = error("`not_found`: no such job for this caller.")
NOT_COMPLETED = error("`not_completed`: no report (yet); `status` says why.")
MISSING_FILE = error("`storage_failed`: storage is unavailable, or the stored file is missing.")
JOB_ID = path_id("The job id from POST /api/analyses.")
ANONYMOUS: list[dict[str, list[str]]] = []  # no key: the page holds no data


def analysis_paths() -> dict[str, Any]:
    return {
        "/api/analyses": {
            "post": {
                "operationId": "submit_analysis",
                "summary": "Start a memo for a ticker.",
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref(AnalysisRequest)}},
                },
                "responses": {
                    "202": accepted_answer("job"),
                    "400": error(
                        "`invalid_body`, `invalid_ticker`, `invalid_as_of` (`field` `as_of`, "
                        "`value` as sent: malformed, future or before the provider's data) or "
                        "`invalid_idempotency_key`."
                    ),
                    "401": UNAUTHENTICATED,
                    "411": LENGTH_REQUIRED,
                    "413": BODY_TOO_LARGE,
                    "422": IDEMPOTENCY_CONFLICT,
                    "429": error(
                        "`quota_exceeded`: ANALYSES_PER_HOUR reached for this caller.",
                        headers=QUOTA_EXCEEDED_HEADERS,
                    ),
                    "503": STORAGE_FAILED,
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
                    LIMIT,
                    CURSOR,
                ],
                "responses": {
                    "200": json_answer(JobPage, "One page of jobs."),
                    "400": error("`invalid_ticker` or `invalid_query`."),
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
                    "200": json_answer(JobView, "The job."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "cancel_analysis",
                "summary": "Cancel a queued or running job.",
                "responses": {
                    "202": json_answer(JobView, "The job, now cancelled."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": error("`not_cancellable`: the job has finished; `status` says how."),
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
                    FORMAT,
                ],
                "responses": {
                    "200": {
                        "description": "The memo; with link=sas, a link valid SAS_TTL_SECONDS.",
                        "content": {
                            "text/markdown": {"schema": {"type": "string"}},
                            "text/html": {"schema": {"type": "string"}},
                            JSON: {"schema": ref(ReportLink)},
                        },
                    },
                    "400": error("`invalid_query`: an unknown `link` or `format`."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": NOT_COMPLETED,
                    "503": MISSING_FILE,
                },
            },
        },
        "/api/analyses/{id}/chart.svg": {
            "parameters": [JOB_ID],
            "get": {
                "operationId": "analysis_chart",
                "summary": "The ticker against its benchmark, both rebased to 100.",
                "responses": {
                    "200": document_answer("The chart.", "image/svg+xml"),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": NOT_COMPLETED,
                    "503": MISSING_FILE,
                },
            },
        },
        "/api/analyses/{id}/evidence": {
            "parameters": [JOB_ID],
            "get": {
                "operationId": "analysis_evidence",
                "summary": "The stored evidence the memo was written from, as a download.",
                "responses": {
                    "200": {
                        "description": "evidence.json, with Content-Disposition: attachment.",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    },
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": NOT_COMPLETED,
                    "503": MISSING_FILE,
                },
            },
        },
    }


def service_paths() -> dict[str, Any]:
    return {
        "/api/stats": {
            "get": {
                "operationId": "stats",
                "summary": "Jobs and batches at a glance: the caller's, or every owner's with "
                "the admin key.",
                "parameters": [
                    {
                        "name": "hours",
                        "in": "query",
                        "required": False,
                        "description": "The window: terminal jobs completed in the last hours.",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_HOURS,
                            "default": DEFAULT_HOURS,
                        },
                    },
                    {
                        "name": ADMIN_HEADER,
                        "in": "header",
                        "required": False,
                        "description": "STATS_ADMIN_KEY: count every owner's jobs and batches.",
                        "schema": {"type": "string"},
                    },
                ],
                "responses": {
                    "200": json_answer(StatsView, "The numbers, as of the request."),
                    "400": error("`invalid_query`: a bad `hours`."),
                    "401": UNAUTHENTICATED,
                    "403": error(
                        f"`forbidden`: a wrong `{ADMIN_HEADER}`, or any while "
                        "STATS_ADMIN_KEY is unset."
                    ),
                },
            }
        },
        "/api/health": {
            "get": {
                "operationId": "health",
                "summary": "Storage reachable, and which providers are active.",
                "responses": {
                    "200": json_answer(HealthView, "Healthy or degraded."),
                    "503": json_answer(HealthView, "Storage is unreachable."),
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
        "/api/ui": {
            "get": {
                "operationId": "ui_page",
                "summary": "The analyst page (anonymous: it holds no data).",
                "security": ANONYMOUS,
                "responses": {
                    "200": document_answer("The page.", "text/html"),
                    "304": {"description": "Unchanged since the ETag sent as If-None-Match."},
                },
            }
        },
        "/api/ui/{asset}": {
            "parameters": [
                {
                    "name": "asset",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "enum": sorted(ASSETS)},
                }
            ],
            "get": {
                "operationId": "ui_asset",
                "summary": "The page's script, stylesheet and icon (anonymous).",
                "security": ANONYMOUS,
                "responses": {
                    "200": document_answer(
                        "The file.", *sorted({t.split(";")[0] for t in ASSETS.values()})
                    ),
                    "304": {"description": "Unchanged since the ETag sent as If-None-Match."},
                    "404": error("`not_found`: no such file."),
                },
            },
        },
    }


def paths() -> dict[str, Any]:
    return {
        **analysis_paths(), **batch_paths(), **price_paths(), **watchlist_paths(),
        **service_paths(),
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
