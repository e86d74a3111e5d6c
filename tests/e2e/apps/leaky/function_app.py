"""The real function app, with one future-dated item planted on demand: the provider factories
the market and news activities use (their external boundary) hand out the configured providers
wrapped so that, when the test's `Board` says `leak` is "series", "benchmark" or "news", a
point-in-time fetch comes back with one item dated after its `as_of`, as a provider that
ignored `as_of` would. Runs in the host's language workers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from activities import market_data, news_research
from shared.domain.evidence import BENCHMARK_SYMBOL, MarketSnapshot, NewsArticle, NewsResult
from shared.settings import Settings
from shared.sources import factory
from shared.sources.market.base import MarketDataProvider
from shared.sources.news.base import NewsProvider
from tests.control import Board
from tests.real_app import real_app

LEAK = "leak"


def leak() -> str | None:
    value = Board.from_environment().get(LEAK)
    return value if isinstance(value, str) else None


class LeakyMarket:
    def __init__(self, inner: MarketDataProvider) -> None:
        self.inner = inner
        self.name = inner.name

    def first_date(self, symbol: str) -> date | None:
        return self.inner.first_date(symbol)

    def fetch(self, symbol: str, as_of: date | None = None) -> MarketSnapshot:
        snapshot = self.inner.fetch(symbol, as_of)
        target = "benchmark" if symbol == BENCHMARK_SYMBOL else "series"
        if as_of is None or snapshot.series is None or leak() != target:
            return snapshot
        series = snapshot.series
        later = as_of + timedelta(days=3)
        planted = series.model_copy(
            update={"dates": [*series.dates, later], "closes": [*series.closes, series.closes[-1]]}
        )
        return snapshot.model_copy(update={"series": planted})


class LeakyNews:
    def __init__(self, inner: NewsProvider) -> None:
        self.inner = inner
        self.name = inner.name

    def search(self, ticker: str, as_of: date | None = None) -> NewsResult:
        result = self.inner.search(ticker, as_of)
        if as_of is None or leak() != "news":
            return result
        day = as_of + timedelta(days=2)
        article = NewsArticle(
            id="n1", title=f"{ticker} news from {day.isoformat()}",
            url="https://news.example.com/future", source="news.example.com",
            published_at=datetime(day.year, day.month, day.day, 14, tzinfo=UTC),
            excerpt="Written after the as_of date.",
        )
        return NewsResult(provider=result.provider, status="ok", articles=[article])


def leaky_market(settings: Settings) -> MarketDataProvider:
    return LeakyMarket(factory.market_data_provider(settings))


def leaky_news(settings: Settings) -> NewsProvider:
    return LeakyNews(factory.news_provider(settings))


app = real_app()
market_data.market_data_provider = leaky_market
news_research.news_provider = leaky_news
