"""The market data provider protocol every source implements."""

from __future__ import annotations

from typing import Protocol

from shared.domain.evidence import MarketSnapshot


class MarketDataProvider(Protocol):
    """Fetches a snapshot (fundamentals and about a year of daily closes) for one symbol."""

    name: str

    def fetch(self, symbol: str) -> MarketSnapshot:
        """The snapshot for `symbol`.

        Raises `shared.errors.UnknownTicker` when the provider does not know the symbol
        (permanent: never retried) and `shared.errors.MarketDataUnavailable` for transient
        failures (network, rate limit, outage), which the orchestrator's retry policy handles.
        """
        ...
