"""Pick the market data, news and writer implementations named by the settings.

Providers are imported on first use (cold start pays only for what is configured), under one
lock: two activity threads importing openai/httpx at the same moment saw a partially
initialised module.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, Protocol, TypeVar

from shared.errors import ConfigurationError
from shared.evidence import Decision, NewsResult, QuantNote, QuantResult
from shared.market.base import MarketDataProvider
from shared.news.base import NewsProvider
from shared.settings import Settings


class Writer(Protocol):
    """Writes the Quant Analyst's note and the Investment Strategist's decision."""

    name: str

    def quant_note(self, result: QuantResult) -> QuantNote: ...

    def decide(self, result: QuantResult, news: NewsResult) -> Decision: ...


class OfflineWriter:
    """LLM_PROVIDER=offline: deterministic rules over the evidence, said so in the memo."""

    name = "offline-rules"

    def quant_note(self, result: QuantResult) -> QuantNote:
        from shared.offline_writer import write_quant_note

        return write_quant_note(result)

    def decide(self, result: QuantResult, news: NewsResult) -> Decision:
        from shared.offline_writer import decide

        return decide(result, news)


_import_lock = threading.RLock()


P = ParamSpec("P")
R = TypeVar("R")


def _serialised[**P, R](build: Callable[P, R]) -> Callable[P, R]:
    @wraps(build)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with _import_lock:
            return build(*args, **kwargs)

    return locked


@_serialised
def market_data_provider(settings: Settings) -> MarketDataProvider:
    if settings.market_data_provider == "simulated":
        from shared.market.simulated import SimulatedMarketData

        return SimulatedMarketData(latency_ms=settings.simulated_latency_ms)
    from shared.market.yfinance_provider import YFinanceMarketData

    return YFinanceMarketData(timeout=settings.market_data_timeout_seconds)


@_serialised
def news_provider(settings: Settings) -> NewsProvider:
    if settings.news_provider == "none":
        from shared.news.disabled import NoNews

        return NoNews()
    if settings.news_provider == "yfinance":
        from shared.news.yfinance_news import YFinanceNews

        return YFinanceNews(
            max_articles=settings.news_max_articles,
            max_chars=settings.news_article_max_chars,
            timeout=settings.market_data_timeout_seconds,
        )
    from shared.news.firecrawl_news import FirecrawlNews

    if settings.firecrawl_api_key is None:
        raise ConfigurationError("NEWS_PROVIDER=firecrawl needs FIRECRAWL_API_KEY")
    return FirecrawlNews(
        api_key=settings.firecrawl_api_key.get_secret_value(),
        api_url=settings.firecrawl_api_url,
        max_articles=settings.news_max_articles,
        max_chars=settings.news_article_max_chars,
        timeout=settings.news_timeout_seconds,
    )


@_serialised
def writer(settings: Settings) -> Writer:
    if settings.llm_provider == "offline":
        return OfflineWriter()
    from shared.llm_writer import LlmWriter

    return LlmWriter(settings)
