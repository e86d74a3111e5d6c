"""GET /api/prices/{symbol}?start=YYYY-MM-DD&end=YYYY-MM-DD: the configured market data
provider's daily closes over a range (`shared/sources/market/closes.py`), what the backtest and
the track record score verdicts against.

- `start` and `end` are optional (the provider's first and last close); a malformed one, or
  `start` after `end`, answers 400 `invalid_query` with the `field` and the `value` as sent.
- The symbol follows the ticker rule (else 400 `invalid_ticker`); one the provider does not know
  answers 404 `unknown_ticker`, the code a job fails with for it (the resource is absent, and
  the code says why, so a caller tells it from a wrong URL's `not_found`).
- `SPY` (BENCHMARK_SYMBOL) answers the provider's benchmark: with the history sample, the S&P
  500 index (`symbol` SP500, `name` "S&P 500 index", `benchmark` true).
- With the simulated provider the answer is its deterministic series, `simulated: true`, at most
  the year ending at `end`.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date

import azure.durable_functions as df
import azure.functions as func

from api.responses import error_boundary, error_response, json_response
from shared.domain.models import normalize_ticker
from shared.errors import InvalidQuery, InvalidTicker, UnknownTicker
from shared.settings import get_settings
from shared.sources.market.closes import closes_source

bp = df.Blueprint()

DATE_RULE = "YYYY-MM-DD"
EARLIEST = date(1900, 1, 1)
LATEST = date(9999, 12, 31)


def parse_day(raw: str | None, field: str, default: date) -> date:
    if raw is None:
        return default
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            pass
    raise InvalidQuery(f"{field} must be a date, {DATE_RULE}", field=field, value=raw[:40])


def parse_range(start: str | None, end: str | None) -> tuple[date, date]:
    first = parse_day(start, "start", EARLIEST)
    last = parse_day(end, "end", LATEST)
    if first > last:
        raise InvalidQuery(f"start {first} is after end {last}", field="end", value=end)
    return first, last


@bp.route(route="prices/{symbol}", methods=["GET"])
@error_boundary
async def prices(req: func.HttpRequest) -> func.HttpResponse:
    raw = req.route_params.get("symbol", "")
    try:
        symbol = normalize_ticker(raw)
    except ValueError as exc:
        raise InvalidTicker(str(exc), field="symbol", value=raw[:40]) from exc
    start, end = parse_range(req.params.get("start"), req.params.get("end"))
    source = closes_source(get_settings())
    try:
        history = await asyncio.to_thread(source.closes, symbol, start, end)
    except UnknownTicker as exc:
        return error_response(exc.code, exc.message, 404, field="symbol", value=symbol)
    return json_response(history)
