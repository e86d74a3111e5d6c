"""The SPY benchmark cache in Blob (`cache/benchmark/simulated/latest/SPY.json`), against the
session's Azurite.

The provider factory is the external boundary: it hands out the simulated market behind a
counter, so a test can see how often SPY was really fetched.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient, BlobServiceClient

from activities.market_data import CachedSnapshot, benchmark_blob, fetch
from devhost.azurite import Azurite
from shared.contracts import MarketRequest
from shared.domain.evidence import BENCHMARK_SYMBOL, MarketSnapshot
from shared.errors import MarketDataUnavailable
from shared.settings import CACHE_CONTAINER
from shared.sources.market.simulated import SimulatedMarketData
from shared.store.artifacts import ArtifactStore
from tests.app_env import app_settings

TTL_SECONDS = 900


class CountingMarket:
    """The simulated market, counting fetches per symbol; `failing` makes every fetch fail."""

    name = "simulated"

    def __init__(self) -> None:
        self.inner = SimulatedMarketData()
        self.calls: Counter[str] = Counter()
        self.failing = False

    def fetch(self, symbol: str) -> MarketSnapshot:
        self.calls[symbol] += 1
        if self.failing:
            raise MarketDataUnavailable(f"{symbol}: provider outage")
        return self.inner.fetch(symbol)


@pytest.fixture
def cache_blob(azurite: Azurite) -> Iterator[BlobClient]:
    """The cache entry, removed before and after each test (Azurite is shared by the session)."""
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    blob = service.get_container_client(CACHE_CONTAINER).get_blob_client(
        benchmark_blob("simulated", BENCHMARK_SYMBOL)
    )
    _delete(blob)
    yield blob
    _delete(blob)


def _delete(blob: BlobClient) -> None:
    try:
        BlobLeaseClient(blob).break_lease(lease_break_period=0)
    except (ResourceNotFoundError, HttpResponseError):
        pass  # absent, or not leased
    try:
        blob.delete_blob()
    except ResourceNotFoundError:
        pass


@pytest.fixture
def market(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, cache_blob: BlobClient
) -> Iterator[CountingMarket]:
    counting = CountingMarket()
    monkeypatch.setattr("activities.market_data.market_data_provider", lambda settings: counting)
    with app_settings(
        monkeypatch, azurite.connection_string, BENCHMARK_CACHE_SECONDS=str(TTL_SECONDS)
    ):
        yield counting


def job_fetch(symbol: str = BENCHMARK_SYMBOL, ticker: str = "MSFT") -> MarketSnapshot:
    """One job's fetch_market_data; returns what the job's work blob holds."""
    summary = fetch(MarketRequest(job_id=uuid.uuid4().hex, ticker=ticker, symbol=symbol))
    assert summary.outcome == "ok" and summary.artifact
    stored = ArtifactStore().read_model(summary.artifact, MarketSnapshot)
    assert stored is not None
    return stored


def read_entry(blob: BlobClient) -> CachedSnapshot:
    return CachedSnapshot.model_validate_json(blob.download_blob().readall())


def backdate(blob: BlobClient, seconds: float, provider: str | None = None) -> CachedSnapshot:
    entry = read_entry(blob)
    entry.fetched_at -= timedelta(seconds=seconds)
    if provider:
        entry.provider = provider
    blob.upload_blob(entry.model_dump_json().encode(), overwrite=True)
    return entry


def test_jobs_within_the_cache_window_fetch_spy_once(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    first = job_fetch()
    second = job_fetch(ticker="AAPL")

    assert market.calls[BENCHMARK_SYMBOL] == 1
    assert second == first  # the second job's work blob is the cached snapshot
    entry = read_entry(cache_blob)
    assert entry.provider == "simulated" and entry.snapshot == first
    assert timedelta(0) <= datetime.now(UTC) - entry.fetched_at < timedelta(minutes=1)


def test_tickers_are_not_cached(market: CountingMarket, cache_blob: BlobClient) -> None:
    job_fetch(symbol="MSFT")
    job_fetch(symbol="MSFT")

    assert market.calls["MSFT"] == 2
    assert not cache_blob.exists()


def test_an_expired_entry_is_fetched_again_and_replaced(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    job_fetch()
    stale = backdate(cache_blob, TTL_SECONDS + 60)

    job_fetch()

    assert market.calls[BENCHMARK_SYMBOL] == 2
    assert read_entry(cache_blob).fetched_at > stale.fetched_at + timedelta(seconds=TTL_SECONDS)


def test_an_entry_from_another_provider_is_not_used(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    job_fetch()
    backdate(cache_blob, 0, provider="yfinance")

    job_fetch()

    assert market.calls[BENCHMARK_SYMBOL] == 2
    assert read_entry(cache_blob).provider == "simulated"


def test_an_unreadable_entry_is_a_miss_and_is_replaced(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    job_fetch()
    cache_blob.upload_blob(b"{not json", overwrite=True)

    job_fetch()

    assert market.calls[BENCHMARK_SYMBOL] == 2
    assert read_entry(cache_blob).provider == "simulated"


def test_a_refused_cache_write_does_not_fail_the_job(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    job_fetch()
    stale = backdate(cache_blob, TTL_SECONDS + 60)
    lease = cache_blob.acquire_lease(lease_duration=-1)  # only the lease holder may write it

    try:
        snapshot = job_fetch()
    finally:
        lease.release()

    assert market.calls[BENCHMARK_SYMBOL] == 2
    assert snapshot.symbol == BENCHMARK_SYMBOL
    assert read_entry(cache_blob).fetched_at == stale.fetched_at  # unchanged


def test_a_failed_fetch_raises_even_with_a_stale_entry(
    market: CountingMarket, cache_blob: BlobClient
) -> None:
    job_fetch()
    backdate(cache_blob, TTL_SECONDS + 60)
    market.failing = True

    with pytest.raises(MarketDataUnavailable):
        job_fetch()


def test_a_zero_window_disables_the_cache(
    azurite: Azurite, monkeypatch: pytest.MonkeyPatch, cache_blob: BlobClient
) -> None:
    counting = CountingMarket()
    monkeypatch.setattr("activities.market_data.market_data_provider", lambda settings: counting)
    with app_settings(monkeypatch, azurite.connection_string, BENCHMARK_CACHE_SECONDS="0"):
        job_fetch()
        job_fetch()

    assert counting.calls[BENCHMARK_SYMBOL] == 2
    assert not cache_blob.exists()
