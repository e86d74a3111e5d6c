"""The comparison of a batch: its members ranked, correlated and held as one portfolio.

Pure and deterministic, no I/O: `compare` reads only the members' stored evidence (built by
`member_from_evidence` from the evidence document `activities/persist.py` writes). Every number
is computed here, in code; what cannot be computed is a `Metric` missing with its reason and a
`DataGap`, never a stand-in value.

Conventions (those of `shared.domain.metrics`, so a member's own numbers and the batch's agree):
- Ranking: completed members first, by verdict (buy, hold, sell), then confidence (highest
  first), then ticker, then job id; failed and cancelled members follow, unranked, by ticker.
- Ranking values are the stored metrics `return_1y`, `excess_return_1y`, `volatility_1y`,
  `max_drawdown_1y`, `beta_1y`, `pe_ratio` as they are in the evidence (missing stays missing
  with its reason), and the completeness score.
- Shared window: the dates every completed member's `ticker_series` has (the intersection),
  the last 253 of them (252 daily returns), or all when fewer. A daily return is the simple
  return between consecutive shared dates. Fewer than 20 shared returns: no correlation and no
  portfolio figures.
- Correlation: Pearson on those returns, for every pair of members in ranking order; full
  precision here, two decimals when shown (`Correlation.rounded`).
- Equal-weighted portfolio, rebalanced daily: its return on a day is the mean of the members'
  returns that day. Its index starts at 1 on the first shared date. Return = last index - 1
  (compounded); volatility = sample standard deviation of the daily returns x sqrt(252)
  (`metrics._volatility`); max drawdown = worst index / running peak - 1, <= 0
  (`metrics._max_drawdown`); beta = sample cov(portfolio, benchmark) / sample var(benchmark)
  over returns between consecutive window dates the benchmark also has, at least 60
  (`metrics._beta`); diversification ratio = mean of the members' volatilities over the same
  window / portfolio volatility.
- Benchmark: the benchmark series of a completed member's evidence (the one ending last, then
  the longest, then by ranking order); its label or symbol names the benchmark (`benchmark_name`:
  "S&P 500 index" from the price store), SPY when none is there.
"""

from __future__ import annotations

import math
import statistics
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.domain.changes import ChangeSet
from shared.domain.evidence import (
    DataGap,
    Decision,
    Metric,
    MetricUnit,
    NewsResult,
    PriceSeries,
    QuantNote,
    QuantResult,
    benchmark_name,
)
from shared.domain.formatting import format_value
from shared.domain.metrics import (
    METRIC_LABELS,
    METRIC_UNITS,
    MIN_BETA_RETURNS,
    MIN_WINDOW_RETURNS,
    YEAR,
)
from shared.domain.models import Grounding, JobStatus, Usage, Verdict

RANKING_METRICS: tuple[str, ...] = (
    "return_1y",
    "excess_return_1y",
    "volatility_1y",
    "max_drawdown_1y",
    "beta_1y",
    "pe_ratio",
)
RANKING_RULE = (
    "Completed analyses first, by verdict (buy, then hold, then sell), then confidence "
    "(highest first), then ticker (A to Z); analyses that failed or were cancelled follow, "
    "unranked, by ticker."
)
MIN_CORRELATION_MEMBERS = 2
COMPARED = "comparison"
CORRELATION_ID = "correlation"
_VERDICT_ORDER = {Verdict.BUY: 0, Verdict.HOLD: 1, Verdict.SELL: 2}

# id, unit, label (the window is appended when it is known), in the order shown.
PORTFOLIO_SPECS: tuple[tuple[str, MetricUnit, str], ...] = (
    ("portfolio_return_1y", "fraction", "Equal-weighted portfolio return, compounded"),
    ("portfolio_volatility_1y", "fraction", "Equal-weighted portfolio volatility, annualized"),
    (
        "portfolio_max_drawdown_1y",
        "fraction",
        "Equal-weighted portfolio max drawdown, peak to trough, <= 0",
    ),
    ("portfolio_beta_1y", "number", "Equal-weighted portfolio beta vs the benchmark"),
    (
        "diversification_ratio",
        "number",
        "Diversification ratio (average member volatility / portfolio volatility)",
    ),
)
PORTFOLIO_IDS: tuple[str, ...] = tuple(spec[0] for spec in PORTFOLIO_SPECS)
_PORTFOLIO_UNITS: dict[str, MetricUnit] = {spec[0]: spec[1] for spec in PORTFOLIO_SPECS}
_PORTFOLIO_LABELS: dict[str, str] = {spec[0]: spec[2] for spec in PORTFOLIO_SPECS}
# Shown with an explicit sign, like the members' returns (shared.domain.formatting.is_signed).
_SHOWN_AS: dict[str, str] = {"portfolio_return_1y": "return_1y"}


