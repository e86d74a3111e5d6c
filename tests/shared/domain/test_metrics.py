"""Metrics checked against independent numpy/pandas computations on known series."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from shared.domain.evidence import MarketSnapshot, Metric, PriceSeries
from shared.domain.metrics import (
    METRIC_IDS,
    METRIC_LABELS,
    METRIC_UNITS,
    completeness,
    compute_metrics,
)

AS_OF = datetime(2025, 6, 13, 21, 0, tzinfo=UTC)
WINDOWS = {"1m": 21, "3m": 63, "6m": 126, "1y": 252}
REL = 1e-9


def weekdays(count: int, end: date = date(2025, 6, 13)) -> list[date]:
    days: list[date] = []
    day = end
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


def random_closes(count: int, seed: int, vol: float = 0.02, start: float = 100.0) -> list[float]:
    rng = np.random.default_rng(seed)
    return [float(x) for x in start * np.exp(np.cumsum(rng.normal(0.0003, vol, count)))]


def snapshot(
    symbol: str,
    closes: list[float] | None,
    dates: list[date] | None = None,
    **fields: object,
) -> MarketSnapshot:
    series = None
    if closes is not None:
        dates = dates if dates is not None else weekdays(len(closes))
        series = PriceSeries(symbol=symbol, dates=dates, closes=closes, source="test")
    defaults: dict[str, object] = {
        "price": closes[-1] if closes else 10.0,
        "market_cap": 1.5e12,
        "trailing_pe": 25.0,
        "trailing_eps": 4.0,
        "beta": 1.2,
        "fifty_two_week_high": max(closes) if closes else 12.0,
        "fifty_two_week_low": min(closes) if closes else 8.0,
    }
    defaults.update(fields)
    return MarketSnapshot(symbol=symbol, source="test", as_of=AS_OF, series=series, **defaults)


def by_id(metrics: list[Metric]) -> dict[str, Metric]:
    return {m.id: m for m in metrics}


def frame(snap: MarketSnapshot) -> pd.Series:
    assert snap.series is not None
    return pd.Series(snap.series.closes, index=pd.to_datetime(snap.series.dates))


def assert_well_formed(metrics: list[Metric]) -> None:
    """Every id once, in METRIC_IDS order; values finite or None with a reason."""
    assert [m.id for m in metrics] == list(METRIC_IDS)
    for m in metrics:
        assert m.unit == METRIC_UNITS[m.id]
        if m.value is None:
            assert m.missing_reason, m.id
        else:
            assert math.isfinite(m.value), m.id
            assert m.missing_reason is None


# Independent references (pandas/numpy), written without looking at shared.domain.metrics' helpers.


def ref_return(closes: pd.Series, n: int) -> float:
    return float(closes.iloc[-1] / closes.iloc[-1 - n] - 1)


def ref_volatility(closes: pd.Series) -> float:
    returns = closes.pct_change().dropna().tail(252)
    return float(returns.std(ddof=1) * math.sqrt(252))


def ref_drawdown(closes: pd.Series) -> float:
    window = closes.tail(253)
    return float((window / window.cummax() - 1).min())


def ref_common(ticker: pd.Series, bench: pd.Series) -> pd.DataFrame:
    return pd.concat({"t": ticker, "b": bench}, axis=1, join="inner")


def ref_beta(ticker: pd.Series, bench: pd.Series) -> float:
    returns = ref_common(ticker, bench).pct_change().dropna().tail(252)
    cov = np.cov(returns["t"].to_numpy(), returns["b"].to_numpy(), ddof=1)
    return float(cov[0, 1] / cov[1, 1])


def ref_excess(ticker: pd.Series, bench: pd.Series, n: int) -> float:
    common = ref_common(ticker, bench)
    return ref_return(common["t"], n) - ref_return(common["b"], n)


# Catalogue


def test_metric_ids_are_unique_and_labelled() -> None:
    assert len(set(METRIC_IDS)) == len(METRIC_IDS) == 23
    assert set(METRIC_LABELS) == set(METRIC_UNITS) == set(METRIC_IDS)
    assert METRIC_IDS[:7] == (
        "price", "market_cap", "pe_ratio", "eps", "beta", "week52_high", "week52_low",
    )


# Hand-checkable


def test_hand_checkable_short_series() -> None:
    # 22 closes: 1m return = 117/100 - 1; worst fall is 120 -> 90 = -25%.
    closes = [100.0, 120.0, 90.0] + [100.0] * 17 + [130.0, 117.0]
    snap = snapshot("HAND", closes)
    metrics = compute_metrics(snap, None, "SPY fetch failed")
    assert_well_formed(metrics)
    m = by_id(metrics)

    assert m["return_1m"].value == pytest.approx(0.17, rel=REL)
    assert m["return_1m"].source == "computed"
    assert m["return_1m"].as_of == datetime(2025, 6, 13, tzinfo=UTC)
    assert m["max_drawdown_1y"].value == pytest.approx(-0.25, rel=REL)
    assert m["volatility_1y"].value == pytest.approx(ref_volatility(frame(snap)), rel=REL)
    assert "21 daily returns" in m["volatility_1y"].label
    assert "21 daily returns" in m["max_drawdown_1y"].label

    assert m["return_3m"].value is None
    assert m["return_3m"].missing_reason == "HAND series has 22 closes; 64 needed for 3m return"
    for metric_id in ("spy_return_1m", "excess_return_3m", "beta_1y"):
        assert m[metric_id].value is None
        assert m[metric_id].missing_reason == "benchmark unavailable: SPY fetch failed"


def test_hand_checkable_range_position() -> None:
    snap = snapshot("HAND", [10.0] * 5, price=15.0, fifty_two_week_high=20.0,
                    fifty_two_week_low=10.0)
    m = by_id(compute_metrics(snap, None))
    assert m["range_position_52w"].value == pytest.approx(0.5)
    assert m["range_position_52w"].source == "computed"


# A full year and more, against pandas/numpy


def test_full_series_against_reference() -> None:
    ticker = snapshot("ACME", random_closes(300, seed=1, vol=0.025))
    bench = snapshot("SPY", random_closes(300, seed=2, vol=0.01))
    metrics = compute_metrics(ticker, bench)
    assert_well_formed(metrics)
    m = by_id(metrics)
    t, b = frame(ticker), frame(bench)

    for window, n in WINDOWS.items():
        assert m[f"return_{window}"].value == pytest.approx(ref_return(t, n), rel=REL)
        assert m[f"spy_return_{window}"].value == pytest.approx(ref_return(b, n), rel=REL)
        assert m[f"excess_return_{window}"].value == pytest.approx(
            ref_return(t, n) - ref_return(b, n), rel=REL
        )
    assert m["volatility_1y"].value == pytest.approx(ref_volatility(t), rel=REL)
    assert m["volatility_1y"].label == "Volatility, annualized (252 daily returns)"
    assert m["max_drawdown_1y"].value == pytest.approx(ref_drawdown(t), rel=REL)
    drawdown = m["max_drawdown_1y"].value
    assert drawdown is not None and drawdown < 0
    assert m["beta_1y"].value == pytest.approx(ref_beta(t, b), rel=REL)
    assert "252 common daily returns" in m["beta_1y"].label

    assert m["price"].value == ticker.price
    assert m["price"].source == "test"
    assert m["price"].as_of == AS_OF
    position = (t.iloc[-1] - t.min()) / (t.max() - t.min())
    assert m["range_position_52w"].value == pytest.approx(position, rel=REL)
    assert completeness(metrics).score == 1.0


def test_correlated_series_beta_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    market = rng.normal(0, 0.01, 260)
    stock = 1.5 * market + rng.normal(0, 0.005, 260)
    bench = snapshot("SPY", [float(x) for x in 400 * np.cumprod(1 + market)])
    ticker = snapshot("LEV", [float(x) for x in 50 * np.cumprod(1 + stock)])
    m = by_id(compute_metrics(ticker, bench))
    assert m["beta_1y"].value == pytest.approx(ref_beta(frame(ticker), frame(bench)), rel=REL)
    assert m["beta_1y"].value == pytest.approx(1.5, abs=0.1)


def test_range_position_falls_back_to_series() -> None:
    closes = random_closes(300, seed=3)
    snap = snapshot("ACME", closes, fifty_two_week_high=None, fifty_two_week_low=float("nan"))
    m = by_id(compute_metrics(snap, None))
    last_year = pd.Series(closes).tail(252)
    expected = (closes[-1] - last_year.min()) / (last_year.max() - last_year.min())
    assert m["range_position_52w"].value == pytest.approx(expected, rel=REL)
    assert "last 252 closes" in m["range_position_52w"].label
    assert m["week52_high"].value is None and m["week52_low"].value is None


# Flat series


def test_flat_series() -> None:
    flat = snapshot("FLAT", [50.0] * 300)
    bench = snapshot("SPY", random_closes(300, seed=4))
    m = by_id(compute_metrics(flat, bench))
    assert m["volatility_1y"].value == 0.0
    assert m["volatility_1y"].value == ref_volatility(frame(flat))
    assert m["max_drawdown_1y"].value == 0.0
    for window in WINDOWS:
        assert m[f"return_{window}"].value == 0.0
    assert m["beta_1y"].value == pytest.approx(0.0, abs=1e-15)  # a flat stock has no beta
    assert m["range_position_52w"].value is None
    assert m["range_position_52w"].missing_reason == (
        "52-week high equals low (50): range position undefined"
    )


def test_beta_against_flat_benchmark_is_missing() -> None:
    ticker = snapshot("ACME", random_closes(300, seed=5))
    m = by_id(compute_metrics(ticker, snapshot("SPY", [400.0] * 300)))
    assert m["beta_1y"].value is None
    assert m["beta_1y"].missing_reason == "flat benchmark series: variance is zero"
    assert m["spy_return_1y"].value == 0.0  # a flat benchmark's return is a real 0


# Missing days


@pytest.mark.parametrize("gappy", ["ticker", "benchmark"])
def test_missing_days_align_on_common_dates(gappy: str) -> None:
    dates = weekdays(300)
    dropped = {3, 50, 51, 120, 200, 280, 290, 295}
    kept = [i for i in range(300) if i not in dropped]
    ticker_closes = random_closes(300, seed=6, vol=0.03)
    bench_closes = random_closes(300, seed=8, vol=0.01)
    if gappy == "ticker":
        ticker = snapshot("ACME", [ticker_closes[i] for i in kept], [dates[i] for i in kept])
        bench = snapshot("SPY", bench_closes, dates)
    else:
        ticker = snapshot("ACME", ticker_closes, dates)
        bench = snapshot("SPY", [bench_closes[i] for i in kept], [dates[i] for i in kept])
    metrics = compute_metrics(ticker, bench)
    assert_well_formed(metrics)
    m = by_id(metrics)
    t, b = frame(ticker), frame(bench)

    for window, n in WINDOWS.items():
        # Own trading days for each series' returns, common days for the excess.
        assert m[f"return_{window}"].value == pytest.approx(ref_return(t, n), rel=REL)
        assert m[f"spy_return_{window}"].value == pytest.approx(ref_return(b, n), rel=REL)
        assert m[f"excess_return_{window}"].value == pytest.approx(
            ref_excess(t, b, n), rel=REL
        )
    assert m["beta_1y"].value == pytest.approx(ref_beta(t, b), rel=REL)
    assert m["volatility_1y"].value == pytest.approx(ref_volatility(t), rel=REL)
    assert m["max_drawdown_1y"].value == pytest.approx(ref_drawdown(t), rel=REL)
    # The gap matters: the common-day excess is not the difference of own-day returns.
    assert m["excess_return_1m"].value != pytest.approx(
        ref_return(t, 21) - ref_return(b, 21), rel=1e-6
    )


# Shorter than a year


def test_short_series_reports_what_it_cannot_compute() -> None:
    ticker = snapshot("NEW", random_closes(100, seed=9))
    bench = snapshot("SPY", random_closes(300, seed=10, vol=0.01))
    metrics = compute_metrics(ticker, bench)
    assert_well_formed(metrics)
    m = by_id(metrics)
    t, b = frame(ticker), frame(bench)

    assert m["return_3m"].value == pytest.approx(ref_return(t, 63), rel=REL)
    assert m["return_6m"].value is None
    assert m["return_6m"].missing_reason == "NEW series has 100 closes; 127 needed for 6m return"
    assert m["return_1y"].missing_reason == "NEW series has 100 closes; 253 needed for 1y return"
    assert m["spy_return_1y"].value == pytest.approx(ref_return(b, 252), rel=REL)
    assert m["excess_return_3m"].value == pytest.approx(ref_excess(t, b, 63), rel=REL)
    assert m["excess_return_6m"].missing_reason == (
        "NEW and SPY share 100 dates; 127 needed for 6m excess return"
    )
    assert m["volatility_1y"].value == pytest.approx(ref_volatility(t), rel=REL)
    assert m["volatility_1y"].label == "Volatility, annualized (99 daily returns)"
    assert m["beta_1y"].value == pytest.approx(ref_beta(t, b), rel=REL)
    assert "99 common daily returns" in m["beta_1y"].label

    report = completeness(metrics)
    assert report.missing == [
        "return_6m", "return_1y", "excess_return_6m", "excess_return_1y",
    ]
    assert report.available == 19 and report.total == 23
    assert report.score == round(19 / 23, 2)


def test_beta_needs_sixty_common_returns() -> None:
    ticker = snapshot("NEW", random_closes(60, seed=11))  # 59 returns
    bench = snapshot("SPY", random_closes(300, seed=12))
    m = by_id(compute_metrics(ticker, bench))
    assert m["beta_1y"].value is None
    assert m["beta_1y"].missing_reason == (
        "NEW and SPY share 59 daily returns on common dates; at least 60 needed for beta"
    )
    enough = by_id(compute_metrics(snapshot("NEW", random_closes(61, seed=11)), bench))
    assert enough["beta_1y"].value is not None


def test_beta_counts_common_days_not_own_days() -> None:
    dates = weekdays(130)
    ticker = snapshot("ACME", random_closes(130, seed=13), dates)
    # The benchmark covers 130 days too, but only 50 of them coincide with the ticker's.
    bench_dates = dates[:50] + [d + timedelta(days=400) for d in dates[50:]]
    bench = snapshot("SPY", random_closes(130, seed=14), sorted(bench_dates))
    m = by_id(compute_metrics(ticker, bench))
    assert m["beta_1y"].value is None
    assert "share 49 daily returns" in (m["beta_1y"].missing_reason or "")


def test_volatility_and_drawdown_need_twenty_returns() -> None:
    m = by_id(compute_metrics(snapshot("NEW", random_closes(20, seed=15)), None))
    for metric_id in ("volatility_1y", "max_drawdown_1y"):
        assert m[metric_id].value is None
        assert "19 daily returns" in (m[metric_id].missing_reason or "")
    assert m["volatility_1y"].missing_reason == (
        "NEW series has 20 closes (19 daily returns); at least 20 needed for volatility"
    )
    ok = by_id(compute_metrics(snapshot("NEW", random_closes(21, seed=15)), None))
    assert ok["volatility_1y"].value == pytest.approx(
        ref_volatility(pd.Series(random_closes(21, seed=15))), rel=REL
    )


def test_missing_values_are_none_never_nan_or_zero() -> None:
    metrics = compute_metrics(snapshot("NEW", random_closes(30, seed=16)), None, "timeout")
    missing = [m for m in metrics if not m.available]
    assert {m.id for m in missing} >= {"return_3m", "spy_return_1m", "beta_1y"}
    for m in missing:
        assert m.value is None
        assert m.missing_reason
    assert all(m.value is None or math.isfinite(m.value) for m in metrics)


# No series, no benchmark series


def test_no_series_and_benchmark_without_series() -> None:
    ticker = snapshot("ACME", None)
    bench = snapshot("SPY", None)
    metrics = compute_metrics(ticker, bench)
    assert_well_formed(metrics)
    m = by_id(metrics)
    assert m["price"].value == 10.0
    assert m["return_1m"].missing_reason == "no price series for ACME from test"
    assert m["spy_return_1m"].missing_reason == (
        "benchmark unavailable: no price series for SPY from test"
    )
    assert m["beta_1y"].missing_reason == "no price series for ACME from test"
    assert m["range_position_52w"].value == pytest.approx(0.5)  # snapshot fields suffice


def test_benchmark_missing_without_reason() -> None:
    m = by_id(compute_metrics(snapshot("ACME", random_closes(300, seed=17)), None))
    assert m["excess_return_1y"].missing_reason == "benchmark unavailable: no benchmark snapshot"


# Fundamentals


def test_nan_and_inf_fundamentals_are_missing() -> None:
    snap = snapshot(
        "ACME", random_closes(30, seed=18),
        trailing_pe=float("nan"), market_cap=float("inf"), beta=None, trailing_eps="n/a",
    )
    m = by_id(compute_metrics(snap, None))
    for metric_id, name in [
        ("pe_ratio", "trailing P/E"), ("market_cap", "market capitalization"),
        ("beta", "beta"), ("eps", "trailing EPS"),
    ]:
        assert m[metric_id].value is None
        assert m[metric_id].missing_reason == f"test did not report a finite {name} for ACME"
        assert m[metric_id].source == "test"


def test_non_finite_fundamentals_that_skipped_validation_are_missing() -> None:
    # model_copy(update=...) bypasses validators; compute_metrics must still refuse NaN.
    snap = snapshot("ACME", random_closes(30, seed=19)).model_copy(
        update={"trailing_pe": float("nan"), "price": float("-inf")}
    )
    m = by_id(compute_metrics(snap, None))
    assert m["pe_ratio"].value is None and m["price"].value is None
    # Range position falls back to the last close when the price is unusable.
    assert m["range_position_52w"].value is not None


def test_range_position_missing_without_anything_to_use() -> None:
    snap = snapshot("ACME", None, fifty_two_week_high=None)
    m = by_id(compute_metrics(snap, None))
    assert m["range_position_52w"].value is None
    assert m["range_position_52w"].missing_reason == (
        "no 52-week high/low from test and no price series to use"
    )


# Completeness


def test_completeness_counts_expected_ids_only() -> None:
    metrics = compute_metrics(snapshot("ACME", None), None, "down")
    report = completeness(metrics)
    assert report.total == len(METRIC_IDS)
    assert report.available == 8  # seven fundamentals and the range position
    assert report.score == round(8 / 23, 2)
    assert report.missing == [i for i in METRIC_IDS if i not in by_id(metrics) or
                              not by_id(metrics)[i].available]
    # Absent ids count as missing; unknown ids do not count.
    extra = Metric(id="made_up", label="x", unit="number", value=1.0, source="test")
    partial = completeness([m for m in metrics if m.id != "price"] + [extra])
    assert partial.available == 7
    assert partial.missing[0] == "price"
    assert completeness([]).score == 0.0
