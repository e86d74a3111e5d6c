"""Look-ahead, per provider: with `as_of`, no evidence item dated after it reaches the memo.

Each provider runs through its real client against its stand-in (the simulated market as is,
yfinance through `FakeYahoo`, Firecrawl through its stand-in server, the history provider on
the session's Azurite), with data that runs past `as_of`. The memo is then made as the
activities make it (metrics, offline note and decision, the look-ahead guard, the renderer),
and every date in it and in its evidence is checked. Full datetimes are provenance of the run
itself (the memo's "Created at") and are the one exception the issue allows.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from activities.quant_analyst import quant_result
from devhost.azurite import Azurite
from shared.agents import offline
from shared.agents.confidence import cap_confidence
from shared.domain.evidence import MarketSnapshot, NewsResult
from shared.domain.lookahead import check_evidence
from shared.render.memo import render_memo
from shared.sources.market.simulated import SimulatedMarketData
from shared.sources.market.yfinance_provider import YFinanceMarketData
from shared.sources.news.disabled import NoNews
from shared.sources.news.firecrawl_news import FirecrawlNews
from shared.sources.news.yfinance_news import YFinanceNews
from tests.standins.firecrawl_server import FirecrawlStandIn, document
from tests.standins.yahoo_transport import FakeYahoo, chart_body, fixture, isolate_yfinance

pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

# A bare date, not part of a full datetime (2025-11-26T18:42:11Z is the run's provenance).
BARE_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\dT])")
CREATED_AT = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)  # after every as_of: a full datetime


def dates_after(text: str, as_of: date) -> list[str]:
    return [d for d in BARE_DATE.findall(text) if date.fromisoformat(d) > as_of]


def memo_and_evidence(
    ticker: str,
    subject: MarketSnapshot,
    benchmark: MarketSnapshot | None,
    news: NewsResult,
    as_of: date,
) -> tuple[str, str]:
    """The memo and its evidence as the activities make them, the guard included."""
    result = quant_result(ticker, subject, benchmark, [])
    result.note = offline.write_quant_note(result)
    check_evidence(result, news, as_of)
    decision = cap_confidence(offline.decide(result, news), result)
    memo = render_memo(
        job_id="0" * 32, ticker=ticker, created_at=CREATED_AT, quant=result, news=news,
        decision=decision, evidence_hash="0" * 64, as_of=as_of,
    )
    evidence = json.dumps({
        "quant": result.model_dump(mode="json", exclude={"note", "usage"}),
        "news": news.model_dump(mode="json"),
    })
    return memo, evidence


def assert_point_in_time(memo: str, evidence: str, as_of: date) -> None:
    assert f"As of {as_of.isoformat()}" in "\n".join(memo.splitlines()[:5])
    assert dates_after(memo, as_of) == []
    assert dates_after(evidence, as_of) == []
    assert "not available point in time" in memo


def weekdays(first: date, last: date) -> list[date]:
    days, day = [], first
    while day <= last:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


# ---- market data providers ----------------------------------------------------------------


def test_simulated_market_as_of_ends_there_and_says_what_it_cannot_know() -> None:
    as_of = date(2019, 6, 15)  # a Saturday: the series ends on Friday the 14th
    market = SimulatedMarketData(now=datetime(2026, 1, 1, tzinfo=UTC))
    subject, bench = market.fetch("AAPL", as_of), market.fetch("SPY", as_of)

    assert subject.series is not None and subject.series.dates[-1] == date(2019, 6, 14)
    assert subject.as_of.date() == date(2019, 6, 14) and subject.point_in_time == as_of
    assert subject.price == subject.series.closes[-1]
    assert subject.market_cap is None and subject.trailing_pe is None and subject.beta is None
    assert market.first_date("AAPL") == date(1990, 1, 2)
    memo, evidence = memo_and_evidence("AAPL", subject, bench, NoNews().search("AAPL", as_of),
                                       as_of)
    assert_point_in_time(memo, evidence, as_of)
    assert "not available point in time: simulated cannot give the market capitalization" in memo


def test_simulated_market_near_its_first_day_is_short_not_earlier() -> None:
    snapshot = SimulatedMarketData().fetch("MSFT", date(1990, 1, 10))
    assert snapshot.series is not None
    assert snapshot.series.dates[0] == date(1990, 1, 2) and len(snapshot.series.dates) == 7


def test_simulated_market_without_as_of_is_unchanged() -> None:
    now = datetime(2025, 11, 26, 12, tzinfo=UTC)
    snapshot = SimulatedMarketData(now=now).fetch("AAPL")
    assert snapshot.point_in_time is None and snapshot.market_cap is not None
    assert snapshot.series is not None and len(snapshot.series.dates) == 253


@pytest.fixture
def yahoo(tmp_path_factory: pytest.TempPathFactory) -> FakeYahoo:
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    return FakeYahoo()


def test_yfinance_as_of_keeps_no_close_after_it_whatever_yahoo_sends(yahoo: FakeYahoo) -> None:
    # Yahoo's chart here runs to 2025-11-26 whatever range is asked: the provider must cut.
    days = weekdays(date(2023, 11, 1), date(2025, 11, 26))
    closes = [round(200 + 30 * math.sin(i / 25) + i * 0.05, 2) for i in range(len(days))]
    for symbol in ("AAPL", "SPY"):
        yahoo.add(
            symbol,
            quoteSummary=fixture("quote_summary_AAPL.json"),
            quote=fixture("quote_AAPL.json"),
            chart=chart_body(fixture("chart_meta_AAPL.json"), days, closes),
        )
    as_of = date(2025, 6, 30)
    provider = YFinanceMarketData(session=yahoo.session(), timeout=5)

    subject, bench = provider.fetch("AAPL", as_of), provider.fetch("SPY", as_of)

    assert subject.series is not None and subject.series.dates[-1] == as_of
    assert subject.as_of == datetime(2025, 6, 30, tzinfo=UTC)  # not regularMarketTime
    assert subject.price == subject.series.closes[-1]
    assert subject.market_cap is None and subject.trailing_eps is None and subject.beta is None
    assert subject.name == "Apple Inc."
    assert provider.first_date("AAPL") == date(1962, 1, 2)
    memo, evidence = memo_and_evidence("AAPL", subject, bench, NoNews().search("AAPL", as_of),
                                       as_of)
    assert_point_in_time(memo, evidence, as_of)


# ---- news providers -----------------------------------------------------------------------


def market(as_of: date) -> tuple[MarketSnapshot, MarketSnapshot]:
    simulated = SimulatedMarketData()
    return simulated.fetch("AAPL", as_of), simulated.fetch("SPY", as_of)


@pytest.fixture
def firecrawl() -> Iterator[FirecrawlStandIn]:
    with FirecrawlStandIn() as server:
        yield server


def test_firecrawl_as_of_keeps_only_articles_dated_on_or_before_it(
    firecrawl: FirecrawlStandIn,
) -> None:
    firecrawl.results(
        document("https://news.example.com/before", "Before", "Old news.",
                 published="2025-06-27T15:00:00Z"),
        document("https://news.example.com/late-evening", "Same day, late in New York",
                 "Still the 30th in New York, the 1st in UTC.",
                 published="2025-06-30T22:30:00-04:00"),
        document("https://news.example.com/after", "After", "From the future.",
                 published="2025-07-02T09:00:00Z"),
        document("https://news.example.com/undated", "Undated", "No date at all."),
        document("https://news.example.com/on", "On the day", "Fresh.",
                 published="2025-06-30T20:00:00Z"),
    )
    as_of = date(2025, 6, 30)
    news = FirecrawlNews(api_key="fc-test", api_url=firecrawl.url, max_articles=5,
                         max_chars=300, timeout=5).search("AAPL", as_of)

    assert [a.title for a in news.articles] == ["Before", "On the day"]
    assert [a.id for a in news.articles] == ["n1", "n2"]
    tbs = firecrawl.requests[-1].body["tbs"]
    assert tbs == "cdr:1,cd_min:6/23/2025,cd_max:6/30/2025"
    memo, evidence = memo_and_evidence("AAPL", *market(as_of), news, as_of)
    assert_point_in_time(memo, evidence, as_of)
    assert "From the future" not in memo and "Undated" not in memo


def test_firecrawl_as_of_with_nothing_dated_in_time_is_empty_with_a_gap(
    firecrawl: FirecrawlStandIn,
) -> None:
    firecrawl.results(document("https://news.example.com/after", "After", "Future.",
                               published="2025-07-02T09:00:00Z"))
    news = FirecrawlNews(api_key="fc-test", api_url=firecrawl.url, max_articles=5,
                         max_chars=300, timeout=5).search("AAPL", date(2025, 6, 30))
    assert news.status == "empty" and news.articles == []
    assert "2025-06-30" in news.gaps[0].message


def test_yfinance_news_as_of_keeps_only_stories_dated_on_or_before_it(yahoo: FakeYahoo) -> None:
    yahoo.add("AAPL", news=fixture("news_AAPL.json"))  # 2025-11-26 (twice) and 2025-11-25
    as_of = date(2025, 11, 25)
    news = YFinanceNews(session=yahoo.session(), max_articles=5).search("AAPL", as_of)

    assert len(news.articles) == 1 and news.articles[0].id == "n1"
    assert news.articles[0].published_at == datetime(2025, 11, 25, 9, 15, tzinfo=UTC)
    memo, evidence = memo_and_evidence("AAPL", *market(as_of), news, as_of)
    assert_point_in_time(memo, evidence, as_of)


def test_yfinance_news_without_as_of_is_unchanged(yahoo: FakeYahoo) -> None:
    yahoo.add("AAPL", news=fixture("news_AAPL.json"))
    assert len(YFinanceNews(session=yahoo.session(), max_articles=5).search("AAPL").articles) == 2


# ---- the history provider (the price store on Azurite) ------------------------------------


def test_history_as_of_ends_there(azurite: Azurite) -> None:
    from shared.sources.market.history import HistoryMarketData
    from shared.store.prices import Benchmark, Manifest, PriceStore, parse_csv

    days = weekdays(date(2020, 1, 1), date(2022, 12, 30))
    lines = ["date,AAPL,SP500"] + [
        f"{d.isoformat()},{100 + i * 0.1:.2f},{3000 + i * 0.5:.2f}" for i, d in enumerate(days)
    ]
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("prices-lookahead-test")
    if not container.exists():
        container.create_container()
    store = PriceStore(container)
    store.load(
        parse_csv("\n".join(lines) + "\n", "lookahead.csv"),
        Manifest(dataset="lookahead", source="test CSV", currency="USD",
                 benchmark=Benchmark(symbol="SP500", name="S&P 500 index"), symbols={}),
    )
    provider = HistoryMarketData(store)
    as_of = date(2021, 7, 4)  # a Sunday: the series ends on Friday the 2nd

    subject, bench = provider.fetch("AAPL", as_of), provider.fetch("SPY", as_of)

    assert subject.series is not None and subject.series.dates[-1] == date(2021, 7, 2)
    assert bench.series is not None and bench.series.dates[-1] == date(2021, 7, 2)
    assert provider.first_date("AAPL") == date(2020, 1, 1)
    memo, evidence = memo_and_evidence(
        "AAPL", subject, bench, NoNews().search("AAPL", as_of), as_of
    )
    assert f"As of {as_of.isoformat()}" in "\n".join(memo.splitlines()[:5])
    assert dates_after(memo, as_of) == [] and dates_after(evidence, as_of) == []