class BatchMember(BaseModel):
    """One ticker of a batch, as the batch saw it end."""

    ticker: str
    job_id: str
    status: JobStatus  # completed | failed | cancelled
    error_code: str | None = None
    error_message: str | None = None
    quant: QuantResult | None = None  # from the child's stored evidence (completed only)
    decision: Decision | None = None
    news: NewsResult | None = None
    memo_blob: str | None = None
    evidence_hash: str | None = None
    changes: ChangeSet | None = None  # a watchlist run's member: what changed since its last memo


def member_from_evidence(
    document: dict[str, Any], job_id: str, ticker: str, memo_blob: str | None
) -> BatchMember:
    """A completed member from the evidence document its job stored (`persist.evidence_document`).

    Raises ValueError when the document belongs to another job or ticker, or does not parse.
    """
    if document.get("job_id") != job_id:
        raise ValueError(f"evidence of job {document.get('job_id')!r} is not job {job_id!r}'s")
    if str(document.get("ticker", "")).upper() != ticker.upper():
        raise ValueError(f"evidence of {document.get('ticker')!r} is not {ticker!r}'s")
    quant = QuantResult.model_validate(document["quant"])
    if document.get("quant_note") is not None:
        quant.note = QuantNote.model_validate(document["quant_note"])
    return BatchMember(
        ticker=ticker,
        job_id=job_id,
        status=JobStatus.COMPLETED,
        quant=quant,
        decision=Decision.model_validate(document["decision"]),
        news=NewsResult.model_validate(document["news"]),
        memo_blob=memo_blob,
        evidence_hash=document.get("evidence_hash"),
        changes=(
            ChangeSet.model_validate(document["changes"])
            if document.get("changes") is not None
            else None
        ),
    )


class RankingRow(BaseModel):
    """One member in the ranking; `rank` is None for a member that did not complete."""

    rank: int | None
    ticker: str
    job_id: str
    status: JobStatus
    error_code: str | None = None
    error_message: str | None = None
    company_name: str | None = None
    currency: str | None = None
    verdict: Verdict | None = None
    confidence: float | None = None
    grounding: Grounding | None = None
    completeness: float | None = None
    metrics: list[Metric] = []  # RANKING_METRICS, in that order (completed members only)

    def metric(self, metric_id: str) -> Metric | None:
        return next((m for m in self.metrics if m.id == metric_id), None)


class Window(BaseModel):
    """The shared dates the correlation and the portfolio are computed over."""

    start: date
    end: date
    dates: int
    returns: int


class Correlation(BaseModel):
    """Pearson correlations of daily returns; `values[i][j]` pairs tickers i and j.

    A cell is None when one of the two series is flat over the window (no variance).
    """

    tickers: list[str]
    values: list[list[float | None]]
    window: Window

    def rounded(self) -> list[list[float | None]]:
        """The matrix as shown: two decimals."""
        return [[None if v is None else round(v, 2) for v in row] for row in self.values]

    def pairs(self) -> list[tuple[str, str, float]]:
        """Each pair once (i < j) with a value, in matrix order."""
        found = []
        for i, first in enumerate(self.tickers):
            for j in range(i + 1, len(self.tickers)):
                value = self.values[i][j]
                if value is not None:
                    found.append((first, self.tickers[j], value))
        return found


class MemberVolatility(BaseModel):
    """A member's annualized volatility over the shared window (for the diversification ratio)."""

    ticker: str
    value: float | None = None
    missing_reason: str | None = None


