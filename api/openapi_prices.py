"""The paths of /api/openapi.json for the prices and the track record
(`api/prices.py`, `api/track_record.py`)."""

from __future__ import annotations

from typing import Any

from api.openapi_parts import UNAUTHENTICATED, error, json_answer
from api.track_record import DEFAULT_HORIZON, TrackRecordView
from shared.domain.models import TICKER_RULE
from shared.domain.track_record import HORIZONS
from shared.sources.market.closes import PriceHistory

DAY = {"type": "string", "format": "date"}
MARKET_FAILED = error("`market_data_unavailable`: the provider failed; try again.")


def price_paths() -> dict[str, Any]:
    return {
        "/api/prices/{symbol}": {
            "parameters": [{
                "name": "symbol",
                "in": "path",
                "required": True,
                "description": f"{TICKER_RULE}. SPY answers the provider's benchmark (with the "
                "history sample, the S&P 500 index).",
                "schema": {"type": "string"},
            }],
            "get": {
                "operationId": "prices",
                "summary": "The configured market data provider's daily closes over a range.",
                "parameters": [
                    {"name": "start", "in": "query", "required": False, "schema": DAY,
                     "description": "First day (YYYY-MM-DD), included; default: the first."},
                    {"name": "end", "in": "query", "required": False, "schema": DAY,
                     "description": "Last day (YYYY-MM-DD), included; default: the last."},
                ],
                "responses": {
                    "200": json_answer(PriceHistory, "The closes, oldest first (`simulated` "
                                       "true for made-up prices)."),
                    "400": error("`invalid_query` (`field` start or end, `value` as sent: not "
                                 "YYYY-MM-DD, or start after end) or `invalid_ticker`."),
                    "401": UNAUTHENTICATED,
                    "404": error("`unknown_ticker`: the provider has no closes for the symbol."),
                    "500": error("`configuration_error`: the history provider's store is "
                                 "empty."),
                    "502": MARKET_FAILED,
                },
            },
        },
        "/api/track-record": {
            "get": {
                "operationId": "track_record",
                "summary": "The track record of the caller's live memos (no as_of) whose "
                "forward window has passed: hit rates, IC, long-short spread, calibration.",
                "parameters": [{
                    "name": "horizon", "in": "query", "required": False,
                    "description": "Trading days after each memo's completion date.",
                    "schema": {"type": "integer", "enum": list(HORIZONS),
                               "default": DEFAULT_HORIZON},
                }],
                "responses": {
                    "200": json_answer(TrackRecordView, "The statistics, as of today."),
                    "400": error("`invalid_query`: a `horizon` other than 21 or 63."),
                    "401": UNAUTHENTICATED,
                    "409": error("`track_record_unavailable`: MARKET_DATA_PROVIDER=simulated, "
                                 "whose prices are made up."),
                    "502": MARKET_FAILED,
                    "503": error("`storage_failed`: storage is unavailable; try again."),
                },
            }
        },
    }
