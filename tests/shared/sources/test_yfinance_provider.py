"""YFinanceMarketData through yfinance's real request and parsing code, against canned Yahoo JSON.

No network: the session handed to yfinance routes every request to `FakeYahoo`.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from yfinance.exceptions import YFRateLimitError

from shared.errors import MarketDataUnavailable, UnknownTicker
from shared.sources.market.yfinance_provider import KEEP_CLOSES, YFinanceMarketData
from tests.standins.yahoo_transport import FakeYahoo, chart_body, fixture, isolate_yfinance

# yfinance 1.7 still calls pandas methods with inplace=True, which pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

LAST_DAY = date(2025, 11, 26)
MARKET_TIME = datetime(2025, 11, 26, 21, 0, tzinfo=UTC)  # regularMarketTime in the fixtures


@pytest.fixture
def yahoo(tmp_path_factory: pytest.TempPathFactory) -> FakeYahoo:
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    return FakeYahoo()


def weekdays(count: int, last: date = LAST_DAY) -> list[date]:
    days: list[date] = []
    day = last
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def walk(count: int) -> list[float | None]:
    return [round(200 + 50 * math.sin(i / 40) + i * 0.1, 2) for i in range(count)]


def add_aapl(
    yahoo: FakeYahoo,
    closes: list[float | None] | None = None,
    summary: dict[str, Any] | None = None,
    quote: dict[str, Any] | None = None,
) -> list[date]:
    closes = closes if closes is not None else walk(300)
    days = weekdays(len(closes))
    yahoo.add(
        "AAPL",
        quoteSummary=summary or fixture("quote_summary_AAPL.json"),
        quote=quote or fixture("quote_AAPL.json"),
        chart=chart_body(fixture("chart_meta_AAPL.json"), days, closes),
    )
    return days


def provider(yahoo: FakeYahoo) -> YFinanceMarketData:
    return YFinanceMarketData(session=yahoo.session(), timeout=5)


def test_complete_data_maps_every_field_and_keeps_a_year_of_closes(yahoo: FakeYahoo) -> None:
    closes = walk(300)
    days = add_aapl(yahoo, closes)

    snapshot = provider(yahoo).fetch("aapl")

    assert snapshot.symbol == "AAPL"
    assert snapshot.source == "yfinance" and not snapshot.simulated
    assert snapshot.name == "Apple Inc."
    assert snapshot.currency == "USD"
    assert snapshot.price == 277.55
    assert snapshot.market_cap == 4101203394560
    assert snapshot.trailing_pe == 37.21
    assert snapshot.trailing_eps == 7.46
    assert snapshot.beta == 1.094
    assert snapshot.fifty_two_week_high == 280.38
    assert snapshot.fifty_two_week_low == 169.21
    assert snapshot.as_of == MARKET_TIME
    series = snapshot.series
    assert series is not None and series.source == "yfinance"
    assert len(series.closes) == KEEP_CLOSES >= 253
    assert series.dates == days[-KEEP_CLOSES:]
    assert series.closes == pytest.approx(closes[-KEEP_CLOSES:])
    assert all(isinstance(d, date) and not isinstance(d, datetime) for d in series.dates)
    assert yahoo.count("quoteSummary") == 1 and yahoo.count("quote") == 1


def test_missing_fields_are_none_never_nan_or_zero(yahoo: FakeYahoo) -> None:
    summary = fixture("quote_summary_AAPL.json")
    modules = summary["quoteSummary"]["result"][0]
    for module in ("summaryDetail", "defaultKeyStatistics"):
        for key in ("trailingPE", "beta"):
            modules[module].pop(key, None)
    modules["summaryDetail"]["marketCap"] = 0
    modules["defaultKeyStatistics"]["trailingEps"] = "Infinity"
    del modules["financialData"]["currentPrice"]
    quote = fixture("quote_AAPL.json")
    fields = quote["quoteResponse"]["result"][0]
    for key in ("trailingPE", "epsTrailingTwelveMonths", "regularMarketTime"):
        del fields[key]
    fields["marketCap"] = 0
    add_aapl(yahoo, summary=summary, quote=quote)

    snapshot = provider(yahoo).fetch("AAPL")

    assert snapshot.trailing_pe is None
    assert snapshot.beta is None
    assert snapshot.market_cap is None  # Yahoo's 0 means it has no value
    assert snapshot.trailing_eps is None
    assert snapshot.price == 277.55  # from regularMarketPrice when currentPrice is missing
    assert snapshot.as_of == datetime(2025, 11, 26, tzinfo=UTC)  # the last close's date


def test_quote_not_found_is_an_unknown_ticker(yahoo: FakeYahoo) -> None:
    with pytest.raises(UnknownTicker) as raised:
        provider(yahoo).fetch("ZZZZ")

    assert raised.value.code == "unknown_ticker"
    assert yahoo.count("quoteSummary") >= 1
    assert yahoo.count("chart") == 0  # decided before any history is asked for


def test_no_price_and_no_history_is_an_unknown_ticker(yahoo: FakeYahoo) -> None:
    yahoo.add("QQQQX", quoteSummary={"quoteSummary": {"result": [], "error": None}})

    with pytest.raises(UnknownTicker):
        provider(yahoo).fetch("QQQQX")

    assert yahoo.count("chart") >= 1


def test_rate_limit_is_transient(yahoo: FakeYahoo) -> None:
    add_aapl(yahoo)
    yahoo.fail("quoteSummary", status=429, body="Too Many Requests")

    with pytest.raises(MarketDataUnavailable) as raised:
        provider(yahoo).fetch("AAPL")

    assert isinstance(raised.value.__cause__, YFRateLimitError)
    assert "429" in raised.value.message


@pytest.mark.parametrize(
    ("route", "status", "body", "error", "said"),
    [
        ("quoteSummary", 500, "<html>oops</html>", None, "HTTP 500"),
        ("quoteSummary", 0, "", requests.ConnectionError("connection refused"), "ConnectionError"),
        ("chart", 0, "", requests.ReadTimeout("read timed out"), "ReadTimeout"),
        ("chart", 503, "<html>Will be right back</html>", None, "CURRENTLY DOWN"),
        ("chart", 429, "Too Many Requests", None, "429"),
        ("chart", 500, {"chart": {"result": None, "error": {
            "code": "Internal Server Error", "description": "Internal error"}}}, None,
         "Internal error"),
    ],
)
def test_outages_are_transient(
    yahoo: FakeYahoo, route: str, status: int, body: Any, error: Exception | None, said: str
) -> None:
    add_aapl(yahoo)
    yahoo.fail(route, status=status, body=body, error=error)

    with pytest.raises(MarketDataUnavailable) as raised:
        provider(yahoo).fetch("AAPL")

    assert said in raised.value.message
    assert raised.value.__cause__ is not None


def test_known_quote_without_history_has_no_series(yahoo: FakeYahoo) -> None:
    add_aapl(yahoo, closes=[])

    snapshot = provider(yahoo).fetch("AAPL")

    assert snapshot.series is None
    assert snapshot.price == 277.55
    assert snapshot.as_of == MARKET_TIME


def test_nan_and_non_positive_closes_are_dropped(yahoo: FakeYahoo) -> None:
    closes = walk(300)
    bad = {299 - 3, 299 - 10, 299 - 100}
    for i in bad:
        closes[i] = None
    closes[299 - 20] = 0.0
    days = add_aapl(yahoo, closes)

    series = provider(yahoo).fetch("AAPL").series

    assert series is not None
    dropped = {days[i] for i in bad} | {days[299 - 20]}
    assert not dropped & set(series.dates)
    assert all(math.isfinite(c) and c > 0 for c in series.closes)
    assert len(series.closes) == KEEP_CLOSES
    assert series.dates[-1] == LAST_DAY


def test_each_provider_reads_through_its_own_session_despite_the_singleton(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    fakes = [FakeYahoo(), FakeYahoo()]
    for number, fake in enumerate(fakes, start=1):
        quote = fixture("quote_AAPL.json")
        quote["quoteResponse"]["result"][0]["regularMarketPrice"] = 100.0 * number
        summary = fixture("quote_summary_AAPL.json")
        del summary["quoteSummary"]["result"][0]["financialData"]["currentPrice"]
        add_aapl(fake, summary=summary, quote=quote)
    providers = [provider(fake) for fake in fakes]

    with ThreadPoolExecutor(max_workers=4) as pool:
        prices = list(pool.map(lambda i: providers[i % 2].fetch("AAPL").price, range(6)))

    assert prices == [100.0, 200.0] * 3
    assert fakes[0].count("quote") == fakes[1].count("quote") == 3
