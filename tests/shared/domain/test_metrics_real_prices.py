"""Every metric on real prices: `compute_metrics` over the history provider's snapshots equals
an independent pandas/numpy computation straight from the raw sample file (skfolio's wheel),
for three tickers at three dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from devhost.azurite import Azurite
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.domain.metrics import METRIC_IDS, compute_metrics
from shared.sources.market.history import NOT_STORED, HistoryMarketData
from shared.store.prices import PriceStore
from tests.price_sample import load_sample, prices_container, raw_closes

TICKERS = ("AAPL", "JPM", "XOM")
DATES = (date(2008, 10, 10), date(2015, 7, 4), date(2022, 12, 28))
WINDOWS = {"1m": 21, "3m": 63, "6m": 126, "1y": 252}


@pytest.fixture(scope="module")
def provider(azurite: Azurite) -> HistoryMarketData:
    load_sample(azurite.connection_string)
    return HistoryMarketData(PriceStore(prices_container(azurite.connection_string)))


def expected(ticker: str, as_of: date) -> dict[str, float | None]:
    """The metrics from the raw file, by pandas and numpy, as the module docstring of
    shared/domain/metrics.py defines them (None: not in the price store)."""
    raw = raw_closes()
    upto = raw[raw.index <= pd.Timestamp(as_of)]
    stock = upto[ticker].dropna()
    index = upto["SP500"].dropna()
    year = stock.iloc[-253:]  # 252 daily returns
    price, high, low = stock.iloc[-1], year.max(), year.min()
    values: dict[str, float | None] = {
        "price": price, "market_cap": None, "pe_ratio": None, "eps": None, "beta": None,
        "week52_high": high, "week52_low": low,
        "range_position_52w": (price - low) / (high - low),
    }
    both = pd.concat([stock, index], axis=1, join="inner").iloc[-253:]
    for window, n in WINDOWS.items():
        values[f"return_{window}"] = stock.iloc[-1] / stock.iloc[-1 - n] - 1
        values[f"spy_return_{window}"] = index.iloc[-1] / index.iloc[-1 - n] - 1
        values[f"excess_return_{window}"] = (
            both[ticker].iloc[-1] / both[ticker].iloc[-1 - n]
            - both["SP500"].iloc[-1] / both["SP500"].iloc[-1 - n]
        )
    returns = year.pct_change().dropna().to_numpy()
    values["volatility_1y"] = float(np.std(returns, ddof=1) * np.sqrt(252))
    values["max_drawdown_1y"] = float((year / year.cummax() - 1).min())
    pair = both.pct_change().dropna().to_numpy()
    cov = np.cov(pair[:, 0], pair[:, 1], ddof=1)
    values["beta_1y"] = float(cov[0, 1] / cov[1, 1])
    return values


@pytest.mark.parametrize("as_of", DATES, ids=str)
@pytest.mark.parametrize("ticker", TICKERS)
def test_every_metric_equals_an_independent_computation(
    provider: HistoryMarketData, ticker: str, as_of: date
) -> None:
    snapshot = provider.fetch(ticker, as_of=as_of)
    benchmark = provider.fetch(BENCHMARK_SYMBOL, as_of=as_of)
    metrics = {m.id: m for m in compute_metrics(snapshot, benchmark)}
    want = expected(ticker, as_of)

    assert list(metrics) == list(METRIC_IDS) and set(want) == set(METRIC_IDS)
    last = raw_closes().index[raw_closes().index <= pd.Timestamp(as_of)][-1].date()
    for metric_id, value in want.items():
        metric = metrics[metric_id]
        if value is None:
            assert metric.value is None and metric.missing_reason == NOT_STORED, metric_id
            continue
        assert metric.value == pytest.approx(value, rel=1e-9, abs=1e-12), metric_id
        assert metric.as_of == datetime(last.year, last.month, last.day, tzinfo=UTC), metric_id
