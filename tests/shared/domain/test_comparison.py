"""shared.domain.comparison: checked against an independent numpy computation."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import numpy as np
import pytest

from shared.domain.comparison import (
    PORTFOLIO_IDS,
    RANKING_METRICS,
    BatchMember,
    Comparison,
    compare,
    member_from_evidence,
)
from shared.domain.evidence import PriceSeries
from shared.domain.models import JobStatus, Verdict
from tests.shared.domain.comparison_samples import (
    batch,
    completed,
    failed,
    quant_for,
    series,
    walk,
    weekdays,
)


def aligned(members: list[BatchMember]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tickers, the shared dates (last 253) and the closes matrix, by numpy set operations."""
    done = [m for m in members if m.status is JobStatus.COMPLETED]
    assert all(m.quant and m.quant.ticker_series for m in done)
    day_sets = [np.array([d.toordinal() for d in m.quant.ticker_series.dates])  # type: ignore[union-attr]
                for m in done]
    shared = day_sets[0]
    for other in day_sets[1:]:
        shared = np.intersect1d(shared, other)
    shared = shared[-253:]
    closes = []
    for m in done:
        s = m.quant.ticker_series  # type: ignore[union-attr]
        ordinals = np.array([d.toordinal() for d in s.dates])
        closes.append(np.array(s.closes)[np.searchsorted(ordinals, shared)])
    return [m.ticker for m in done], shared, np.vstack(closes)


def numpy_figures(members: list[BatchMember], bench: PriceSeries) -> dict[str, object]:
    tickers, shared, closes = aligned(members)
    returns = closes[:, 1:] / closes[:, :-1] - 1
    corr = np.corrcoef(returns)
    portfolio = returns.mean(axis=0)
    wealth = np.concatenate([[1.0], np.cumprod(1 + portfolio)])
    drawdown = float(np.min(wealth / np.maximum.accumulate(wealth) - 1))
    vol = float(np.std(portfolio, ddof=1) * np.sqrt(252))
    member_vols = np.std(returns, axis=1, ddof=1) * np.sqrt(252)
    # beta on the window dates the benchmark has, returns between consecutive such dates
    bench_ordinals = np.array([d.toordinal() for d in bench.dates])
    keep = np.isin(shared, bench_ordinals)
    b_closes = np.array(bench.closes)[np.searchsorted(bench_ordinals, shared[keep])]
    w = wealth[keep]
    p_ret, b_ret = w[1:] / w[:-1] - 1, b_closes[1:] / b_closes[:-1] - 1
    cov = np.cov(np.vstack([p_ret, b_ret]))
    return {
        "tickers": tickers,
        "dates": len(shared),
        "corr": corr,
        "return": float(wealth[-1] - 1),
        "volatility": vol,
        "drawdown": drawdown,
        "beta": float(cov[0, 1] / cov[1, 1]),
        "beta_returns": len(b_ret),
        "diversification": float(member_vols.mean() / vol),
        "member_vols": member_vols,
    }


def value(comparison: Comparison, metric_id: str) -> float | None:
    metric = comparison.portfolio.metric(metric_id)
    assert metric is not None
    return metric.value


def test_compare_matches_numpy() -> None:
    members, spy = batch()
    comparison = compare(members)
    expected = numpy_figures(
        sorted([m for m in members if m.status is JobStatus.COMPLETED],
               key=lambda m: comparison.tickers.index(m.ticker)), spy)

    assert comparison.correlation is not None
    assert comparison.correlation.tickers == expected["tickers"] == ["BBB", "AAA", "CCC"]
    corr = expected["corr"]
    assert isinstance(corr, np.ndarray)
    assert comparison.correlation.rounded() == np.round(corr, 2).tolist()
    assert np.allclose(np.array(comparison.correlation.values, dtype=float), corr, atol=1e-12)

    window = comparison.portfolio.window
    assert window is not None and window == comparison.correlation.window
    assert window.dates == expected["dates"] == 253 and window.returns == 252
    assert value(comparison, "portfolio_return_1y") == pytest.approx(expected["return"], 1e-12)
    assert value(comparison, "portfolio_volatility_1y") == pytest.approx(
        expected["volatility"], 1e-12)
    assert value(comparison, "portfolio_max_drawdown_1y") == pytest.approx(
        expected["drawdown"], 1e-12)
    assert value(comparison, "portfolio_beta_1y") == pytest.approx(expected["beta"], 1e-12)
    assert comparison.portfolio.benchmark_returns == expected["beta_returns"] == 251
    assert value(comparison, "diversification_ratio") == pytest.approx(
        expected["diversification"], 1e-12)
    vols = [v.value for v in comparison.portfolio.member_volatilities]
    assert np.allclose(np.array(vols, dtype=float), expected["member_vols"], atol=1e-14)
    assert comparison.benchmark_symbol == "SPY"
    assert comparison.gaps == []


