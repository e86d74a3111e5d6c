"""The market data and news providers the settings name, imported on first use."""

from __future__ import annotations

from shared.errors import ConfigurationError
from shared.import_lock import serialised
from shared.settings import Settings
from shared.sources.market.base import MarketDataProvider
from shared.sources.news.base import NewsProvider


@serialised
def market_data_provider(settings: Settings) -> MarketDataProvider:
    if settings.market_data_provider == "simulated":
        from shared.sources.market.simulated import SimulatedMarketData

        return SimulatedMarketData(latency_ms=settings.simulated_latency_ms)
    if settings.market_data_provider == "history":
        from shared.sources.market.history import HistoryMarketData

        return HistoryMarketData()
    from shared.sources.market.yfinance_provider import YFinanceMarketData

    return YFinanceMarketData(timeout=settings.market_data_timeout_seconds)


@serialised
def news_provider(settings: Settings) -> NewsProvider:
    if settings.news_provider == "none":
        from shared.sources.news.disabled import NoNews

        return NoNews()
    if settings.news_provider == "yfinance":
        from shared.sources.news.yfinance_news import YFinanceNews

        return YFinanceNews(
            max_articles=settings.news_max_articles,
            max_chars=settings.news_article_max_chars,
            timeout=settings.market_data_timeout_seconds,
        )
    from shared.sources.news.firecrawl_news import FirecrawlNews

    if settings.firecrawl_api_key is None:
        raise ConfigurationError("NEWS_PROVIDER=firecrawl needs FIRECRAWL_API_KEY")
    return FirecrawlNews(
        api_key=settings.firecrawl_api_key.get_secret_value(),
        api_url=settings.firecrawl_api_url,
        max_articles=settings.news_max_articles,
        max_chars=settings.news_article_max_chars,
        timeout=settings.news_timeout_seconds,
    )
