"""The watchlist routes of /api/openapi.json (`api/watchlists.py`), merged into the document by
`api/openapi.py`: their paths, and the request model of PUT /api/watchlists/{name}.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.openapi_parts import (
    BODY_TOO_LARGE,
    JSON,
    LENGTH_REQUIRED,
    STORAGE_FAILED,
    UNAUTHENTICATED,
    error,
    json_answer,
    ref,
)
from shared.domain.models import TICKER_RULE
from shared.domain.watchlists import NAME_RULE, CreatedWatchlist, WatchlistPage, WatchlistView


class WatchlistSubmission(BaseModel):
    """Body of PUT /api/watchlists/{name} (the schema of what `parse_watchlist` accepts)."""

    model_config = ConfigDict(extra="forbid")

    tickers: list[str] = Field(
        min_length=1,
        description=f"1 to BATCH_MAX_TICKERS distinct tickers, each {TICKER_RULE}.",
    )
    schedule: str = Field(
        description="NCRONTAB with six fields, seconds first, UTC (e.g. `0 30 21 * * 1-5`); "
        "no two runs closer than WATCHLIST_MIN_INTERVAL_SECONDS (default 3600).",
    )
    webhook_url: str | None = Field(
        default=None,
        description="Where each completed run is POSTed, signed: `https` to a host resolving "
        "only to global addresses.",
    )


NAME = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": f"The watchlist's name: {NAME_RULE}.",
    "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,40}$"},
}
NOT_FOUND = error("`not_found`: no such watchlist for this caller.")
BAD_NAME = error("`invalid_watchlist`: the name is not " + NAME_RULE + ".")


def watchlist_paths() -> dict[str, Any]:
    return {
        "/api/watchlists": {
            "get": {
                "operationId": "list_watchlists",
                "summary": "The caller's watchlists by name, with their last runs.",
                "responses": {
                    "200": json_answer(WatchlistPage, "Every watchlist of the caller."),
                    "401": UNAUTHENTICATED,
                },
            },
        },
        "/api/watchlists/{name}": {
            "parameters": [NAME],
            "put": {
                "operationId": "put_watchlist",
                "summary": "Create or replace a watchlist: its tickers run as a batch on its "
                "schedule.",
                "description": "The answer that creates it (201) carries `webhook_secret`, "
                "once; replacing it (200) keeps the secret and the runs.",
                "requestBody": {
                    "required": True,
                    "content": {JSON: {"schema": ref(WatchlistSubmission)}},
                },
                "responses": {
                    "200": json_answer(WatchlistView, "Replaced."),
                    "201": json_answer(CreatedWatchlist, "Created."),
                    "400": error(
                        "`invalid_body`, `invalid_watchlist` (the name, or not 1 to "
                        "BATCH_MAX_TICKERS tickers), `invalid_ticker`, `invalid_schedule` "
                        "(not six-field NCRONTAB, or more often than "
                        "WATCHLIST_MIN_INTERVAL_SECONDS) or `invalid_webhook_url`; nothing is "
                        "written."
                    ),
                    "401": UNAUTHENTICATED,
                    "411": LENGTH_REQUIRED,
                    "413": BODY_TOO_LARGE,
                    "503": STORAGE_FAILED,
                },
            },
            "get": {
                "operationId": "get_watchlist",
                "summary": "A watchlist: tickers, schedule, next run and its last runs (batch "
                "ids, changes, notification outcomes); never its secret.",
                "responses": {
                    "200": json_answer(WatchlistView, "The watchlist."),
                    "400": BAD_NAME,
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                },
            },
            "delete": {
                "operationId": "delete_watchlist",
                "summary": "Stop and remove a watchlist: its orchestration is terminated and "
                "its running batch cancelled; no webhook attempt starts after this answers.",
                "responses": {
                    "204": {"description": "Removed."},
                    "400": BAD_NAME,
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                },
            },
        },
        "/api/watchlists/{name}/run": {
            "parameters": [NAME],
            "post": {
                "operationId": "run_watchlist_now",
                "summary": "Run the watchlist now (its schedule is unchanged).",
                "responses": {
                    "202": json_answer(WatchlistView, "The run is on its way."),
                    "400": BAD_NAME,
                    "401": UNAUTHENTICATED,
                    "404": NOT_FOUND,
                    "503": STORAGE_FAILED,
                },
            },
        },
    }
