"""Live market data from Yahoo Finance through yfinance (MARKET_DATA_PROVIDER=yfinance)."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import requests
import yfinance as yf
from yfinance.exceptions import YFPricesMissingError

from shared.domain.evidence import MarketSnapshot, PriceSeries, finite_or_none
from shared.errors import MarketDataUnavailable, UnknownTicker
from shared.sources.market.yahoo_session import (
    YAHOO_ERRORS,
    YAHOO_LOCK,
    http_body,
    http_status,
    prepare,
    shared_session,
    yahoo_failure,
)

SOURCE = "yfinance"
# A 1y return needs 253 closes; ask for two years and keep a little more than one, so the
# date intersection with the benchmark still spans a full year.
HISTORY_PERIOD = "2y"
KEEP_CLOSES = 260
# Point in time: the chart from two years before as_of, through as_of (Yahoo's end is exclusive).
HISTORY_SPAN = timedelta(days=730)
# The earliest daily closes Yahoo serves (NYSE's oldest listings start on 1962-01-02): an as_of
# before it is pre-data for every symbol.
FIRST_DATE = date(1962, 1, 2)
# Yahoo's own words when it has no data for a symbol (quoteSummary, chart).
NOT_FOUND_MARKERS = ("not found", "no data found", "delisted")

log = logging.getLogger(__name__)


class YFinanceMarketData:
    """Fundamentals from `Ticker.info` and daily closes from `Ticker.history`, for one symbol.

    Outcomes:
    - Yahoo answers "Quote not found" (HTTP 404) for the symbol, or has neither a price nor a
      single close for it: `UnknownTicker` (permanent).
    - HTTP 429, 5xx, timeouts, connection errors, an HTML error page: `MarketDataUnavailable`
      (transient, so Durable's retry policy applies).
    - A known quote without history: a snapshot whose `series` is None.
    Missing fields are None, never NaN or 0 (a zero price, market cap, P/E or 52-week bound
    means Yahoo has no value).

    `session` is for tests (a `requests.Session` with a fake transport); by default the
    process's shared curl_cffi session is used. Either way the fetch holds `YAHOO_LOCK`,
    because yfinance routes every caller through one singleton (see `yahoo_session`).
    `timeout` bounds each HTTP request of the default session and the chart request of an
    injected one.

    Point in time (`as_of`): the chart is asked for the two years up to `as_of`, and only closes
    dated on or before it are kept, whatever Yahoo sends; price and the 52-week bounds come from
    those closes. `Ticker.info` is today's, so of it only the name and currency are used: market
    cap, P/E, EPS and beta are None, "not available point in time".
    """

    name: str = SOURCE

    def __init__(self, session: requests.Session | None = None, timeout: float = 20) -> None:
        self.timeout = timeout
        self._session: Any = session if session is not None else shared_session(timeout)

    def first_date(self, symbol: str) -> date | None:
        return FIRST_DATE

    def fetch(self, symbol: str, as_of: date | None = None) -> MarketSnapshot:
        ticker = symbol.strip().upper()
        with YAHOO_LOCK:
            prepare()
            try:
                quote = yf.Ticker(ticker, session=self._session)
                info = _info(quote, ticker)
                closes = _closes(quote, ticker, self.timeout, as_of)
            except YAHOO_ERRORS as exc:
                raise MarketDataUnavailable(
                    f"Yahoo Finance failed for {ticker}: {yahoo_failure(exc)}"
                ) from exc
        if as_of is not None:
            return _snapshot_as_of(ticker, info, closes, as_of)
        return _snapshot(ticker, info, closes)


def _info(quote: Any, ticker: str) -> dict[str, Any]:
    """`Ticker.info`; Yahoo's 404 "Quote not found" for the symbol is an unknown ticker."""
    try:
        info = quote.info
    except OSError as exc:
        if http_status(exc) == 404 and _says_not_found(http_body(exc)):
            raise UnknownTicker(
                f"Yahoo Finance does not know {ticker}", field="ticker"
            ) from exc
        raise
    return dict(info) if isinstance(info, dict) else {}


def _closes(quote: Any, ticker: str, timeout: float, as_of: date | None) -> pd.Series:
    """Daily closes (split- and dividend-adjusted); empty when Yahoo has no history. With
    `as_of`, the two years up to it (Yahoo's `end` is exclusive, hence the day after)."""
    span: dict[str, Any] = (
        {"period": HISTORY_PERIOD} if as_of is None
        else {"start": as_of - HISTORY_SPAN, "end": as_of + timedelta(days=1)}
    )
    try:
        frame = quote.history(
            **span, interval="1d", auto_adjust=True, actions=False, timeout=timeout,
        )
    except YFPricesMissingError as exc:
        # Yahoo either explained the absence ("No data found, symbol may be delisted") or sent
        # a chart without rows: no history. Any other explanation is an outage.
        if exc.yahoo_reason is not None and not _says_not_found(exc.yahoo_reason):
            raise MarketDataUnavailable(
                f"Yahoo Finance chart failed for {ticker}: {exc.yahoo_reason}"
            ) from exc
        log.info("Yahoo Finance has no price history for %s: %s", ticker, exc)
        return pd.Series(dtype=float)
    if not isinstance(frame, pd.DataFrame) or "Close" not in frame.columns:
        return pd.Series(dtype=float)
    return frame["Close"]


def _snapshot(ticker: str, info: dict[str, Any], closes: pd.Series) -> MarketSnapshot:
    series = _series(ticker, closes)
    price = _positive(info.get("currentPrice")) or _positive(info.get("regularMarketPrice"))
    if price is None and series is None:
        raise UnknownTicker(
            f"Yahoo Finance has neither a price nor a price history for {ticker}", field="ticker"
        )
    eps = finite_or_none(info.get("trailingEps"))
    if eps is None:
        eps = finite_or_none(info.get("epsTrailingTwelveMonths"))
    return MarketSnapshot(
        symbol=ticker,
        source=SOURCE,
        as_of=_as_of(info.get("regularMarketTime"), series),
        currency=_text(info.get("currency")),
        name=_text(info.get("longName")) or _text(info.get("shortName")),
        price=price,
        market_cap=_positive(info.get("marketCap")),
        trailing_pe=_positive(info.get("trailingPE")),
        trailing_eps=eps,
        beta=finite_or_none(info.get("beta")),
        fifty_two_week_high=_positive(info.get("fiftyTwoWeekHigh")),
        fifty_two_week_low=_positive(info.get("fiftyTwoWeekLow")),
        series=series,
    )


def _snapshot_as_of(
    ticker: str, info: dict[str, Any], closes: pd.Series, as_of: date
) -> MarketSnapshot:
    """The snapshot as of the close of `as_of`: closes up to it, and nothing of today's quote
    but the name and currency."""
    series = _series(ticker, closes, as_of)
    if series is None:
        raise UnknownTicker(
            f"Yahoo Finance has no closes for {ticker} on or before {as_of.isoformat()}",
            field="ticker",
        )
    last = series.dates[-1]
    year = series.closes[-253:]
    return MarketSnapshot(
        symbol=ticker,
        source=SOURCE,
        as_of=datetime(last.year, last.month, last.day, tzinfo=UTC),
        currency=_text(info.get("currency")),
        name=_text(info.get("longName")) or _text(info.get("shortName")),
        price=series.closes[-1],
        fifty_two_week_high=max(year),
        fifty_two_week_low=min(year),
        series=series,
        point_in_time=as_of,
    )


def _series(ticker: str, closes: pd.Series, as_of: date | None = None) -> PriceSeries | None:
    """The last KEEP_CLOSES good closes by exchange-local date (on or before `as_of`, when
    given); NaN and non-positive dropped."""
    by_day: dict[date, float] = {}
    for stamp, value in closes.items():
        close = _positive(value)
        if close is not None and isinstance(stamp, pd.Timestamp):
            if as_of is None or stamp.date() <= as_of:
                by_day[stamp.date()] = close
    if not by_day:
        return None
    days = sorted(by_day)[-KEEP_CLOSES:]
    return PriceSeries(
        symbol=ticker, dates=days, closes=[by_day[d] for d in days], source=SOURCE
    )


def _as_of(market_time: object, series: PriceSeries | None) -> datetime:
    """Yahoo's regularMarketTime (epoch seconds), else the last close's date, else now."""
    if isinstance(market_time, int | float) and not isinstance(market_time, bool):
        if market_time > 0:
            return datetime.fromtimestamp(market_time, UTC)
    if isinstance(market_time, str):
        try:
            moment = datetime.fromisoformat(market_time)
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        except ValueError:
            pass
    if series is not None:
        last = series.dates[-1]
        return datetime(last.year, last.month, last.day, tzinfo=UTC)
    return datetime.now(UTC)


def _positive(value: object) -> float | None:
    number = finite_or_none(value)
    return number if number is not None and number > 0 else None


def _text(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _says_not_found(text: str) -> bool:
    lowered = text.lower()
    return any(marker in lowered for marker in NOT_FOUND_MARKERS)