class Portfolio(BaseModel):
    """The equal-weighted portfolio of the completed members, rebalanced daily."""

    tickers: list[str]
    window: Window | None = None
    benchmark_returns: int = 0  # returns the beta is computed over
    metrics: list[Metric]  # PORTFOLIO_IDS, in that order
    member_volatilities: list[MemberVolatility] = []

    def metric(self, metric_id: str) -> Metric | None:
        return next((m for m in self.metrics if m.id == metric_id), None)


class Counts(BaseModel):
    members: int
    completed: int
    not_completed: int
    buy: int
    hold: int
    sell: int


class MemberGaps(BaseModel):
    """What one member's memo could not use, and why a member is missing from the math."""

    ticker: str
    job_id: str
    gaps: list[DataGap]


class Provenance(BaseModel):
    ticker: str
    job_id: str
    status: JobStatus
    market_source: str | None = None
    simulated: bool = False
    news_provider: str | None = None
    news_status: str | None = None
    note_writer: str | None = None
    decision_writer: str | None = None
    evidence_hash: str | None = None
    memo_blob: str | None = None


class MemberChanges(BaseModel):
    """One member's changes since its previous memo (a watchlist run), listed first."""

    ticker: str
    job_id: str
    changes: ChangeSet


class Comparison(BaseModel):
    """The comparison memo's data, kept as JSON in Blob beside the memo."""

    tickers: list[str]  # every member, in ranking order
    counts: Counts
    benchmark_symbol: str  # how the comparison names its benchmark (`evidence.benchmark_name`)
    benchmark_job_id: str | None = None  # whose stored benchmark series was used
    ranking_rule: str = RANKING_RULE
    ranking: list[RankingRow]
    correlation: Correlation | None = None
    portfolio: Portfolio
    gaps: list[DataGap] = []  # what the batch could not compute, and why
    member_gaps: list[MemberGaps] = []
    provenance: list[Provenance] = []
    simulated: bool = False
    # A watchlist run: each completed member's changes since its last memo, in ranking order.
    # Left out of the JSON when empty, so every other comparison is stored as it always was.
    changes: list[MemberChanges] = Field(default_factory=list, exclude_if=lambda v: not v)


class PortfolioSummary(BaseModel):
    """The Portfolio Strategist's summary of a comparison (`shared.agents.portfolio`).

    `text` and `warnings` are what the grounding gate checks; `rules` is the offline writer's
    fixed statement of the rules it applied (empty for a model), the same words whatever the
    evidence."""

    text: str
    warnings: list[str] = []
    cited_ids: list[str] = []
    rules: list[str] = []
    writer: str
    grounding: Grounding = Grounding.NOT_APPLICABLE
    violations: list[str] = []
    usage: Usage = Usage()


def format_compared(metric: Metric, currency: str | None = None) -> str:
    """A ranking or portfolio value as every reader sees it (the portfolio return signed)."""
    shown_as = _SHOWN_AS.get(metric.id, metric.id)
    return format_value(metric.value, metric.unit, metric_id=shown_as, currency=currency)


# -- the computation -----------------------------------------------------------------------


def compare(members: list[BatchMember]) -> Comparison:
    """The comparison of `members` (see the module docstring for every convention)."""
    ordered = sorted(members, key=_ranking_key)
    ranking = _ranking(ordered)
    completed = [m for m in ordered if _completed(m)]
    gaps: list[DataGap] = []
    member_gaps = {m.job_id: _member_gaps(m) for m in ordered}

    in_math: list[tuple[BatchMember, PriceSeries]] = []
    for member in completed:
        assert member.quant is not None
        series = member.quant.ticker_series
        if series is None or len(series.closes) < 2:
            member_gaps[member.job_id].append(
                DataGap(
                    source=COMPARED,
                    code="no_price_series",
                    message=f"{member.ticker} has no price series in its evidence: left out "
                    "of the correlation and the portfolio",
                )
            )
            continue
        in_math.append((member, series))

    bench_member, bench = _benchmark(completed)
    window_dates, window_gap = _shared_window([s for _, s in in_math])
    if window_gap is not None:
        gaps.append(window_gap)

    correlation = _correlation(in_math, window_dates, gaps)
    portfolio = _portfolio(in_math, window_dates, bench, gaps)

    verdicts = [m.decision.verdict for m in completed if m.decision is not None]
    counts = Counts(
        members=len(members),
        completed=len(completed),
        not_completed=len(members) - len(completed),
        buy=verdicts.count(Verdict.BUY),
        hold=verdicts.count(Verdict.HOLD),
        sell=verdicts.count(Verdict.SELL),
    )
    return Comparison(
        tickers=[m.ticker for m in ordered],
        counts=counts,
        benchmark_symbol=benchmark_name(bench),
        benchmark_job_id=bench_member.job_id if bench_member is not None else None,
        ranking=ranking,
        correlation=correlation,
        portfolio=portfolio,
        gaps=gaps,
        member_gaps=[
            MemberGaps(ticker=m.ticker, job_id=m.job_id, gaps=member_gaps[m.job_id])
            for m in ordered
            if member_gaps[m.job_id]
        ],
        provenance=[_provenance(m) for m in ordered],
        simulated=any(m.quant is not None and m.quant.simulated for m in completed),
        changes=[
            MemberChanges(ticker=m.ticker, job_id=m.job_id, changes=m.changes)
            for m in completed
            if m.changes is not None
        ],
    )