def test_dates_not_shared_are_excluded() -> None:
    members, spy = batch()
    before = compare(members)
    window = before.portfolio.window
    assert window is not None
    # Move AAA's close on a date that CCC does not have (CCC starts later): nothing changes.
    aaa = next(m for m in members if m.ticker == "AAA")
    assert aaa.quant is not None and aaa.quant.ticker_series is not None
    s = aaa.quant.ticker_series
    closes = list(s.closes)
    closes[3] *= 3
    aaa.quant.ticker_series = PriceSeries(symbol="AAA", dates=s.dates, closes=closes,
                                          source=s.source)
    after = compare(members)
    assert after.correlation == before.correlation
    assert after.portfolio == before.portfolio
    # and the window holds only dates every completed member has
    days = [set(m.quant.ticker_series.dates) for m in members  # type: ignore[union-attr]
            if m.quant is not None]
    assert window.start in set.intersection(*days) and window.end in set.intersection(*days)


def test_ranking_order_and_failed_member() -> None:
    members, _ = batch()
    members.append(
        BatchMember(ticker="ABC", job_id="job-abc", status=JobStatus.CANCELLED)
    )
    comparison = compare(members)
    rows = comparison.ranking
    assert [r.ticker for r in rows] == ["BBB", "AAA", "CCC", "ABC", "ZZZZ"]
    assert [r.rank for r in rows] == [1, 2, 3, None, None]
    failed_row = rows[-1]
    assert failed_row.status is JobStatus.FAILED and failed_row.error_code == "unknown_ticker"
    assert failed_row.metrics == [] and failed_row.verdict is None
    assert rows[3].error_code == "cancelled"
    assert "ZZZZ" not in comparison.portfolio.tickers
    assert comparison.correlation is not None and "ZZZZ" not in comparison.correlation.tickers
    assert comparison.counts.model_dump() == {
        "members": 5, "completed": 3, "not_completed": 2, "buy": 1, "hold": 2, "sell": 0,
    }
    # values come from the stored metrics, as they are
    bbb = rows[0]
    member = next(m for m in members if m.ticker == "BBB")
    assert member.quant is not None
    assert [m.id for m in bbb.metrics] == list(RANKING_METRICS)
    for metric in bbb.metrics:
        assert metric == member.quant.metric(metric.id)
    assert bbb.completeness == member.quant.completeness.score  # type: ignore[union-attr]
    gaps = {g.ticker: g.gaps for g in comparison.member_gaps}
    assert [(g.code, g.message) for g in gaps["ZZZZ"]] == [
        ("unknown_ticker", "the simulated market does not know it")]


def test_ranking_does_not_depend_on_submission_order() -> None:
    members, _ = batch()
    assert compare(members) == compare(list(reversed(members)))


def test_one_completed_member_has_no_correlation_but_says_why() -> None:
    members, _ = batch()
    only = [m for m in members if m.ticker in ("AAA", "ZZZZ")]
    comparison = compare(only)
    assert comparison.correlation is None
    gap = next(g for g in comparison.gaps if g.code == "correlation_unavailable")
    assert "at least 2" in gap.message
    assert value(comparison, "diversification_ratio") == pytest.approx(1.0)


