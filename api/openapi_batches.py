"""The batch routes of /api/openapi.json (`api/batches.py`), merged into the document by
`api/openapi.py`: their paths, and the request model of POST /api/batches.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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
    RETRY_AFTER,
    STORAGE_FAILED,
    UNAUTHENTICATED,
    accepted_answer,
    document_answer,
    error,
    header,
    json_answer,
    path_id,
    ref,
)
from shared.domain.as_of import AS_OF_RULE
from shared.domain.batches import MAX_BATCH_TICKERS, MIN_BATCH_TICKERS, BatchPage, BatchView
from shared.domain.models import TICKER_RULE


class BatchSubmission(BaseModel):
    """Body of POST /api/batches.

    The schema of what `shared.domain.batches.parse_tickers` accepts, for the document only:
    the count is of distinct tickers after normalising, so the list itself has no maximum
    (a repeated ticker counts once); fewer than 2 entries can never be 2 tickers.
    """

    model_config = ConfigDict(extra="forbid")

    tickers: list[str] = Field(
        min_length=MIN_BATCH_TICKERS,
        description=(
            f"{MIN_BATCH_TICKERS} to BATCH_MAX_TICKERS (default 25, at most "
            f"{MAX_BATCH_TICKERS}) distinct tickers, each {TICKER_RULE}; upper-cased, and "
            "equal ones after that count once. The batch keeps the order first given."
        ),
    )
    as_of: date | None = Field(
        default=None,
        description=(
            f"A point-in-time batch: {AS_OF_RULE}, not in the future nor before the provider's "
            "data for any of the tickers begins. Every child job carries it."
        ),
    )


NOT_FOUND = error("`not_found`: no such batch for this caller.")
NOT_COMPLETED = error(
    "`not_completed`: the batch has no comparison (yet); `status` says why."
)
MISSING_BLOB = error("`storage_failed`: storage is unavailable, or the stored file is missing.")
BATCH_ID = path_id("The batch id from POST /api/batches.")


def batch_paths() -> dict[str, Any]:
    return {
        "/api/batches": {
            "post": {
                "operationId": "submit_batch",
                "summary": "Start a memo for each of several tickers, then one comparison.",
                "description": (
                    "Admitted whole or refused whole: the batch and a job per ticker, each "
                    "counted against ANALYSES_PER_HOUR. Each ticker is an ordinary job "
                    "(`items[].id`, GET /api/analyses/{id})."
                ),
                "parameters": [IDEMPOTENCY_KEY],
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref(BatchSubmission)}},
                },
                "responses": {
                    "202": accepted_answer("batch"),
                    "400": error(
                        "`invalid_body`, `invalid_ticker` (`field` is `tickers[i]`, `value` "
                        "the ticker as sent), `invalid_batch` (fewer than 2 or more than "
                        "BATCH_MAX_TICKERS distinct tickers), `invalid_as_of` (`field` "
                        "`as_of`, `value` as sent: malformed, future or before the data) or "
                        "`invalid_idempotency_key`."
                    ),
                    "401": UNAUTHENTICATED,
                    "411": LENGTH_REQUIRED,
                    "413": BODY_TOO_LARGE,
                    "422": IDEMPOTENCY_CONFLICT,
                    "429": error(
                        "`quota_exceeded`: the batch's tickers do not all fit in what is left "
                        "of ANALYSES_PER_HOUR for this caller; nothing is written.",
                        headers=QUOTA_EXCEEDED_HEADERS,
                    ),
                    "503": STORAGE_FAILED,
                },
            },
            "get": {
                "operationId": "list_batches",
                "summary": "The caller's batches, newest first.",
                "parameters": [LIMIT, CURSOR],
                "responses": {
                    "200": json_answer(BatchPage, "One page of batches."),
                    "400": error("`invalid_query`: a bad `limit` or `cursor`."),
                    "401": UNAUTHENTICATED,
                },
            },
        },
        "/api/batches/{id}": {
            "parameters": [BATCH_ID],
            "get": {
                "operationId": "get_batch",
                "summary": "A batch: its status, each ticker's job and the counts by status.",
                "responses": {
                    "200": json_answer(
                        BatchView,
                        "The batch.",
                        headers={"Retry-After": header(
                            "While the batch is queued or running.", RETRY_AFTER["schema"],
                            required=False,
                        )},
                    ),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "cancel_batch",
                "summary": "Cancel a queued or running batch and every unfinished child; "
                "children not yet started never start.",
                "responses": {
                    "202": json_answer(BatchView, "The batch, now cancelled."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": error(
                        "`not_cancellable`: the batch has finished; `status` says how."
                    ),
                },
            },
        },
        "/api/batches/{id}/report": {
            "parameters": [BATCH_ID],
            "get": {
                "operationId": "get_batch_report",
                "summary": "The comparison memo (Markdown, or sanitised HTML with format=html).",
                "parameters": [FORMAT],
                "responses": {
                    "200": document_answer("The comparison memo.", "text/markdown", "text/html"),
                    "400": error("`invalid_query`: an unknown `format`."),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": NOT_COMPLETED,
                    "503": MISSING_BLOB,
                },
            },
        },
        "/api/batches/{id}/chart.svg": {
            "parameters": [BATCH_ID],
            "get": {
                "operationId": "get_batch_chart",
                "summary": "Every ticker and the benchmark, rebased to 100.",
                "responses": {
                    "200": document_answer("The chart.", "image/svg+xml"),
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "409": NOT_COMPLETED,
                    "503": MISSING_BLOB,
                },
            },
        },
    }
