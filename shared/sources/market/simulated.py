"""A deterministic, offline market data provider for local runs and tests."""

from __future__ import annotations

import hashlib
import math
import random
import time
from datetime import UTC, date, datetime, timedelta

from shared.domain.evidence import BENCHMARK_SYMBOL, MarketSnapshot, PriceSeries
from shared.errors import UnknownTicker

TRADING_DAYS = 252
YEAR_OF_CLOSES = TRADING_DAYS + 1  # a 1y return needs 252 daily returns, so 253 closes
UNKNOWN_PREFIX = "ZZZZ"
SOURCE = "simulated"
# The simulated market's first trading day (the bundled sample's too): an as_of before it is
# pre-data, and a series as of a date soon after it is shorter than a year.
FIRST_DATE = date(1990, 1, 2)


class SimulatedMarketData:
    """Plausible, made-up market data: the same ticker always gives the same numbers.

    Each ticker seeds `random.Random` from the SHA-256 of its upper-cased symbol (never Python's
    `hash()`, which changes between processes), and gets a year of closes (253 weekdays, so 252
    daily returns, ending on the last weekday on or before `now`'s date; holidays are ignored)
    from a geometric random walk with its own drift and volatility. SPY gets a lower-volatility
    walk, and a stock's daily shocks load on SPY's with the stock's reported beta, so the beta
    computed from the two series lands near the reported one. Fundamentals agree with the
    series: price = last close, 52-week high/low = max/min of the closes, EPS = price / P/E,
    market cap = price x a simulated share count.

    `ZZZZ`, and any symbol starting with it, raises `UnknownTicker`, so the unknown-ticker path
    can be exercised offline. Symbol validation happens before any provider is called.

    Each fetch sleeps `latency_ms` to stand in for the network. `now` fixes the end date (tests);
    by default it is the current UTC time at each fetch.

    Point in time (`as_of`): the year of closes ends on the last weekday on or before `as_of`
    (never before FIRST_DATE, the market's first day), price and the 52-week bounds come from
    those closes, and the fundamentals a real provider could not give as of a past date
    (market cap, P/E, EPS, the reported beta) are None: "not available point in time".
    """

    name: str = SOURCE

    def __init__(self, latency_ms: int = 0, now: datetime | None = None) -> None:
        self.latency_ms = latency_ms
        self.now = now

    def first_date(self, symbol: str) -> date | None:
        return FIRST_DATE

    def fetch(self, symbol: str, as_of: date | None = None) -> MarketSnapshot:
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)
        ticker = symbol.strip().upper()
        if ticker.startswith(UNKNOWN_PREFIX):
            raise UnknownTicker(f"the simulated market does not know {ticker}", field="ticker")
        if as_of is None:
            dates = _weekdays_ending(_end_date(self.now), YEAR_OF_CLOSES)
        else:
            end = _end_date(datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC))
            dates = [d for d in _weekdays_ending(end, YEAR_OF_CLOSES) if d >= FIRST_DATE]
            if not dates:
                raise UnknownTicker(
                    f"the simulated market has no closes for {ticker} on or before "
                    f"{as_of.isoformat()}; it begins {FIRST_DATE.isoformat()}",
                    field="ticker",
                )
        rng = random.Random(_seed(ticker))
        closes, beta = _closes(rng, ticker, len(dates))
        price = closes[-1]
        pe = round(rng.uniform(9.0, 45.0), 2)
        shares = 10 ** rng.uniform(8.0, 10.3)
        # No simulated fundamentals as of a past day: none could be dated then.
        fundamentals: dict[str, float] = {} if as_of is not None else {
            "market_cap": round(price * shares, -3),
            "trailing_pe": pe,
            "trailing_eps": round(price / pe, 4),
            "beta": round(beta, 2),
        }
        return MarketSnapshot(
            symbol=ticker,
            source=SOURCE,
            as_of=datetime(dates[-1].year, dates[-1].month, dates[-1].day, tzinfo=UTC),
            currency="USD",
            name=f"{ticker} (simulated)",
            price=price,
            fifty_two_week_high=max(closes),
            fifty_two_week_low=min(closes),
            series=PriceSeries(symbol=ticker, dates=dates, closes=closes, source=SOURCE),
            simulated=True,
            point_in_time=as_of,
            **fundamentals,
        )


def _seed(ticker: str) -> int:
    return int.from_bytes(hashlib.sha256(ticker.encode("utf-8")).digest()[:8], "big")


def _end_date(now: datetime | None) -> date:
    """The last weekday on or before `now`'s UTC date."""
    moment = now or datetime.now(UTC)
    day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def _weekdays_ending(end: date, count: int) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def _market() -> tuple[float, float, float, list[float]]:
    """SPY's walk: start, annual drift, annual volatility, and its standard-normal daily shocks."""
    rng = random.Random(_seed(BENCHMARK_SYMBOL))
    start, drift, vol = rng.uniform(380.0, 520.0), rng.uniform(0.04, 0.12), rng.uniform(0.11, 0.16)
    return start, drift, vol, [rng.gauss(0.0, 1.0) for _ in range(YEAR_OF_CLOSES - 1)]


def _closes(rng: random.Random, ticker: str, count: int) -> tuple[list[float], float]:
    """Closes of a geometric random walk (rounded to cents) and the beta it was built with.

    A stock's daily shock is beta x SPY's shock plus its own, so the beta computed from the
    series lands near the reported one; SPY is calmer than single stocks.
    """
    market_start, market_drift, market_vol, market_shocks = _market()
    if ticker == BENCHMARK_SYMBOL:
        start, drift, beta, own_vol = market_start, market_drift, 1.0, 0.0
    else:
        beta = rng.uniform(0.6, 1.8)
        start = math.exp(rng.uniform(math.log(8.0), math.log(600.0)))
        drift, vol = rng.uniform(-0.15, 0.30), rng.uniform(0.22, 0.60)
        own_vol = math.sqrt(max(vol * vol - (beta * market_vol) ** 2, 0.10**2))
    variance = (beta * market_vol) ** 2 + own_vol**2
    step_mean = (drift - variance / 2) / TRADING_DAYS
    closes = [start]
    for market_shock in market_shocks[: count - 1]:
        own_shock = rng.gauss(0.0, 1.0) if own_vol else 0.0
        shock = (beta * market_vol * market_shock + own_vol * own_shock) / math.sqrt(TRADING_DAYS)
        closes.append(closes[-1] * math.exp(step_mean + shock))
    return [max(round(close, 2), 0.01) for close in closes], beta