def _completed(member: BatchMember) -> bool:
    return member.status is JobStatus.COMPLETED and member.quant is not None


def _ranking_key(member: BatchMember) -> tuple[Any, ...]:
    if not _completed(member):
        return (1, 0, 0.0, member.ticker, member.job_id)
    decision = member.decision
    verdict = _VERDICT_ORDER[decision.verdict] if decision is not None else len(_VERDICT_ORDER)
    confidence = decision.confidence if decision is not None else 0.0
    return (0, verdict, -confidence, member.ticker, member.job_id)


def _ranking(ordered: list[BatchMember]) -> list[RankingRow]:
    rows: list[RankingRow] = []
    rank = 0
    for member in ordered:
        if not _completed(member):
            rows.append(
                RankingRow(
                    rank=None,
                    ticker=member.ticker,
                    job_id=member.job_id,
                    status=member.status,
                    error_code=member.error_code or _default_code(member.status),
                    error_message=member.error_message,
                )
            )
            continue
        rank += 1
        quant, decision = member.quant, member.decision
        assert quant is not None
        rows.append(
            RankingRow(
                rank=rank,
                ticker=member.ticker,
                job_id=member.job_id,
                status=member.status,
                company_name=quant.company_name,
                currency=quant.currency,
                verdict=decision.verdict if decision is not None else None,
                confidence=decision.confidence if decision is not None else None,
                grounding=decision.grounding if decision is not None else None,
                completeness=quant.completeness.score if quant.completeness else None,
                metrics=[_stored_metric(quant, metric_id) for metric_id in RANKING_METRICS],
            )
        )
    return rows


def _default_code(status: JobStatus) -> str:
    if status is JobStatus.COMPLETED:
        return "evidence_missing"  # completed, but its evidence could not be read
    return status.value


def _stored_metric(quant: QuantResult, metric_id: str) -> Metric:
    stored = quant.metric(metric_id)
    if stored is not None:
        return stored
    return Metric(
        id=metric_id,
        label=METRIC_LABELS[metric_id],
        unit=METRIC_UNITS[metric_id],
        source=quant.market_source,
        missing_reason=f"{metric_id} is not in {quant.ticker}'s stored evidence",
    )


def _member_gaps(member: BatchMember) -> list[DataGap]:
    if not _completed(member):
        code = member.error_code or _default_code(member.status)
        message = member.error_message or f"the analysis ended {member.status.value}"
        return [DataGap(source="analysis", code=code, message=message)]
    assert member.quant is not None
    gaps = [
        DataGap(
            source="metrics",
            code=f"{m.id}_missing",
            message=m.missing_reason or "no reason given",
        )
        for m in member.quant.metrics
        if m.value is None
    ]
    gaps += list(member.quant.gaps)
    if member.news is not None:
        gaps += list(member.news.gaps)
    return gaps


def _benchmark(completed: list[BatchMember]) -> tuple[BatchMember | None, PriceSeries | None]:
    """The benchmark series to use: the one ending last, then the longest, then ranking order."""
    candidates = [
        (m, m.quant.benchmark_series)
        for m in completed
        if m.quant is not None
        and m.quant.benchmark_series is not None
        and len(m.quant.benchmark_series.closes) >= 2
    ]
    if not candidates:
        return None, None
    best: tuple[BatchMember, PriceSeries] = candidates[0]
    for member, series in candidates[1:]:
        _, chosen = best
        if (series.dates[-1], len(series.dates)) > (chosen.dates[-1], len(chosen.dates)):
            best = (member, series)
    return best


