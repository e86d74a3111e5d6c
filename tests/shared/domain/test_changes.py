"""shared.domain.changes: what changed since the last memo, against an independent computation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from shared.domain.changes import KEY_METRICS, ChangeSet, compute_changes, flag_key
from shared.domain.evidence import NewsResult, PriceSeries, QuantNote, QuantResult
from shared.domain.models import Verdict
from tests.shared.agents.llm_samples import CALM_NEWS, article, news, quant_result

PREVIOUS_AT = datetime(2024, 4, 20, 21, 5, tzinfo=UTC)


def business_days(start: date, count: int) -> list[date]:
    days, day = [], start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def series(symbol: str, dates: list[date], seed: int) -> PriceSeries:
    rng = np.random.default_rng(seed)
    closes = 100 * np.cumprod(1 + rng.normal(0.0005, 0.015, len(dates)))
    return PriceSeries(symbol=symbol, dates=dates, closes=[float(c) for c in closes], source="t")


def current(dates: list[date], red_flags: list[str] | None = None) -> QuantResult:
    result = quant_result()
    result.ticker_series = series("TEST", dates, 1)
    result.benchmark_series = series("SPY", dates, 2)
    result.note = QuantNote(
        text="note", red_flags=red_flags or [], cited_metrics=[], writer="offline-rules"
    )
    return result


def previous_document(
    last_date: date | None,
    metrics: dict[str, float | None] | None = None,
    red_flags: list[str] | None = None,
    news_result: NewsResult | None = None,
) -> dict[str, Any]:
    ticker_series = (
        {"symbol": "TEST", "dates": ["2024-01-02", last_date.isoformat()], "closes": [1, 2],
         "source": "t"}
        if last_date is not None
        else None
    )
    rows = [{"id": k, "value": v} for k, v in (metrics or {}).items()]
    return {
        "job_id": "a" * 32,
        "ticker": "TEST",
        "quant": {"ticker_series": ticker_series, "metrics": rows},
        "news": (news_result or news()).model_dump(mode="json"),
        "quant_note": {"red_flags": red_flags or []},
        "decision": {"verdict": "hold", "confidence": 0.4},
    }


def changes_of(document: dict[str, Any], quant: QuantResult, news_result: NewsResult) -> ChangeSet:
    return compute_changes(
        document,
        quant,
        news_result,
        (Verdict.HOLD, 0.4),
        previous_job_id="a" * 32,
        previous_completed_at=PREVIOUS_AT,
    )


def independent_excess(quant: QuantResult, then: date) -> tuple[float, float, float]:
    """(excess, stock, benchmark) with numpy: the last close on or before `then`, and the
    last close of the ticker (the benchmark's last close on or before that day)."""
    assert quant.ticker_series is not None and quant.benchmark_series is not None
    t_dates = np.array(quant.ticker_series.dates, dtype="datetime64[D]")
    b_dates = np.array(quant.benchmark_series.dates, dtype="datetime64[D]")
    t_close = np.array(quant.ticker_series.closes)
    b_close = np.array(quant.benchmark_series.closes)
    then64 = np.datetime64(then)
    i_then = np.nonzero(t_dates <= then64)[0].max()
    j_then = np.nonzero(b_dates <= then64)[0].max()
    j_now = np.nonzero(b_dates <= t_dates[-1])[0].max()
    stock = t_close[-1] / t_close[i_then] - 1
    bench = b_close[j_now] / b_close[j_then] - 1
    return float(stock - bench), float(stock), float(bench)


def test_realised_excess_return_matches_numpy_with_a_weekend_previous_date() -> None:
    dates = business_days(date(2024, 1, 2), 90)
    quant = current(dates)
    then = date(2024, 3, 16)  # a Saturday: "then" is Friday's close
    assert then.weekday() == 5

    changes = changes_of(previous_document(then), quant, CALM_NEWS)

    excess, stock, bench = independent_excess(quant, then)
    assert changes.realised_excess_return == pytest.approx(excess, abs=1e-12)
    assert changes.ticker_return == pytest.approx(stock, abs=1e-12)
    assert changes.benchmark_return == pytest.approx(bench, abs=1e-12)
    assert changes.window_start == date(2024, 3, 15) and changes.window_end == dates[-1]
    assert changes.previous_evidence_date == then
    assert changes.benchmark_symbol == "SPY" and changes.realised_reason is None
    assert changes.verdict_before is Verdict.HOLD and changes.confidence_before == 0.4
    assert changes.verdict_after is None and changes.verdict_changed is None


def test_benchmark_with_a_missing_day_uses_its_close_on_or_before() -> None:
    dates = business_days(date(2024, 1, 2), 60)
    quant = current(dates)
    assert quant.benchmark_series is not None
    bench_dates = dates[:-1]  # the benchmark lacks the ticker's last day
    quant.benchmark_series = series("SPY", bench_dates, 5)
    then = dates[30]

    changes = changes_of(previous_document(then), quant, CALM_NEWS)

    assert changes.realised_excess_return == pytest.approx(
        independent_excess(quant, then)[0], abs=1e-12
    )


def test_window_not_covered_is_none_with_a_reason() -> None:
    dates = business_days(date(2024, 3, 1), 30)
    quant = current(dates)

    before = changes_of(previous_document(date(2024, 2, 1)), quant, CALM_NEWS)
    undated = changes_of(previous_document(None), quant, CALM_NEWS)
    newer = changes_of(previous_document(dates[-1] + timedelta(days=3)), quant, CALM_NEWS)
    quant.benchmark_series = None
    no_bench = changes_of(previous_document(dates[3]), quant, CALM_NEWS)

    for changes in (before, undated, newer, no_bench):
        assert changes.realised_excess_return is None and changes.realised_reason
    assert "2024-02-01" in (before.realised_reason or "")


def test_same_day_is_zero() -> None:
    dates = business_days(date(2024, 1, 2), 30)
    quant = current(dates)
    changes = changes_of(previous_document(dates[-1]), quant, CALM_NEWS)
    assert changes.realised_excess_return == 0.0


def test_key_metric_moves() -> None:
    quant = current(business_days(date(2024, 1, 2), 30))
    before = {"price": 170.0, "return_1y": 0.2, "pe_ratio": None, "volatility_1y": 0.3}

    changes = changes_of(previous_document(None, before), quant, news())
    moves = {m.id: m for m in changes.metric_moves}

    assert list(moves) == list(KEY_METRICS)
    assert moves["price"].before == 170.0 and moves["price"].after == 187.42
    assert moves["price"].change == pytest.approx(17.42)
    assert moves["return_1y"].change == pytest.approx(0.1234 - 0.2)
    assert moves["pe_ratio"].before is None and moves["pe_ratio"].change is None
    assert moves["beta_1y"].before is None and moves["beta_1y"].after == 1.07


def test_red_flags_appeared_and_gone_by_the_metrics_they_cite() -> None:
    old = [
        "1y volatility 45.0% [volatility_1y] is above 40.0%.",
        "P/E 52.0x [pe_ratio] is above 40.0x: the price assumes a lot of growth.",
    ]
    new = [
        "1y volatility 47.2% [volatility_1y] is above 40.0%.",  # the same flag, moved
        "1y max drawdown -31.0% [max_drawdown_1y] is worse than -25.0%.",
    ]
    quant = current(business_days(date(2024, 1, 2), 30), red_flags=new)

    changes = changes_of(previous_document(None, red_flags=old), quant, news())

    assert changes.red_flags_appeared == [new[1]]
    assert changes.red_flags_gone == [old[1]]
    assert flag_key("Only 10 of 23 metrics are available (completeness 0.43).") == flag_key(
        "Only 12 of 23 metrics are available (completeness 0.52)."
    )


def test_new_news_items_are_those_the_previous_evidence_lacks() -> None:
    seen = article("n1", "old")
    before = news(seen)
    now = news(article("n1", "a new one", "Another story"), seen.model_copy(update={"id": "n2"}))
    # Article ids are positions: the url says which story it is.
    now.articles[0].url = "https://news.example/fresh"

    changes = changes_of(previous_document(None, news_result=before),
                         current(business_days(date(2024, 1, 2), 5)), now)

    assert [a.url for a in changes.new_articles] == ["https://news.example/fresh"]


def test_decided_sets_the_after() -> None:
    quant = current(business_days(date(2024, 1, 2), 30))
    changes = changes_of(previous_document(None), quant, news()).decided(Verdict.BUY, 0.6)
    assert changes.verdict_after is Verdict.BUY and changes.confidence_after == 0.6
    assert changes.verdict_changed is True
