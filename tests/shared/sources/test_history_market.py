"""MARKET_DATA_PROVIDER=history over the sample in the session's Azurite: point in time, the
S&P 500 index for the benchmark, fundamentals missing with the store's reason."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest

from activities.market_data import benchmark_blob
from devhost.azurite import Azurite
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.domain.metrics import compute_metrics
from shared.errors import ConfigurationError, UnknownTicker
from shared.settings import Settings
from shared.sources.factory import market_data_provider
from shared.sources.market.history import KEEP_CLOSES, NOT_STORED, HistoryMarketData
from shared.store.prices import PriceStore
from tests.price_sample import load_sample, prices_container, raw_closes


@pytest.fixture(scope="module")
def provider(azurite: Azurite) -> HistoryMarketData:
    load_sample(azurite.connection_string)
    return HistoryMarketData(PriceStore(prices_container(azurite.connection_string)))


def test_the_factory_names_it() -> None:
    provider = market_data_provider(Settings(MARKET_DATA_PROVIDER="history"))
    assert isinstance(provider, HistoryMarketData) and provider.name == "history"


def test_without_as_of_the_series_ends_on_the_stores_last_day(provider: HistoryMarketData) -> None:
    snapshot = provider.fetch("msft")
    assert snapshot.symbol == "MSFT" and snapshot.source.startswith("history: ")
    assert snapshot.as_of == datetime(2022, 12, 28, tzinfo=UTC) and snapshot.point_in_time is None
    assert snapshot.series is not None and len(snapshot.series.closes) == KEEP_CLOSES
    assert snapshot.series.dates[-1] == date(2022, 12, 28)
    assert snapshot.price == raw_closes()["MSFT"].iloc[-1] and snapshot.currency == "USD"
    assert not snapshot.simulated


@pytest.mark.parametrize(
    ("as_of", "last_day"),
    [
        (date(2015, 7, 4), date(2015, 7, 2)),  # a Saturday after the Independence Day holiday
        (date(2008, 10, 10), date(2008, 10, 10)),  # a trading day is its own last day
        (date(2030, 1, 1), date(2022, 12, 28)),  # after the data: its last day
    ],
)
def test_with_as_of_the_series_ends_on_the_last_trading_day_on_or_before_it(
    provider: HistoryMarketData, as_of: date, last_day: date
) -> None:
    snapshot = provider.fetch("JPM", as_of=as_of)
    assert snapshot.series is not None
    assert snapshot.series.dates[-1] == last_day and max(snapshot.series.dates) <= as_of
    assert snapshot.as_of == datetime(last_day.year, last_day.month, last_day.day, tzinfo=UTC)
    assert snapshot.point_in_time == as_of
    raw = raw_closes()["JPM"]
    assert snapshot.price == raw[raw.index <= str(as_of)].iloc[-1]
    assert len(snapshot.series.closes) == KEEP_CLOSES


def test_the_benchmark_is_the_sp500_index_named_as_such(provider: HistoryMarketData) -> None:
    snapshot = provider.fetch(BENCHMARK_SYMBOL, as_of=date(2020, 3, 16))
    assert snapshot.symbol == "SP500" and snapshot.name == "S&P 500 index"
    assert snapshot.series is not None and snapshot.series.symbol == "SP500"
    assert snapshot.series.display_name == "S&P 500 index"
    assert snapshot.series.dates[-1] == date(2020, 3, 16)
    assert provider.first_date(BENCHMARK_SYMBOL) == date(1990, 1, 2)

    ticker = provider.fetch("AAPL", as_of=date(2020, 3, 16))
    labels = {m.id: m.label for m in compute_metrics(ticker, snapshot)}
    assert labels["spy_return_1y"] == "S&P 500 index return, 1y (252 trading days)"
    assert labels["excess_return_1m"] == (
        "Excess return vs S&P 500 index, 1m (21 common trading days)"
    )
    assert labels["beta_1y"] == "Beta vs S&P 500 index, computed (252 common daily returns)"
    assert not any("SPY" in label for label in labels.values())


def test_fundamentals_the_store_does_not_hold_are_missing_with_its_reason(
    provider: HistoryMarketData,
) -> None:
    for as_of in (None, date(2019, 6, 28)):
        snapshot = provider.fetch("KO", as_of=as_of)
        metrics = {m.id: m for m in compute_metrics(snapshot, provider.fetch("SPY", as_of))}
        for metric_id in ("market_cap", "pe_ratio", "eps", "beta"):
            assert metrics[metric_id].value is None
            assert metrics[metric_id].missing_reason == NOT_STORED
        # What closes give is there: the price, the 52-week range of the year's closes.
        assert snapshot.series is not None
        year = snapshot.series.closes[-253:]
        assert metrics["price"].value == snapshot.series.closes[-1]
        assert metrics["week52_high"].value == max(year)
        assert metrics["week52_low"].value == min(year)
        assert sum(m.value is None for m in metrics.values()) == 4


def test_an_unknown_symbol_is_unknown(provider: HistoryMarketData) -> None:
    with pytest.raises(UnknownTicker, match="has no closes for NVDA") as unknown:
        provider.fetch("NVDA")
    assert unknown.value.code == "unknown_ticker"
    assert provider.first_date("NVDA") is None
    with pytest.raises(UnknownTicker, match="no close for AAPL on or before 1989-12-29"):
        provider.fetch("AAPL", as_of=date(1989, 12, 29))


def test_an_empty_store_says_how_to_load_it(azurite: Azurite) -> None:
    empty = prices_container(azurite.connection_string, f"prices-{uuid.uuid4().hex[:8]}")
    with pytest.raises(ConfigurationError, match="history load --sample"):
        HistoryMarketData(PriceStore(empty)).fetch("AAPL")


def test_the_benchmark_cache_is_keyed_by_provider_and_as_of() -> None:
    assert benchmark_blob("history", "SPY") == "benchmark/history/latest/SPY.json"
    assert benchmark_blob("history", "SPY", date(2020, 3, 16)) == (
        "benchmark/history/2020-03-16/SPY.json"
    )
    assert benchmark_blob("simulated", "SPY") != benchmark_blob("history", "SPY")