def test_too_few_shared_dates_and_no_benchmark() -> None:
    days = weekdays(40)
    a = series("AAA", days[:25], walk(1, days[:25]))
    b = series("BBB", days[10:], walk(2, days[10:]))  # 15 shared dates: 14 returns
    comparison = compare([completed("AAA", quant_for("AAA", a, None)),
                          completed("BBB", quant_for("BBB", b, None))])
    assert comparison.correlation is None
    assert all(m.value is None and m.missing_reason for m in comparison.portfolio.metrics)
    codes = [g.code for g in comparison.gaps]
    assert "too_few_shared_returns" in codes
    assert [f"{i}_missing" for i in PORTFOLIO_IDS] == [c for c in codes if c.endswith("_missing")]

    long_days = weekdays(100)
    a = series("AAA", long_days, walk(1, long_days))
    b = series("BBB", long_days, walk(2, long_days))
    comparison = compare([completed("AAA", quant_for("AAA", a, None)),
                          completed("BBB", quant_for("BBB", b, None))])
    beta = comparison.portfolio.metric("portfolio_beta_1y")
    assert beta is not None and beta.value is None
    assert beta.missing_reason == "no benchmark series in any completed member's evidence"
    assert value(comparison, "portfolio_volatility_1y") is not None
    assert comparison.benchmark_symbol == "SPY"
    assert "portfolio_beta_1y_missing" in [g.code for g in comparison.gaps]


def test_benchmark_symbol_from_the_evidence() -> None:
    days = weekdays(80)
    bench = series("QQQ", days, walk(9, days))
    a = series("AAA", days, walk(1, days))
    b = series("BBB", days, walk(2, days))
    comparison = compare([completed("AAA", quant_for("AAA", a, bench)),
                          completed("BBB", quant_for("BBB", b, bench))])
    assert comparison.benchmark_symbol == "QQQ"
    assert value(comparison, "portfolio_beta_1y") is not None


def test_simulated_when_any_input_is() -> None:
    days = weekdays(80)
    a = series("AAA", days, walk(1, days))
    real = completed("AAA", quant_for("AAA", a, None, simulated=False))
    sim = completed("BBB", quant_for("BBB", series("BBB", days, walk(2, days)), None))
    assert compare([real]).simulated is False
    assert compare([real, sim]).simulated is True
    assert compare([real, failed("ZZZZ")]).simulated is False


def test_member_from_the_evidence_document_and_json_round_trip() -> None:
    members, _ = batch()
    member = next(m for m in members if m.ticker == "BBB")
    assert member.quant is not None and member.decision is not None and member.news
    document = {
        "job_id": member.job_id,
        "ticker": "BBB",
        "created_at": datetime(2026, 1, 2, tzinfo=UTC).isoformat(),
        "evidence_hash": "cd" * 32,
        "quant": member.quant.model_dump(mode="json", exclude={"note", "usage"}),
        "news": member.news.model_dump(mode="json"),
        "quant_note": member.quant.note.model_dump(mode="json") if member.quant.note else None,
        "decision": member.decision.model_dump(mode="json"),
    }
    document = json.loads(json.dumps(document))
    rebuilt = member_from_evidence(document, member.job_id, "BBB", "BBB/x/memo.md")
    assert rebuilt.status is JobStatus.COMPLETED and rebuilt.evidence_hash == "cd" * 32
    assert rebuilt.quant == member.quant and rebuilt.decision == member.decision
    assert rebuilt.memo_blob == "BBB/x/memo.md"
    with pytest.raises(ValueError):
        member_from_evidence(document, "another-job", "BBB", None)

    comparison = compare(members)
    again = Comparison.model_validate_json(comparison.model_dump_json())
    assert again == comparison


def test_flat_member_has_undefined_correlations() -> None:
    days = weekdays(60)
    flat = series("FLAT", days, [10.0] * len(days))
    moving = series("MOVE", days, walk(3, days))
    other = series("OTHR", days, walk(4, days))
    comparison = compare([completed(s.symbol, quant_for(s.symbol, s, None), Verdict.HOLD)
                          for s in (flat, moving, other)])
    assert comparison.correlation is not None
    matrix = comparison.correlation.values
    index = comparison.correlation.tickers.index("FLAT")
    assert all(v is None for v in matrix[index])
    assert all(row[index] is None for row in matrix)
    assert "flat_series" in [g.code for g in comparison.gaps]
    assert all(v is None or math.isfinite(v) for row in matrix for v in row)
