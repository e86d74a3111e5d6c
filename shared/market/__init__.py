"""Market data providers: one protocol, one implementation per source."""

from shared.market.base import MarketDataProvider
from shared.market.simulated import SimulatedMarketData

__all__ = ["MarketDataProvider", "SimulatedMarketData"]
