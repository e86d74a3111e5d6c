"""GET /api/track-record?horizon=21|63: the track record of the caller's live memos, the same
statistics the backtest reports (`shared.domain.track_record.summarise`).

Which memos: the caller's completed jobs without `as_of` (a point-in-time memo belongs to a
backtest, not to the record of what we said live). They are read from the caller's job rows,
not the report-log rows: a log row holds the ticker, verdict, confidence and completion time but
not `as_of` (nor the model usage), and the job row holds all of them.

The decision date of a live memo is the UTC date it was completed: t is the last trading day on
or before it, so every close the score uses after t is one the memo could not have seen (a memo
finished after the close may have seen P[t] itself, which is the entry price, as with `as_of`).
A memo is scored once its window has passed: h closes after t exist for the ticker, and the
benchmark has closes on both days. The rest are counted as `pending` (window not passed, or the
provider has no closes for the ticker: `unpriced`), not scored.

Prices come from the configured provider (`shared/sources/market/closes.py`), the benchmark is
its answer for SPY. With the simulated provider the route answers 409 `track_record_unavailable`:
its prices are made up and re-dated for each request, so a forward return means nothing.
When any scored memo was written by a model (`usage.llm_calls > 0`) and LLM_TRAINING_CUTOFF is
set, decisions dated before that cutoff are flagged as possibly contaminated.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta

import azure.durable_functions as df
import azure.functions as func
from azure.data.tables import TableClient
from pydantic import BaseModel, Field

from api.callers import owner_of
from api.responses import error_boundary, json_response
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.domain.models import Job, JobStatus, Usage
from shared.domain.track_record import (
    HORIZONS,
    Decision,
    TrackRecord,
    forward_excess_return,
    summarise,
)
from shared.errors import InvalidQuery, TrackRecordUnavailable, UnknownTicker
from shared.settings import Settings, get_settings
from shared.sources.market.closes import ClosesSource, PriceHistory, closes_source
from shared.store.clients import analyses_table, storage_errors
from shared.store.jobs import job_from_entity
from shared.store.rows import job_rows

bp = df.Blueprint()

DEFAULT_HORIZON = 21
# Closes from a week before the first decision: t is the last trading day on or before it.
LEAD_DAYS = 7
COLUMNS = ["PartitionKey", "JobId", "Ticker", "Status", "Stage", "CreatedAt", "CompletedAt",
           "Verdict", "Confidence", "LlmCalls", "AsOf"]


class BenchmarkRef(BaseModel):
    symbol: str
    name: str | None = None


class TrackRecordView(BaseModel):
    """GET /api/track-record."""

    horizon: int = Field(description="Trading days after the decision date.")
    as_of: date = Field(description="Today (UTC): windows that ended by then are scored.")
    provider: str = Field(description="The market data provider the prices come from.")
    benchmark: BenchmarkRef
    memos: int = Field(description="The caller's completed live memos (no as_of).")
    pending: int = Field(description="Of them, not scored: the window has not passed yet, or "
                         "the prices lack a day it needs.")
    unpriced: list[str] = Field(description="Tickers the provider has no closes for.")
    model_written: int = Field(description="Scored memos written by a model (llm_calls > 0).")
    record: TrackRecord


def parse_horizon(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_HORIZON
    if raw not in {str(h) for h in HORIZONS}:
        raise InvalidQuery(
            f"horizon must be one of {', '.join(str(h) for h in HORIZONS)} (trading days)",
            field="horizon", value=raw[:40],
        )
    return int(raw)


def live_memos(jobs: Iterable[Job]) -> list[Job]:
    """Completed jobs without as_of that carry a verdict, oldest first."""
    kept = [
        j for j in jobs
        if j.status is JobStatus.COMPLETED and j.as_of is None and j.verdict is not None
        and j.confidence is not None and j.completed_at is not None
    ]
    return sorted(kept, key=lambda j: (j.completed_at or j.created_at, j.id))


def decision_date(job: Job) -> date:
    assert job.completed_at is not None
    return job.completed_at.astimezone(UTC).date()


def decisions_of(
    memos: Sequence[Job], prices: dict[str, PriceHistory], bench: PriceHistory
) -> list[Decision]:
    """Each memo as a Decision scored at every horizon (None where the window has not passed or
    a ticker has no prices)."""
    decisions = []
    for job in memos:
        assert job.verdict is not None and job.confidence is not None
        day = decision_date(job)
        series = prices.get(job.ticker)
        forward = {
            str(h): (forward_excess_return((series.dates, series.closes),
                                           (bench.dates, bench.closes), day, h)
                     if series is not None else None)
            for h in HORIZONS
        }
        decisions.append(Decision(
            ticker=job.ticker, as_of=day, job_id=job.id, verdict=job.verdict,
            confidence=job.confidence, forward_excess_return=forward,
        ))
    return decisions


def read_memos(table: TableClient, owner: str) -> list[Job]:
    query = f"PartitionKey eq @owner and {job_rows().filter} and Status eq @status"
    with storage_errors("list completed jobs for the track record"):
        entities = table.query_entities(
            query, parameters={"owner": owner, "status": JobStatus.COMPLETED.value},
            select=COLUMNS,
        )
        return live_memos(job_from_entity(e) for e in entities)


def build_track_record(
    memos: Sequence[Job], source: ClosesSource, horizon: int, today: date,
    cutoff: date | None,
) -> TrackRecordView:
    start = (min(decision_date(j) for j in memos) if memos else today) - timedelta(LEAD_DAYS)
    bench = source.closes(BENCHMARK_SYMBOL, start, today)
    prices: dict[str, PriceHistory] = {}
    unpriced: list[str] = []
    for ticker in sorted({j.ticker for j in memos}):
        try:
            prices[ticker] = source.closes(ticker, start, today)
        except UnknownTicker:
            unpriced.append(ticker)
    every = decisions_of(memos, prices, bench)
    key = str(horizon)
    scored = [d for d in every if d.forward_excess_return.get(key) is not None]
    by_id = {j.id: j for j in memos}
    model_written = sum(1 for d in scored if (by_id[d.job_id].usage or Usage()).llm_calls > 0)
    record = summarise(scored, horizon, cutoff=cutoff if model_written else None)
    return TrackRecordView(
        horizon=horizon, as_of=today, provider=source.name,
        benchmark=BenchmarkRef(symbol=bench.symbol, name=bench.name),
        memos=len(every), pending=len(every) - len(scored), unpriced=unpriced,
        model_written=model_written, record=record,
    )


def refuse_simulated(settings: Settings) -> None:
    if settings.market_data_provider == "simulated":
        raise TrackRecordUnavailable(
            "the track record needs real prices: MARKET_DATA_PROVIDER=simulated makes them up "
            "(and re-dates them for each request), so a forward return means nothing; use "
            "history or yfinance"
        )


@bp.route(route="track-record", methods=["GET"])
@error_boundary
async def track_record(req: func.HttpRequest) -> func.HttpResponse:
    settings = get_settings()
    owner = owner_of(req)
    horizon = parse_horizon(req.params.get("horizon"))
    refuse_simulated(settings)

    def build() -> TrackRecordView:
        memos = read_memos(analyses_table(), owner)
        return build_track_record(memos, closes_source(settings), horizon, datetime.now(UTC).date(),
                            settings.llm_training_cutoff)

    return json_response(await asyncio.to_thread(build))
