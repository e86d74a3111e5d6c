"""Daily closes over a date range, from the configured market data provider: what
`GET /api/prices/{symbol}`, `GET /api/track-record` and the backtest score verdicts against.

A snapshot (`MarketDataProvider.fetch`) holds about a year ending on a day; scoring needs the
closes AFTER a decision, over any range, so this is a second, small protocol beside it, with one
implementation per provider:

- `history`: the price store's closes in the range, read as they are. `SPY` (BENCHMARK_SYMBOL)
  is answered with the store's benchmark, named (the sample: `SP500`, "S&P 500 index"), as the
  provider does for memos.
- `simulated`: the deterministic series the simulated provider shows a memo as of `end`: at most
  the 253 weekdays ending on the last weekday on or before `end`, cut at `start`, and marked
  `simulated`. A simulated ticker's walk is re-dated to end on whatever day is asked, so two
  ranges do not agree with each other: forward returns on it mean nothing (the track record
  refuses it; the backtest stops on it).
- `yfinance`: Yahoo's daily chart (split- and dividend-adjusted closes) for the range, through
  yfinance's `Ticker.history`, holding the process's Yahoo lock as every Yahoo call does.

Outcomes: a symbol the provider does not know raises `UnknownTicker`; a known symbol with no
close in the range is an empty series (not an error); a transient failure raises
`MarketDataUnavailable`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel, Field

from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.errors import ConfigurationError, MarketDataUnavailable, UnknownTicker
from shared.settings import Settings


class PriceHistory(BaseModel):
    """Daily closes of one symbol over a range, oldest first (GET /api/prices/{symbol})."""

    symbol: str = Field(description="The symbol the closes are of (the store's benchmark for "
                        "SPY with the history provider, e.g. SP500).")
    requested: str = Field(description="The symbol asked for, upper-cased.")
    name: str | None = Field(default=None, description="How memos name it, when the provider "
                             "says (the benchmark: e.g. 'S&P 500 index').")
    benchmark: bool = Field(description="True when these are the benchmark's closes.")
    source: str = Field(description="The market data provider: history, simulated or yfinance.")
    dataset: str | None = Field(default=None, description="The price store's dataset, if any.")
    currency: str | None = None
    simulated: bool = Field(description="True for the simulated provider: made-up prices, "
                            "re-dated for each request, so forward returns mean nothing.")
    start: date
    end: date
    dates: list[date]
    closes: list[float]


class ClosesSource(Protocol):
    name: str

    def closes(self, symbol: str, start: date, end: date) -> PriceHistory:
        """The closes of `symbol` dated from `start` to `end`, both included."""
        ...


def _in_range(rows: list[tuple[date, float]], start: date, end: date) -> list[tuple[date, float]]:
    return [(day, close) for day, close in rows if start <= day <= end]


class HistoryCloses:
    name = "history"

    def __init__(self, store: Any = None) -> None:
        self._store = store

    @property
    def store(self) -> Any:
        if self._store is None:
            from shared.store.prices import PriceStore

            self._store = PriceStore()
        return self._store

    def closes(self, symbol: str, start: date, end: date) -> PriceHistory:
        requested = symbol.strip().upper()
        manifest = self.store.manifest()
        if manifest is None:
            raise ConfigurationError(
                "MARKET_DATA_PROVIDER=history but the price store is empty: load it with "
                "`python -m stockmemo history load --sample` (or `--csv FILE`)"
            )
        bench = manifest.benchmark
        stored = bench.symbol if requested == BENCHMARK_SYMBOL and bench is not None else requested
        rows = self.store.closes(stored) if stored in manifest.symbols else None
        if rows is None:
            raise UnknownTicker(
                f"the price store ({manifest.dataset}) has no closes for {requested}",
                field="symbol", value=requested,
            )
        is_bench = bench is not None and stored == bench.symbol
        kept = _in_range(rows, start, end)
        return PriceHistory(
            symbol=stored, requested=requested, name=bench.name if is_bench and bench else None,
            benchmark=is_bench or stored == BENCHMARK_SYMBOL, source=self.name,
            dataset=manifest.dataset, currency=manifest.currency, simulated=False,
            start=start, end=end, dates=[d for d, _ in kept], closes=[c for _, c in kept],
        )


class SimulatedCloses:
    name = "simulated"

    def __init__(self, provider: Any = None) -> None:
        if provider is None:
            from shared.sources.market.simulated import SimulatedMarketData

            provider = SimulatedMarketData()  # no latency: this is not a memo's fetch
        self.provider = provider

    def closes(self, symbol: str, start: date, end: date) -> PriceHistory:
        requested = symbol.strip().upper()
        end = min(end, datetime.now(UTC).date())  # the walk is re-dated to end there
        snapshot = self.provider.fetch(requested, as_of=end)
        series = snapshot.series
        rows = list(zip(series.dates, series.closes, strict=True)) if series else []
        kept = _in_range(rows, start, end)
        return PriceHistory(
            symbol=snapshot.symbol, requested=requested, name=snapshot.name,
            benchmark=requested == BENCHMARK_SYMBOL, source=self.name,
            currency=snapshot.currency, simulated=True, start=start, end=end,
            dates=[d for d, _ in kept], closes=[c for _, c in kept],
        )


class YFinanceCloses:
    name = "yfinance"

    def __init__(self, session: Any = None, timeout: float = 20) -> None:
        from shared.sources.market.yahoo_session import shared_session

        self.timeout = timeout
        self._session = session if session is not None else shared_session(timeout)

    def closes(self, symbol: str, start: date, end: date) -> PriceHistory:
        import yfinance as yf

        from shared.sources.market.yahoo_session import (
            YAHOO_ERRORS,
            YAHOO_LOCK,
            http_body,
            http_status,
            prepare,
            yahoo_failure,
        )
        requested = symbol.strip().upper()
        with YAHOO_LOCK:
            prepare()
            try:
                quote = yf.Ticker(requested, session=self._session)
                # Yahoo's end is exclusive, hence the day after.
                series = _yahoo_closes(quote, self.timeout, start, end)
            except YAHOO_ERRORS as exc:
                if http_status(exc) == 404 and _says_not_found(http_body(exc)):
                    raise UnknownTicker(f"Yahoo Finance does not know {requested}",
                                        field="symbol", value=requested) from exc
                raise MarketDataUnavailable(
                    f"Yahoo Finance failed for {requested}: {yahoo_failure(exc)}"
                ) from exc
        if series is None:
            raise UnknownTicker(f"Yahoo Finance has no daily closes for {requested}",
                                field="symbol", value=requested)
        kept = _in_range(series, start, end)
        return PriceHistory(
            symbol=requested, requested=requested, benchmark=requested == BENCHMARK_SYMBOL,
            source=self.name, simulated=False, start=start, end=end,
            dates=[d for d, _ in kept], closes=[c for _, c in kept],
        )


def _yahoo_closes(quote: Any, timeout: float, start: date, end: date
                  ) -> list[tuple[date, float]] | None:
    """Adjusted daily closes by exchange-local date (NaN and non-positive dropped); None when
    Yahoo has no chart for the symbol at all. Yahoo's `end` is exclusive, hence the day after."""
    import math

    import pandas as pd
    from yfinance.exceptions import YFPricesMissingError

    try:
        frame = quote.history(start=start, end=end + timedelta(days=1), interval="1d",
                              auto_adjust=True, actions=False, timeout=timeout)
    except YFPricesMissingError as exc:
        if exc.yahoo_reason is not None and not _says_not_found(exc.yahoo_reason):
            raise MarketDataUnavailable(f"Yahoo Finance chart failed: {exc.yahoo_reason}") from exc
        return None
    if not isinstance(frame, pd.DataFrame) or "Close" not in frame.columns:
        return None
    by_day: dict[date, float] = {}
    for stamp, value in frame["Close"].items():
        if isinstance(stamp, pd.Timestamp) and isinstance(value, int | float):
            if math.isfinite(value) and value > 0:
                by_day[stamp.date()] = float(value)
    return sorted(by_day.items())


def _says_not_found(text: str) -> bool:
    """Yahoo's own words when it has no data for a symbol (as the yfinance provider reads them)."""
    return any(marker in text.lower() for marker in ("not found", "no data found", "delisted"))


def closes_source(settings: Settings) -> ClosesSource:
    """The closes of the provider MARKET_DATA_PROVIDER names."""
    if settings.market_data_provider == "history":
        return HistoryCloses()
    if settings.market_data_provider == "simulated":
        return SimulatedCloses()
    return YFinanceCloses(timeout=settings.market_data_timeout_seconds)
