"""Synthetic batch members for the comparison's tests: seeded random walks on chosen dates,
their metrics computed by the app's own `compute_metrics`, wrapped as stored evidence."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from shared.domain.comparison import BatchMember
from shared.domain.evidence import (
    DataGap,
    Decision,
    MarketSnapshot,
    NewsArticle,
    NewsResult,
    PriceSeries,
    QuantNote,
    QuantResult,
)
from shared.domain.metrics import completeness, compute_metrics
from shared.domain.models import Grounding, JobStatus, Verdict

START = date(2025, 1, 6)


def weekdays(count: int, start: date = START) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def walk(seed: int, days: list[date], *, drift: float = 0.0004, vol: float = 0.015,
         market: list[float] | None = None, beta: float = 1.0) -> list[float]:
    """Closes of a geometric random walk, loading on `market` shocks when given."""
    rng = random.Random(seed)
    closes, level = [], 100.0 + seed
    for i in range(len(days)):
        shock = rng.gauss(drift, vol)
        if market is not None:
            shock = beta * market[i] + rng.gauss(0.0, vol)
        level *= 1 + shock
        closes.append(round(level, 4))
    return closes


def series(symbol: str, days: list[date], closes: list[float]) -> PriceSeries:
    return PriceSeries(symbol=symbol, dates=days, closes=closes, source="simulated")


def quant_for(
    ticker: str,
    ticker_series: PriceSeries | None,
    bench: PriceSeries | None,
    *,
    simulated: bool = True,
    company_name: str | None = None,
    pe: float | None = 24.5,
    gaps: list[DataGap] | None = None,
) -> QuantResult:
    as_of = datetime(2026, 1, 2, tzinfo=UTC)
    snapshot = MarketSnapshot(
        symbol=ticker, source="simulated", as_of=as_of, currency="USD",
        name=company_name, price=ticker_series.closes[-1] if ticker_series else None,
        trailing_pe=pe, series=ticker_series, simulated=simulated,
    )
    bench_snapshot = (
        MarketSnapshot(symbol=bench.symbol, source="simulated", as_of=as_of, series=bench)
        if bench is not None else None
    )
    metrics = compute_metrics(snapshot, bench_snapshot, "no benchmark in this test")
    return QuantResult(
        ticker=ticker,
        outcome="ok",
        company_name=company_name,
        currency="USD",
        simulated=simulated,
        market_source="simulated" if simulated else "yfinance",
        metrics=metrics,
        completeness=completeness(metrics),
        gaps=gaps or [],
        ticker_series=ticker_series,
        benchmark_series=bench,
        note=QuantNote(text="note", red_flags=[], cited_metrics=[], writer="offline-rules"),
    )


def decision(verdict: Verdict, confidence: float, writer: str = "offline-rules") -> Decision:
    return Decision(verdict=verdict, confidence=confidence, thesis="t", risks=[], writer=writer,
                    grounding=Grounding.NOT_APPLICABLE)


def news(title: str = "Steady quarter", url: str | None = "https://news.example/1") -> NewsResult:
    return NewsResult(
        provider="firecrawl", status="ok",
        articles=[NewsArticle(id="n1", title=title, url=url, source="Wire")],
    )


def completed(
    ticker: str,
    quant: QuantResult,
    verdict: Verdict = Verdict.HOLD,
    confidence: float = 0.4,
    *,
    news_result: NewsResult | None = None,
) -> BatchMember:
    return BatchMember(
        ticker=ticker,
        job_id=f"job-{ticker.lower()}",
        status=JobStatus.COMPLETED,
        quant=quant,
        decision=decision(verdict, min(confidence, quant.completeness.score
                                       if quant.completeness else 0.0)),
        news=news_result or news(),
        memo_blob=f"{ticker}/job-{ticker.lower()}/memo.md",
        evidence_hash="ab" * 32,
    )


def failed(ticker: str, code: str = "unknown_ticker",
           message: str = "the simulated market does not know it") -> BatchMember:
    return BatchMember(ticker=ticker, job_id=f"job-{ticker.lower()}", status=JobStatus.FAILED,
                       error_code=code, error_message=message)


def batch() -> tuple[list[BatchMember], PriceSeries]:
    """Three completed members on overlapping dates, one failed, and the benchmark.

    300 weekdays; AAA lacks day 280, BBB lacks days 100 and 290, CCC starts at day 10 and has
    all days after; SPY lacks day 295 (so beta runs on fewer returns than the window).
    """
    days = weekdays(300)
    rng = random.Random(7)
    market_shocks = [rng.gauss(0.0004, 0.01) for _ in days]
    spy_closes = []
    level = 400.0
    for shock in market_shocks:
        level *= 1 + shock
        spy_closes.append(round(level, 4))
    spy_days = [d for i, d in enumerate(days) if i != 295]
    spy = series("SPY", spy_days, [c for i, c in enumerate(spy_closes) if i != 295])

    def member_series(symbol: str, seed: int, beta: float, skip: set[int],
                      start: int = 0) -> PriceSeries:
        closes = walk(seed, days, market=market_shocks, beta=beta, vol=0.012)
        kept = [i for i in range(start, len(days)) if i not in skip]
        return series(symbol, [days[i] for i in kept], [closes[i] for i in kept])

    aaa = member_series("AAA", 1, 1.3, {280})
    bbb = member_series("BBB", 2, 0.6, {100, 290})
    ccc = member_series("CCC", 3, 1.0, set(), start=10)
    members = [
        completed("CCC", quant_for("CCC", ccc, spy), Verdict.HOLD, 0.5),
        failed("ZZZZ"),
        completed("BBB", quant_for("BBB", bbb, spy, company_name="Bee Co"), Verdict.BUY, 0.6),
        completed("AAA", quant_for("AAA", aaa, spy), Verdict.HOLD, 0.7),
    ]
    return members, spy
