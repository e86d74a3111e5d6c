"""Fetch one symbol's market snapshot (the ticker or SPY) and keep it as a work blob.

The SPY benchmark is the same for every job, so its snapshot is also cached in the private
`cache` container (`benchmark/{provider}/{as_of or "latest"}/SPY.json`, keyed by what answers it:
the history provider answers SPY with the S&P 500 index) for BENCHMARK_CACHE_SECONDS and shared
by concurrent jobs. The cache is an optimisation, never a reason to fail: a read or write that
fails is logged and the job fetches (a failed fetch still raises). Concurrent refreshes are
guarded by ETag, so an entry is only replaced by a job that read it; the loser keeps its own
snapshot.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import azure.durable_functions as df
from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobClient, ContentSettings
from pydantic import BaseModel, ValidationError

from shared import names, telemetry
from shared.contracts import MarketRequest, MarketSummary
from shared.domain.evidence import BENCHMARK_SYMBOL, MarketSnapshot
from shared.errors import StockMemoError, UnknownTicker
from shared.settings import Settings, get_settings
from shared.sources.factory import market_data_provider
from shared.sources.market.base import MarketDataProvider
from shared.store.artifacts import ArtifactStore, work_blob
from shared.store.clients import cache_container

bp = df.Blueprint()
log = logging.getLogger(__name__)


class CachedSnapshot(BaseModel):
    """A benchmark snapshot, the provider that fetched it, and when (the cache's clock)."""

    provider: str
    fetched_at: datetime
    snapshot: MarketSnapshot


def benchmark_blob(provider: str, symbol: str, as_of: date | None = None) -> str:
    """The cache entry of one provider's benchmark, latest or as of a day."""
    return f"benchmark/{provider}/{as_of.isoformat() if as_of else 'latest'}/{symbol}.json"


def fetch(request: MarketRequest) -> MarketSummary:
    """Unknown symbols are a typed outcome; transient failures raise so Durable retries."""
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, f"market_{request.symbol}")
    stored = artifacts.read_model(name, MarketSnapshot)
    if stored is None:
        settings = get_settings()
        provider = market_data_provider(settings)
        try:
            if request.symbol == BENCHMARK_SYMBOL:
                snapshot = _benchmark(provider, settings, request)
            else:
                snapshot = _fetch(provider, request.symbol, request.as_of)
        except UnknownTicker as exc:
            log.info("job %s: %s unknown to %s", request.job_id, request.symbol, provider.name)
            return MarketSummary(
                outcome="unknown_ticker",
                symbol=request.symbol,
                source=provider.name,
                message=exc.message,
            )
        stored = artifacts.write_model_once(name, snapshot)
    return MarketSummary(outcome="ok", symbol=request.symbol, source=stored.source, artifact=name)


def _fetch(provider: MarketDataProvider, symbol: str, as_of: date | None) -> MarketSnapshot:
    """The provider's snapshot of `symbol` (as of `as_of`, when given), traced as one external
    call. Kept as the provider gave it: the look-ahead guard runs where the snapshots are read
    (run_quant_analyst), so a leak in the benchmark fails the job too instead of becoming a
    benchmark gap."""
    with telemetry.external_span(
        "market_data fetch", provider.name, {"stockmemo.symbol": symbol}
    ):
        return provider.fetch(symbol, as_of) if as_of is not None else provider.fetch(symbol)


def _benchmark(
    provider: MarketDataProvider, settings: Settings, request: MarketRequest
) -> MarketSnapshot:
    """The cached benchmark snapshot while fresh, else a new fetch that refreshes the cache."""
    ttl = timedelta(seconds=settings.benchmark_cache_seconds)
    if ttl <= timedelta(0):
        return _fetch(provider, request.symbol, request.as_of)
    blob = _cache_blob(provider.name, request.symbol, request.as_of, request.job_id)
    cached, etag = _read_cache(blob, request.job_id)
    if cached is not None and cached.provider == provider.name:
        age = datetime.now(UTC) - cached.fetched_at
        if timedelta(0) <= age < ttl:
            log.info(
                "job %s: %s from the benchmark cache (%.0f s old)",
                request.job_id, request.symbol, age.total_seconds(),
            )
            return cached.snapshot
    snapshot = _fetch(provider, request.symbol, request.as_of)
    entry = CachedSnapshot(provider=provider.name, fetched_at=datetime.now(UTC), snapshot=snapshot)
    if blob is not None:
        _write_cache(blob, entry, etag, request.job_id)
    return snapshot


def _cache_blob(
    provider: str, symbol: str, as_of: date | None, job_id: str
) -> BlobClient | None:
    try:
        return cache_container().get_blob_client(benchmark_blob(provider, symbol, as_of))
    except (AzureError, StockMemoError) as exc:
        log.warning("job %s: benchmark cache unavailable (%s)", job_id, type(exc).__name__)
        return None


def _read_cache(blob: BlobClient | None, job_id: str) -> tuple[CachedSnapshot | None, str | None]:
    """(entry, etag); (None, None) when there is no entry, (None, etag) when it is unreadable."""
    if blob is None:
        return None, None
    try:
        download = blob.download_blob()
        data, etag = download.readall(), download.properties.etag
    except ResourceNotFoundError:
        return None, None
    except (AzureError, StockMemoError) as exc:
        log.warning("job %s: benchmark cache read failed (%s)", job_id, type(exc).__name__)
        return None, None
    try:
        return CachedSnapshot.model_validate_json(data), etag
    except ValidationError:
        log.warning("job %s: benchmark cache entry %s is unreadable", job_id, blob.blob_name)
        return None, etag


def _write_cache(blob: BlobClient, entry: CachedSnapshot, etag: str | None, job_id: str) -> None:
    """Create the entry, or replace the one read (ETag); a concurrent refresh wins."""
    conditions: dict[str, Any] = (
        {"overwrite": True, "etag": etag, "match_condition": MatchConditions.IfNotModified}
        if etag else {"overwrite": False}
    )
    try:
        blob.upload_blob(
            entry.model_dump_json().encode("utf-8"),
            content_settings=ContentSettings(content_type="application/json; charset=utf-8"),
            **conditions,
        )
    except (ResourceExistsError, ResourceModifiedError):
        log.info("job %s: another job refreshed the benchmark cache first", job_id)
    except (AzureError, StockMemoError) as exc:
        log.warning("job %s: benchmark cache write failed (%s)", job_id, type(exc).__name__)


@bp.activity_trigger(input_name="payload", activity=names.FETCH_MARKET_DATA)
def fetch_market_data(payload: dict) -> dict[str, Any]:
    request = MarketRequest.model_validate(payload)
    with telemetry.activity_span(
        names.FETCH_MARKET_DATA, request.job_id, request.ticker
    ) as activity:
        activity.span.set_attribute("stockmemo.symbol", request.symbol)
        summary = fetch(request)
        activity.outcome = summary.outcome  # unknown_ticker is a typed outcome, not an error
        return summary.model_dump(mode="json")