def _shared_window(series: list[PriceSeries]) -> tuple[list[date], DataGap | None]:
    """The last 253 dates all series share (or all), and a gap when there are too few."""
    if not series:
        return [], DataGap(
            source=COMPARED,
            code="no_completed_series",
            message="no completed member has a price series: nothing to correlate or combine",
        )
    shared = set(series[0].dates)
    for other in series[1:]:
        shared &= set(other.dates)
    dates = sorted(shared)[-(YEAR + 1) :]
    returns = max(0, len(dates) - 1)
    if returns < MIN_WINDOW_RETURNS:
        return dates, DataGap(
            source=COMPARED,
            code="too_few_shared_returns",
            message=f"the completed members share {len(dates)} dates ({returns} daily returns); "
            f"at least {MIN_WINDOW_RETURNS} returns are needed for correlation and portfolio "
            "figures",
        )
    return dates, None


def _window(dates: list[date]) -> Window:
    return Window(start=dates[0], end=dates[-1], dates=len(dates), returns=len(dates) - 1)


def _returns_on(series: PriceSeries, dates: list[date]) -> list[float]:
    by_date = dict(zip(series.dates, series.closes, strict=True))
    closes = [by_date[d] for d in dates]
    return [b / a - 1 for a, b in zip(closes, closes[1:], strict=False)]


def _enough(dates: list[date]) -> bool:
    return len(dates) - 1 >= MIN_WINDOW_RETURNS


def _correlation(
    in_math: list[tuple[BatchMember, PriceSeries]], dates: list[date], gaps: list[DataGap]
) -> Correlation | None:
    if len(in_math) < MIN_CORRELATION_MEMBERS:
        gaps.append(
            DataGap(
                source=COMPARED,
                code="correlation_unavailable",
                message=f"{len(in_math)} completed member(s) with a price series; a correlation "
                f"needs at least {MIN_CORRELATION_MEMBERS}",
            )
        )
        return None
    if not _enough(dates):
        return None  # the window gap says why
    returns = [_returns_on(series, dates) for _, series in in_math]
    flat = [statistics.pstdev(r) == 0 for r in returns]
    for (member, _), is_flat in zip(in_math, flat, strict=True):
        if is_flat:
            gaps.append(
                DataGap(
                    source=COMPARED,
                    code="flat_series",
                    message=f"{member.ticker} did not move over the shared window: its "
                    "correlations are undefined",
                )
            )
    values: list[list[float | None]] = []
    for i, first in enumerate(returns):
        row: list[float | None] = []
        for j, second in enumerate(returns):
            if flat[i] or flat[j]:
                row.append(None)
            elif i == j:
                row.append(1.0)
            else:
                row.append(statistics.correlation(first, second))
        values.append(row)
    return Correlation(tickers=[m.ticker for m, _ in in_math], values=values, window=_window(dates))


def _portfolio_metric(
    metric_id: str, value: float | None, reason: str | None, as_of: datetime | None, note: str
) -> Metric:
    number = value if value is not None and math.isfinite(value) else None
    if value is not None and number is None:
        reason = f"computation gave a non-finite value ({value!r})"
    return Metric(
        id=metric_id,
        label=f"{_PORTFOLIO_LABELS[metric_id]}{note}",
        unit=_PORTFOLIO_UNITS[metric_id],
        value=number,
        source=COMPARED,
        as_of=as_of,
        missing_reason=None if number is not None else reason,
    )


