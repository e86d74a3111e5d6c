"""The market data provider protocol every source implements."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from shared.domain.evidence import MarketSnapshot


class MarketDataProvider(Protocol):
    """Fetches a snapshot (fundamentals and about a year of daily closes) for one symbol."""

    name: str

    def fetch(self, symbol: str, as_of: date | None = None) -> MarketSnapshot:
        """The snapshot for `symbol`; with `as_of`, as it stood at the close of that day.

        Point in time (`as_of` given): every close is dated on or before `as_of`, the snapshot's
        `as_of` is the last close's date, `point_in_time` is `as_of`, and a fundamental the
        provider cannot give as of that day is None (the metric says "not available point in
        time"). Without `as_of`, the latest data, as before.

        Raises `shared.errors.UnknownTicker` when the provider does not know the symbol
        (permanent: never retried) and `shared.errors.MarketDataUnavailable` for transient
        failures (network, rate limit, outage), which the orchestrator's retry policy handles.
        """
        ...

    def first_date(self, symbol: str) -> date | None:
        """The first day this provider can have a close for `symbol`: an `as_of` before it is
        pre-data, refused at submission (`invalid_as_of`). Cheap (no market fetch); None when
        the provider cannot say, so nothing is refused for it."""
        ...
