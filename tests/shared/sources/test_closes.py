"""The closes over a range each provider serves (`shared/sources/market/closes.py`) beyond what
the API tests cover: yfinance through yfinance's own request and parsing code against canned
Yahoo JSON, and the simulated provider's series as a memo as of `end` sees it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from shared.errors import UnknownTicker
from shared.sources.market.closes import SimulatedCloses, YFinanceCloses
from shared.sources.market.simulated import SimulatedMarketData
from tests.shared.sources.test_yfinance_provider import add_aapl, walk
from tests.standins.yahoo_transport import FakeYahoo, isolate_yfinance

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")


@pytest.fixture
def yahoo(tmp_path_factory: pytest.TempPathFactory) -> FakeYahoo:
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    return FakeYahoo()


def test_yfinance_closes_are_the_charts_within_the_range(yahoo: FakeYahoo) -> None:
    closes = walk(300)
    days = add_aapl(yahoo, closes)
    start, end = days[100], days[160]
    history = YFinanceCloses(session=yahoo.session(), timeout=5).closes("aapl", start, end)
    assert history.symbol == "AAPL" and history.source == "yfinance"
    assert not history.simulated and not history.benchmark
    assert history.dates == days[100:161]
    assert history.closes == pytest.approx(closes[100:161])
    assert yahoo.count("chart", "AAPL") >= 1


def test_yfinance_unknown_symbol_is_unknown_ticker(yahoo: FakeYahoo) -> None:
    with pytest.raises(UnknownTicker):
        YFinanceCloses(session=yahoo.session(), timeout=5).closes(
            "NOPE", date(2025, 1, 1), date(2025, 2, 1))


def test_simulated_closes_are_the_memos_series_cut_at_start() -> None:
    end = date(2024, 6, 28)
    snapshot = SimulatedMarketData().fetch("MSFT", as_of=end)
    history = SimulatedCloses().closes("msft", date(2024, 6, 1), end)
    assert history.simulated and history.source == "simulated"
    assert snapshot.series is not None
    kept = [(d, c) for d, c in zip(snapshot.series.dates, snapshot.series.closes, strict=True)
            if d >= date(2024, 6, 1)]
    assert list(zip(history.dates, history.closes, strict=True)) == kept
