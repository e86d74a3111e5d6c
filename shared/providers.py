"""Pick the market data, news and writer implementations named by the settings."""

from __future__ import annotations

from typing import Protocol

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


def market_data_provider(settings: Settings) -> MarketDataProvider:
    if settings.market_data_provider == "simulated":
        from shared.market.simulated import SimulatedMarketData

        return SimulatedMarketData(latency_ms=settings.simulated_latency_ms)
    raise ConfigurationError(
        f"MARKET_DATA_PROVIDER={settings.market_data_provider} is not available in this build"
    )


def news_provider(settings: Settings) -> NewsProvider:
    if settings.news_provider == "none":
        from shared.news.disabled import NoNews

        return NoNews()
    raise ConfigurationError(
        f"NEWS_PROVIDER={settings.news_provider} is not available in this build"
    )


def writer(settings: Settings) -> Writer:
    if settings.llm_provider == "offline":
        return OfflineWriter()
    raise ConfigurationError(f"LLM_PROVIDER={settings.llm_provider} is not available in this build")
