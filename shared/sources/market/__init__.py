"""Market data providers: one protocol, one implementation per source."""

from shared.sources.market.base import MarketDataProvider
from shared.sources.market.simulated import SimulatedMarketData

__all__ = ["MarketDataProvider", "SimulatedMarketData"]