def _portfolio(
    in_math: list[tuple[BatchMember, PriceSeries]],
    dates: list[date],
    bench: PriceSeries | None,
    gaps: list[DataGap],
) -> Portfolio:
    tickers = [m.ticker for m, _ in in_math]
    if not in_math or not _enough(dates):
        reason = (
            "no completed member has a price series"
            if not in_math
            else f"the completed members share {max(0, len(dates) - 1)} daily returns; at "
            f"least {MIN_WINDOW_RETURNS} needed"
        )
        metrics = [_portfolio_metric(i, None, reason, None, "") for i in PORTFOLIO_IDS]
        gaps += _metric_gaps(metrics)
        return Portfolio(tickers=tickers, metrics=metrics)

    window = _window(dates)
    as_of = datetime(window.end.year, window.end.month, window.end.day, tzinfo=UTC)
    note = f" ({window.returns} shared daily returns)"
    member_returns = [_returns_on(series, dates) for _, series in in_math]
    daily = [statistics.fmean(day) for day in zip(*member_returns, strict=True)]
    index = [1.0]
    for r in daily:
        index.append(index[-1] * (1 + r))

    total = index[-1] - 1
    volatility = statistics.stdev(daily) * math.sqrt(YEAR)
    peak, worst = index[0], 0.0
    for level in index:
        peak = max(peak, level)
        worst = min(worst, level / peak - 1)

    member_vols = [
        MemberVolatility(ticker=t, value=statistics.stdev(r) * math.sqrt(YEAR))
        for t, r in zip(tickers, member_returns, strict=True)
    ]
    if volatility == 0:
        diversification: float | None = None
        diversification_reason: str | None = "the portfolio did not move: volatility is zero"
    else:
        mean_vol = statistics.fmean(v.value for v in member_vols if v.value is not None)
        diversification, diversification_reason = mean_vol / volatility, None

    beta, beta_reason, beta_returns = _portfolio_beta(dates, index, bench)
    beta_note = f" ({beta_returns} daily returns on dates the benchmark shares)"
    metrics = [
        _portfolio_metric("portfolio_return_1y", total, None, as_of, note),
        _portfolio_metric("portfolio_volatility_1y", volatility, None, as_of, note),
        _portfolio_metric("portfolio_max_drawdown_1y", worst, None, as_of, note),
        _portfolio_metric(
            "portfolio_beta_1y", beta, beta_reason, as_of, beta_note if beta is not None else ""
        ),
        _portfolio_metric(
            "diversification_ratio", diversification, diversification_reason, as_of, note
        ),
    ]
    gaps += _metric_gaps(metrics)
    return Portfolio(
        tickers=tickers,
        window=window,
        benchmark_returns=beta_returns,
        metrics=metrics,
        member_volatilities=member_vols,
    )


def _portfolio_beta(
    dates: list[date], index: list[float], bench: PriceSeries | None
) -> tuple[float | None, str | None, int]:
    """Beta of the portfolio index against `bench`, on the window dates the benchmark has."""
    if bench is None:
        return None, "no benchmark series in any completed member's evidence", 0
    bench_by_date = dict(zip(bench.dates, bench.closes, strict=True))
    common = [(level, bench_by_date[d]) for d, level in zip(dates, index, strict=True)
              if d in bench_by_date]
    portfolio_returns = [b[0] / a[0] - 1 for a, b in zip(common, common[1:], strict=False)]
    bench_returns = [b[1] / a[1] - 1 for a, b in zip(common, common[1:], strict=False)]
    count = len(bench_returns)
    if count < MIN_BETA_RETURNS:
        return None, (
            f"the portfolio and {bench.display_name} share {count} daily returns; at least "
            f"{MIN_BETA_RETURNS} needed for beta"
        ), count
    variance = statistics.variance(bench_returns)
    if variance == 0:
        return None, "flat benchmark series: variance is zero", count
    return statistics.covariance(portfolio_returns, bench_returns) / variance, None, count


def _metric_gaps(metrics: list[Metric]) -> list[DataGap]:
    return [
        DataGap(source="portfolio", code=f"{m.id}_missing", message=m.missing_reason or "")
        for m in metrics
        if m.value is None
    ]


def _provenance(member: BatchMember) -> Provenance:
    quant, news, decision = member.quant, member.news, member.decision
    return Provenance(
        ticker=member.ticker,
        job_id=member.job_id,
        status=member.status,
        market_source=quant.market_source if quant is not None else None,
        simulated=quant.simulated if quant is not None else False,
        news_provider=news.provider if news is not None else None,
        news_status=news.status if news is not None else None,
        note_writer=quant.note.writer if quant is not None and quant.note is not None else None,
        decision_writer=decision.writer if decision is not None else None,
        evidence_hash=member.evidence_hash,
        memo_blob=member.memo_blob,
    )
