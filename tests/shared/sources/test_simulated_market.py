"""The simulated provider: deterministic per ticker, plausible, and honest about latency."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from shared.domain.metrics import compute_metrics
from shared.errors import UnknownTicker
from shared.sources.market import MarketDataProvider, SimulatedMarketData

NOW = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)  # a Saturday
REPO = Path(__file__).resolve().parents[3]

# Changing the generator changes these: update them on purpose, and say so in review.
FINGERPRINTS = {
    "AAPL": [524.63, 505.64, 500.14],
    "SPY": [487.3, 490.97, 490.75],
}


@pytest.fixture
def market() -> SimulatedMarketData:
    return SimulatedMarketData(now=NOW)


def realized_vol(closes: list[float]) -> float:
    return float(np.std(np.diff(closes) / np.array(closes[:-1]), ddof=1) * np.sqrt(252))


def test_is_a_market_data_provider(market: SimulatedMarketData) -> None:
    provider: MarketDataProvider = market
    assert provider.name == "simulated"


@pytest.mark.parametrize("ticker", sorted(FINGERPRINTS))
def test_fingerprint(market: SimulatedMarketData, ticker: str) -> None:
    snap = market.fetch(ticker)
    assert snap.series is not None
    assert [round(c, 2) for c in snap.series.closes[:3]] == FINGERPRINTS[ticker]


def test_same_ticker_same_snapshot(market: SimulatedMarketData) -> None:
    first = market.fetch("MSFT")
    assert market.fetch("MSFT") == first
    assert SimulatedMarketData(now=NOW).fetch("msft") == first  # seeded on the upper-cased symbol


def test_same_snapshot_in_another_process(market: SimulatedMarketData) -> None:
    code = (
        "from datetime import datetime, UTC\n"
        "from shared.sources.market import SimulatedMarketData\n"
        "now = datetime(2025, 6, 14, 12, 0, tzinfo=UTC)\n"
        "print(SimulatedMarketData(now=now).fetch('NVDA').model_dump_json())\n"
    )
    # A different hash seed proves nothing depends on Python's hash().
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
        check=True, timeout=60,
    )
    assert out.stdout.strip() == market.fetch("NVDA").model_dump_json()


def test_different_tickers_differ(market: SimulatedMarketData) -> None:
    tickers = ["AAPL", "MSFT", "NVDA", "BRK.B", "X"]
    series = [market.fetch(t).series for t in tickers]
    closes = {tuple(s.closes) for s in series if s is not None}
    assert len(closes) == len(tickers)


def test_spy_is_calmer_than_stocks(market: SimulatedMarketData) -> None:
    spy = market.fetch("SPY")
    assert spy.series is not None and spy.beta == 1.0
    spy_vol = realized_vol(spy.series.closes)
    for ticker in ["AAPL", "MSFT", "NVDA", "BRK.B", "X", "TSLA"]:
        snap = market.fetch(ticker)
        assert snap.series is not None
        assert snap.series.closes != spy.series.closes
        assert realized_vol(snap.series.closes) > spy_vol


def test_a_year_of_weekdays(market: SimulatedMarketData) -> None:
    snap = market.fetch("AAPL")
    assert snap.series is not None
    dates = snap.series.dates
    assert len(dates) == len(snap.series.closes) == 253
    assert all(d.weekday() < 5 for d in dates)
    assert dates[-1] == date(2025, 6, 13)  # the Friday before Saturday's `now`
    assert len(set(np.busday_count(dates[:-1], dates[1:]))) == 1  # consecutive weekdays
    assert snap.as_of == datetime(2025, 6, 13, tzinfo=UTC)


def test_end_date_is_now_on_a_weekday() -> None:
    snap = SimulatedMarketData(now=datetime(2025, 6, 11, 8, tzinfo=UTC)).fetch("AAPL")
    assert snap.series is not None and snap.series.dates[-1] == date(2025, 6, 11)


def test_fundamentals_agree_with_the_series(market: SimulatedMarketData) -> None:
    snap = market.fetch("AAPL")
    assert snap.series is not None
    closes = snap.series.closes
    assert snap.simulated is True
    assert snap.source == snap.series.source == "simulated"
    assert snap.price == closes[-1]
    assert snap.fifty_two_week_high == max(closes)
    assert snap.fifty_two_week_low == min(closes)
    assert snap.trailing_pe is not None and snap.trailing_eps is not None
    assert snap.trailing_eps == pytest.approx(snap.price / snap.trailing_pe, rel=1e-4)
    assert snap.market_cap is not None and snap.market_cap > 0
    assert snap.beta is not None and 0.5 <= snap.beta <= 2.0


def test_metrics_from_simulated_data(market: SimulatedMarketData) -> None:
    snap, spy = market.fetch("AAPL"), market.fetch("SPY")
    metrics = {m.id: m for m in compute_metrics(snap, spy)}
    assert snap.series is not None
    # A simulated year has 253 closes, enough for every metric including 1y returns.
    for metric_id, metric in metrics.items():
        assert metric.value is not None, (metric_id, metric.missing_reason)
    # The stock's walk loads on SPY's shocks with its reported beta.
    assert metrics["beta_1y"].value == pytest.approx(snap.beta, abs=0.35)


def test_latency_is_honoured() -> None:
    market = SimulatedMarketData(latency_ms=50, now=NOW)
    started = time.perf_counter()
    market.fetch("AAPL")
    assert time.perf_counter() - started >= 0.045


@pytest.mark.parametrize("symbol", ["ZZZZ", "zzzz", "ZZZZ1", "ZZZZ.X"])
def test_zzzz_is_unknown(market: SimulatedMarketData, symbol: str) -> None:
    with pytest.raises(UnknownTicker) as caught:
        market.fetch(symbol)
    assert caught.value.code == "unknown_ticker"


def test_default_now_is_today(market: SimulatedMarketData) -> None:
    snap = SimulatedMarketData().fetch("AAPL")
    assert snap.series is not None
    today = datetime.now(UTC).date()
    assert 0 <= (today - snap.series.dates[-1]).days <= 2
    assert snap.series.closes == market.fetch("AAPL").series.closes  # type: ignore[union-attr]
