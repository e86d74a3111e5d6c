"""Metrics computed from a market snapshot and its benchmark: pure functions, stdlib only.

No numpy or pandas here: this module is imported by Azure Functions workers, where cold start
matters. Every result is a `Metric`; what cannot be computed is missing with a specific reason,
never NaN and never 0 as a stand-in.

Conventions:
- Windows count trading days, i.e. rows of a series: 1m = 21, 3m = 63, 6m = 126, 1y = 252.
- An n-day return is close[-1] / close[-1-n] - 1, so it needs n + 1 closes.
- Ticker and benchmark returns use each series' own trading days. Excess returns and beta use
  only the dates both series have (date intersection), so both sides cover the same window.
- Volatility, max drawdown and beta use the last 252 daily returns (253 closes), or all that
  are available when fewer; the label states how many were used.
- Max drawdown is a fraction <= 0: -0.25 means a close 25% below the running peak close.
- Computed metrics have source "computed" and as_of = the last close's date at 00:00 UTC.
- Metric ids stay (`spy_return_*`, `excess_return_*`, `beta_1y`); their labels name the
  benchmark the provider gave (`evidence.benchmark_name`: "SPY", or "S&P 500 index" from the
  price store), so a memo's table names what its numbers were measured against.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime

from shared.domain.evidence import (
    BENCHMARK_SYMBOL,
    Completeness,
    MarketSnapshot,
    Metric,
    MetricUnit,
    PriceSeries,
    benchmark_name,
    finite_or_none,
)

COMPUTED = "computed"
WINDOWS: dict[str, int] = {"1m": 21, "3m": 63, "6m": 126, "1y": 252}
YEAR = WINDOWS["1y"]
MIN_WINDOW_RETURNS = 20
MIN_BETA_RETURNS = 60

# id, unit, label — in the order of the memo table.
_SPECS: tuple[tuple[str, MetricUnit, str], ...] = (
    ("price", "currency", "Price"),
    ("market_cap", "currency", "Market capitalization"),
    ("pe_ratio", "multiple", "P/E ratio (trailing)"),
    ("eps", "currency", "EPS (trailing)"),
    ("beta", "number", "Beta (reported by provider)"),
    ("week52_high", "currency", "52-week high"),
    ("week52_low", "currency", "52-week low"),
    ("range_position_52w", "fraction", "Position in 52-week range (0 = low, 1 = high)"),
    ("return_1m", "fraction", "Return, 1m (21 trading days)"),
    ("return_3m", "fraction", "Return, 3m (63 trading days)"),
    ("return_6m", "fraction", "Return, 6m (126 trading days)"),
    ("return_1y", "fraction", "Return, 1y (252 trading days)"),
    ("spy_return_1m", "fraction", "SPY return, 1m (21 trading days)"),
    ("spy_return_3m", "fraction", "SPY return, 3m (63 trading days)"),
    ("spy_return_6m", "fraction", "SPY return, 6m (126 trading days)"),
    ("spy_return_1y", "fraction", "SPY return, 1y (252 trading days)"),
    ("excess_return_1m", "fraction", "Excess return vs SPY, 1m (21 common trading days)"),
    ("excess_return_3m", "fraction", "Excess return vs SPY, 3m (63 common trading days)"),
    ("excess_return_6m", "fraction", "Excess return vs SPY, 6m (126 common trading days)"),
    ("excess_return_1y", "fraction", "Excess return vs SPY, 1y (252 common trading days)"),
    ("volatility_1y", "fraction", "Volatility, annualized (252 daily returns)"),
    ("max_drawdown_1y", "fraction", "Max drawdown, peak to trough, <= 0 (252 daily returns)"),
    ("beta_1y", "number", "Beta vs SPY, computed (252 common daily returns)"),
)

METRIC_IDS: tuple[str, ...] = tuple(spec[0] for spec in _SPECS)
METRIC_UNITS: dict[str, MetricUnit] = {spec[0]: spec[1] for spec in _SPECS}
METRIC_LABELS: dict[str, str] = {spec[0]: spec[2] for spec in _SPECS}

# Fundamentals copied from the snapshot: metric id -> (snapshot field, what it is called).
_FUNDAMENTALS: dict[str, tuple[str, str]] = {
    "price": ("price", "price"),
    "market_cap": ("market_cap", "market capitalization"),
    "pe_ratio": ("trailing_pe", "trailing P/E"),
    "eps": ("trailing_eps", "trailing EPS"),
    "beta": ("beta", "beta"),
    "week52_high": ("fifty_two_week_high", "52-week high"),
    "week52_low": ("fifty_two_week_low", "52-week low"),
}


def compute_metrics(
    snapshot: MarketSnapshot,
    benchmark: MarketSnapshot | None,
    benchmark_gap_reason: str | None = None,
) -> list[Metric]:
    """Every metric of METRIC_IDS, in that order, each either a finite value or missing with why.

    `benchmark` is the SPY snapshot; when it is None, `benchmark_gap_reason` says why and the
    benchmark-relative metrics are missing with "benchmark unavailable: <reason>".
    """
    series, series_reason = _usable_series(snapshot)
    if benchmark is None:
        bench: PriceSeries | None = None
        bench_reason = f"benchmark unavailable: {benchmark_gap_reason or 'no benchmark snapshot'}"
    else:
        bench, reason = _usable_series(benchmark)
        bench_reason = f"benchmark unavailable: {reason}"

    name = _benchmark_name(benchmark)
    metrics = [_fundamental(snapshot, metric_id) for metric_id in _FUNDAMENTALS]
    metrics.append(_range_position(snapshot, series))
    metrics += _returns("return", series, series_reason)
    metrics += _returns("spy_return", bench, bench_reason, name)
    metrics += _excess_returns(series, series_reason, bench, bench_reason, name)
    metrics.append(_volatility(series, series_reason))
    metrics.append(_max_drawdown(series, series_reason))
    metrics.append(_beta(series, series_reason, bench, bench_reason, name))
    return metrics


def _benchmark_name(benchmark: MarketSnapshot | None) -> str:
    if benchmark is None:
        return BENCHMARK_SYMBOL
    return benchmark_name(benchmark.series) if benchmark.series else benchmark.symbol


def benchmark_label(metric_id: str, name: str) -> str:
    """The label of a benchmark metric naming `name` in place of SPY (the default labels')."""
    return METRIC_LABELS[metric_id].replace(BENCHMARK_SYMBOL, name)


def completeness(metrics: list[Metric]) -> Completeness:
    """How much of METRIC_IDS is available: score = available / expected, rounded to 2 decimals.

    `missing` lists the ids that are missing (or absent from `metrics`) in METRIC_IDS order.
    The confidence stated in a memo may never exceed this score: the strategist's confidence is
    capped by it in code.
    """
    available_ids = {m.id for m in metrics if m.available}
    missing = [metric_id for metric_id in METRIC_IDS if metric_id not in available_ids]
    total = len(METRIC_IDS)
    available = total - len(missing)
    return Completeness(
        score=round(available / total, 2), available=available, total=total, missing=missing
    )


def _metric(
    metric_id: str,
    value: float | None,
    reason: str | None,
    *,
    source: str = COMPUTED,
    as_of: datetime | None = None,
    label: str | None = None,
) -> Metric:
    number = finite_or_none(value)
    if value is not None and number is None:
        reason = f"computation gave a non-finite value ({value!r})"
    return Metric(
        id=metric_id,
        label=label or METRIC_LABELS[metric_id],
        unit=METRIC_UNITS[metric_id],
        value=number,
        source=source,
        as_of=as_of,
        missing_reason=None if number is not None else reason,
    )


def _utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _usable_series(snapshot: MarketSnapshot) -> tuple[PriceSeries | None, str]:
    """The snapshot's series if it has closes, else None and the reason."""
    if snapshot.series is None:
        return None, f"no price series for {snapshot.symbol} from {snapshot.source}"
    if not snapshot.series.closes:
        return None, f"price series for {snapshot.symbol} from {snapshot.source} is empty"
    return snapshot.series, ""


def _simple_returns(closes: list[float]) -> list[float]:
    return [b / a - 1 for a, b in zip(closes, closes[1:], strict=False)]


def _common(ticker: PriceSeries, bench: PriceSeries) -> list[tuple[date, float, float]]:
    """(date, ticker close, benchmark close) for the dates both series have, oldest first."""
    bench_by_date = dict(zip(bench.dates, bench.closes, strict=True))
    return [
        (day, close, bench_by_date[day])
        for day, close in zip(ticker.dates, ticker.closes, strict=True)
        if day in bench_by_date
    ]


def _fundamental(snapshot: MarketSnapshot, metric_id: str) -> Metric:
    field, name = _FUNDAMENTALS[metric_id]
    value = finite_or_none(getattr(snapshot, field))
    reason = f"{snapshot.source} did not report a finite {name} for {snapshot.symbol}"
    if snapshot.point_in_time is not None:
        reason = (
            f"not available point in time: {snapshot.source} cannot give the {name} of "
            f"{snapshot.symbol} as of {snapshot.point_in_time.isoformat()}"
        )
    reason = snapshot.unavailable.get(field, reason)  # the provider's own reason, when it has one
    return _metric(metric_id, value, reason, source=snapshot.source, as_of=snapshot.as_of)


def _range_position(snapshot: MarketSnapshot, series: PriceSeries | None) -> Metric:
    metric_id = "range_position_52w"
    as_of = _utc(series.dates[-1]) if series else snapshot.as_of
    price = finite_or_none(snapshot.price)
    if price is None and series:
        price = series.closes[-1]
    high = finite_or_none(snapshot.fifty_two_week_high)
    low = finite_or_none(snapshot.fifty_two_week_low)
    label = f"{METRIC_LABELS[metric_id]}, {snapshot.source} high/low"
    if high is None or low is None:
        if series is None:
            reason = f"no 52-week high/low from {snapshot.source} and no price series to use"
            return _metric(metric_id, None, reason, as_of=as_of)
        window = series.closes[-YEAR:]
        high, low = max(window), min(window)
        label = f"{METRIC_LABELS[metric_id]}, high/low of the last {len(window)} closes"
    if price is None:
        return _metric(metric_id, None, "no price to place in the 52-week range", as_of=as_of)
    if high == low:
        reason = f"52-week high equals low ({high:g}): range position undefined"
        return _metric(metric_id, None, reason, as_of=as_of, label=label)
    if high < low:
        reason = f"52-week high {high:g} is below the low {low:g}"
        return _metric(metric_id, None, reason, as_of=as_of, label=label)
    return _metric(metric_id, (price - low) / (high - low), None, as_of=as_of, label=label)


def _returns(
    prefix: str, series: PriceSeries | None, reason: str, name: str | None = None
) -> list[Metric]:
    metrics = []
    for window, days in WINDOWS.items():
        metric_id = f"{prefix}_{window}"
        label = benchmark_label(metric_id, name) if name else None
        if series is None:
            metrics.append(_metric(metric_id, None, reason, label=label))
            continue
        closes, as_of = series.closes, _utc(series.dates[-1])
        if len(closes) < days + 1:
            short = (
                f"{series.symbol} series has {len(closes)} closes; "
                f"{days + 1} needed for {window} return"
            )
            metrics.append(_metric(metric_id, None, short, as_of=as_of, label=label))
        else:
            value = closes[-1] / closes[-1 - days] - 1
            metrics.append(_metric(metric_id, value, None, as_of=as_of, label=label))
    return metrics


def _excess_returns(
    series: PriceSeries | None,
    series_reason: str,
    bench: PriceSeries | None,
    bench_reason: str,
    name: str = BENCHMARK_SYMBOL,
) -> list[Metric]:
    labels = {w: benchmark_label(f"excess_return_{w}", name) for w in WINDOWS}
    if series is None or bench is None:
        reason = series_reason if series is None else bench_reason
        return [
            _metric(f"excess_return_{w}", None, reason, label=labels[w]) for w in WINDOWS
        ]
    common = _common(series, bench)
    as_of = _utc(common[-1][0]) if common else None
    metrics = []
    for window, days in WINDOWS.items():
        metric_id = f"excess_return_{window}"
        label = labels[window]
        if len(common) < days + 1:
            reason = (
                f"{series.symbol} and {bench.symbol} share {len(common)} dates; "
                f"{days + 1} needed for {window} excess return"
            )
            metrics.append(_metric(metric_id, None, reason, as_of=as_of, label=label))
            continue
        _, ticker_end, bench_end = common[-1]
        _, ticker_start, bench_start = common[-1 - days]
        excess = (ticker_end / ticker_start - 1) - (bench_end / bench_start - 1)
        metrics.append(_metric(metric_id, excess, None, as_of=as_of, label=label))
    return metrics


def _year_returns(series: PriceSeries, name: str) -> tuple[list[float], str | None, str]:
    """The last 252 daily returns (or all), a reason if fewer than 20, and a label naming both."""
    returns = _simple_returns(series.closes[-(YEAR + 1) :])
    if len(returns) < MIN_WINDOW_RETURNS:
        reason = (
            f"{series.symbol} series has {len(series.closes)} closes ({len(returns)} daily "
            f"returns); at least {MIN_WINDOW_RETURNS} needed for {name.split(',')[0].lower()}"
        )
        return returns, reason, name
    return returns, None, f"{name} ({len(returns)} daily returns)"


def _volatility(series: PriceSeries | None, series_reason: str) -> Metric:
    """Sample standard deviation of daily simple returns x sqrt(252), over _year_returns."""
    metric_id = "volatility_1y"
    if series is None:
        return _metric(metric_id, None, series_reason)
    returns, reason, label = _year_returns(series, "Volatility, annualized")
    as_of = _utc(series.dates[-1])
    if reason is not None:
        return _metric(metric_id, None, reason, as_of=as_of)
    value = statistics.stdev(returns) * math.sqrt(YEAR)
    return _metric(metric_id, value, None, as_of=as_of, label=label)


def _max_drawdown(series: PriceSeries | None, series_reason: str) -> Metric:
    """Worst close / running-peak close - 1 over the closes spanned by _year_returns (<= 0)."""
    metric_id = "max_drawdown_1y"
    if series is None:
        return _metric(metric_id, None, series_reason)
    returns, reason, label = _year_returns(series, "Max drawdown, peak to trough, <= 0")
    as_of = _utc(series.dates[-1])
    if reason is not None:
        return _metric(metric_id, None, reason, as_of=as_of)
    closes = series.closes[-(len(returns) + 1) :]
    peak, worst = closes[0], 0.0
    for close in closes:
        peak = max(peak, close)
        worst = min(worst, close / peak - 1)
    return _metric(metric_id, worst, None, as_of=as_of, label=label)


def _beta(
    series: PriceSeries | None,
    series_reason: str,
    bench: PriceSeries | None,
    bench_reason: str,
    name: str = BENCHMARK_SYMBOL,
) -> Metric:
    """cov(ticker, SPY) / var(SPY), sample statistics, over the last 252 common daily returns.

    Returns are taken between consecutive common dates, so both sides span the same interval.
    """
    metric_id = "beta_1y"
    named = benchmark_label(metric_id, name)
    if series is None or bench is None:
        reason = series_reason if series is None else bench_reason
        return _metric(metric_id, None, reason, label=named)
    common = _common(series, bench)[-(YEAR + 1) :]
    as_of = _utc(common[-1][0]) if common else None
    ticker_returns = _simple_returns([row[1] for row in common])
    bench_returns = _simple_returns([row[2] for row in common])
    if len(bench_returns) < MIN_BETA_RETURNS:
        reason = (
            f"{series.symbol} and {bench.symbol} share {len(bench_returns)} daily returns on "
            f"common dates; at least {MIN_BETA_RETURNS} needed for beta"
        )
        return _metric(metric_id, None, reason, as_of=as_of, label=named)
    variance = statistics.variance(bench_returns)
    if variance == 0:
        reason = "flat benchmark series: variance is zero"
        return _metric(metric_id, None, reason, as_of=as_of, label=named)
    value = statistics.covariance(ticker_returns, bench_returns) / variance
    label = f"Beta vs {name}, computed ({len(bench_returns)} common daily returns)"
    return _metric(metric_id, value, None, as_of=as_of, label=label)
