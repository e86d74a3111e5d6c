"""The Portfolio Strategist: a short summary of a batch's comparison, by rules or by the model.

`write_portfolio_summary` asks the configured writer (`shared.agents.writer`): with a model, one
structured call for the whole batch, held to the grounding gate
(`grounding.check_portfolio_summary`) and regenerated once when it fails, exactly as the
Investment Strategist is (`shared.agents.model_writer`), within LLM_TOKEN_BUDGET; offline, the
rules below. Either way every number in the text is one the comparison holds, shown as the
comparison memo shows it, and cited: a ticker's row as `[TICKER]`, a correlation as
`[correlation]`, a portfolio figure by its id. A missing figure is named in backticks.

    constant                   value  rule
    HIGH_CORRELATION            0.80  warning: a pair correlating at or above this; when every
                                      pair does, the batch behaves like one position
    LOW_DIVERSIFICATION         1.10  diversification ratio below this: little benefit
    HIGH_DIVERSIFICATION        1.30  above this: meaningful benefit; in between: some
    HIGH_BETA                   1.20  warning: portfolio beta above this amplifies the benchmark
    LOW_BETA                    0.80  portfolio beta below this dampens it
    VOLATILITY_RED_FLAG         0.40  warning: portfolio volatility above this (offline.py's)
    DRAWDOWN_RED_FLAG          -0.25  warning: portfolio drawdown worse than this (offline.py's)
    COMPLETENESS_RED_FLAG       0.70  warning: a member's completeness below this (offline.py's)

Leaders are the members ranked first by the comparison's ranking rule; an analysis that did not
complete, an ungrounded member memo and simulated data are always warnings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.agents.offline import (
    COMPLETENESS_RED_FLAG,
    DRAWDOWN_RED_FLAG,
    VOLATILITY_RED_FLAG,
)
from shared.domain.comparison import (
    CORRELATION_ID,
    Comparison,
    PortfolioSummary,
    RankingRow,
    format_compared,
)
from shared.domain.formatting import format_value
from shared.domain.models import Grounding, Usage, Verdict
from shared.errors import BudgetExceeded, LlmFailed

if TYPE_CHECKING:
    from shared.agents.writer import Writer

__all__ = ["PortfolioSummary", "offline_summary", "write_portfolio_summary"]

WRITER = "offline-rules"

HIGH_CORRELATION = 0.80
LOW_DIVERSIFICATION = 1.10
HIGH_DIVERSIFICATION = 1.30
HIGH_BETA = 1.20
LOW_BETA = 0.80

RULES: tuple[str, ...] = (
    "Leaders: the members ranked first by the ranking rule (verdict, then confidence, then "
    "ticker); a leader without a buy verdict is said to be no buy.",
    f"Correlation: a pair at or above {HIGH_CORRELATION:.2f} is a concentration warning; when "
    "every pair is, the batch behaves like one position.",
    f"Diversification ratio: below {LOW_DIVERSIFICATION:.2f} little benefit, from "
    f"{LOW_DIVERSIFICATION:.2f} to {HIGH_DIVERSIFICATION:.2f} some, above "
    f"{HIGH_DIVERSIFICATION:.2f} meaningful.",
    f"Portfolio beta above {HIGH_BETA:.2f} amplifies the benchmark (a warning); below "
    f"{LOW_BETA:.2f} it dampens it.",
    f"Portfolio volatility above {format_value(VOLATILITY_RED_FLAG, 'fraction')} and a max "
    f"drawdown worse than {format_value(DRAWDOWN_RED_FLAG, 'fraction')} are warnings.",
    f"A member with completeness below {COMPLETENESS_RED_FLAG:.2f}, a member memo that failed "
    "its grounding check, an analysis that did not complete and simulated data are warnings.",
    "These rules read the comparison only: they make no new call on any stock.",
)


def write_portfolio_summary(
    comparison: Comparison, spent: Usage | None = None, *, author: Writer | None = None
) -> PortfolioSummary:
    """The Portfolio Strategist's summary of `comparison`.

    `author` defaults to the writer the settings pick; `spent` is what the batch has already
    spent on model calls (LLM_TOKEN_BUDGET is checked against it before the call). Raises
    BudgetExceeded (nothing sent) or LlmFailed as the memos' agents do.
    """
    if author is None:
        from shared.agents.writer import writer
        from shared.settings import get_settings

        author = writer(get_settings())
    return author.portfolio_summary(comparison, spent if spent is not None else Usage())


def summary_or_rules(
    comparison: Comparison, spent: Usage | None = None, *, author: Writer | None = None
) -> PortfolioSummary:
    """The Portfolio Strategist's summary; when the model's is refused by the token budget or
    the model keeps failing, the rules' summary instead, saying so first (a batch's comparison
    is worth storing without the model's prose, and a refusal would only be refused again)."""
    try:
        return write_portfolio_summary(comparison, spent, author=author)
    except (BudgetExceeded, LlmFailed) as exc:
        fallback = offline_summary(comparison)
        why = (
            f"The model's summary was not written ({exc.code}: {exc.message}); this one "
            "follows the stated rules."
        )
        return fallback.model_copy(
            update={
                "writer": f"{fallback.writer}, after the model's was refused ({exc.code})",
                "warnings": [why, *fallback.warnings],
            }
        )


class _Citer:
    def __init__(self) -> None:
        self.cited: list[str] = []

    def __call__(self, cited_id: str) -> str:
        if cited_id not in self.cited:
            self.cited.append(cited_id)
        return f"[{cited_id}]"


def offline_summary(comparison: Comparison) -> PortfolioSummary:
    """The summary by the rules in RULES: deterministic, every number from the comparison."""
    cite = _Citer()
    counts = comparison.counts
    ranked = [row for row in comparison.ranking if row.rank is not None]
    text = [
        f"Written by fixed rules from the comparison of {counts.members} analyses, not by a "
        "language model.",
    ]
    warnings: list[str] = []
    if comparison.simulated:
        warnings.append("The market data is SIMULATED: the numbers describe no real security.")
    if not ranked:
        text.append("No analysis completed, so there is nothing to rank or combine.")
    else:
        text.append(
            f"{counts.completed} of {counts.members} analyses completed: {counts.buy} buy, "
            f"{counts.hold} hold, {counts.sell} sell."
        )
        text.append(_leaders(ranked, cite))
    text += _correlation(comparison, cite, warnings)
    text += _portfolio(comparison, cite, warnings)
    warnings += _member_warnings(comparison.ranking, cite)
    text.append("These rules read the comparison only: they make no new call on any stock.")
    return PortfolioSummary(
        text=" ".join(text),
        warnings=warnings,
        cited_ids=list(cite.cited),
        rules=list(RULES),
        writer=WRITER,
        grounding=Grounding.NOT_APPLICABLE,
    )


def _call(row: RankingRow) -> str:
    verdict = row.verdict.value.upper() if row.verdict is not None else "no verdict"
    confidence = f" at confidence {row.confidence:.2f}" if row.confidence is not None else ""
    return f"{verdict}{confidence}"


def _leaders(ranked: list[RankingRow], cite: _Citer) -> str:
    leader = ranked[0]
    sentence = f"{leader.ticker} leads the ranking {cite(leader.ticker)} with {_call(leader)}"
    if len(ranked) > 1:
        runner = ranked[1]
        sentence += f", ahead of {runner.ticker} {cite(runner.ticker)} with {_call(runner)}"
    if leader.verdict is not Verdict.BUY:
        sentence += "; no member has a buy verdict"
    return sentence + "."


def _correlation(comparison: Comparison, cite: _Citer, warnings: list[str]) -> list[str]:
    correlation = comparison.correlation
    if correlation is None:
        reason = next(
            (g.message for g in comparison.gaps if g.code == "correlation_unavailable"), None
        )
        return [f"No correlation was computed ({reason})." if reason else
                "No correlation was computed; see the data gaps."]
    pairs = correlation.pairs()
    if not pairs:
        return ["No pair of members has a defined correlation; see the data gaps."]
    high = max(pairs, key=lambda p: p[2])
    low = min(pairs, key=lambda p: p[2])
    sentences = [
        f"On daily returns over the shared window, the most correlated pair is {high[0]} and "
        f"{high[1]} at "
        f"{high[2]:.2f} {cite(CORRELATION_ID)}"
        + (f", the least {low[0]} and {low[1]} at {low[2]:.2f}." if low != high else ".")
    ]
    strong = [p for p in pairs if p[2] >= HIGH_CORRELATION]
    if len(strong) == len(pairs):
        warnings.append(
            "Every pair correlates at or above the high-correlation threshold "
            f"{cite(CORRELATION_ID)}: the batch behaves like one position, not a diversified "
            "set."
        )
    else:
        warnings += [
            f"{a} and {b} move together at {value:.2f} {cite(CORRELATION_ID)}: holding both "
            "concentrates the risk."
            for a, b, value in strong
        ]
    return sentences


def _shown(comparison: Comparison, metric_id: str, cite: _Citer) -> tuple[str, float | None]:
    metric = comparison.portfolio.metric(metric_id)
    if metric is None or metric.value is None:
        return f"n/a (`{metric_id}` missing)", None
    return f"{format_compared(metric)} {cite(metric_id)}", metric.value


def _portfolio(comparison: Comparison, cite: _Citer, warnings: list[str]) -> list[str]:
    portfolio = comparison.portfolio
    window = portfolio.window
    if window is None:
        reason = next((m.missing_reason for m in portfolio.metrics if m.missing_reason), None)
        return [f"No portfolio figures were computed ({reason})." if reason else
                "No portfolio figures were computed."]
    returned, _ = _shown(comparison, "portfolio_return_1y", cite)
    volatility_text, volatility = _shown(comparison, "portfolio_volatility_1y", cite)
    drawdown_text, drawdown = _shown(comparison, "portfolio_max_drawdown_1y", cite)
    sentences = [
        f"The equal-weighted portfolio of {', '.join(portfolio.tickers)}, rebalanced daily, "
        f"returned {returned} over {window.returns} shared daily returns from "
        f"{window.start.isoformat()} to {window.end.isoformat()}, with volatility "
        f"{volatility_text} and a max drawdown of {drawdown_text}."
    ]
    beta_metric = portfolio.metric("portfolio_beta_1y")
    beta_text, beta = _shown(comparison, "portfolio_beta_1y", cite)
    if beta is None:
        reason = beta_metric.missing_reason if beta_metric is not None else None
        sentences.append(f"`portfolio_beta_1y` is missing ({reason or 'no reason given'}).")
    else:
        leaning = (
            "amplifies" if beta > HIGH_BETA else "dampens" if beta < LOW_BETA else "roughly tracks"
        )
        sentences.append(
            f"Its beta against {comparison.benchmark_symbol} is {beta_text}: it {leaning} the "
            "benchmark's moves."
        )
        if beta > HIGH_BETA:
            warnings.append(
                f"The portfolio beta {beta_text} is above the high-beta threshold: it amplifies "
                "the market's moves."
            )
    ratio_text, ratio = _shown(comparison, "diversification_ratio", cite)
    if ratio is None:
        sentences.append("`diversification_ratio` is missing; see the data gaps.")
    else:
        benefit = (
            "little diversification benefit" if ratio < LOW_DIVERSIFICATION
            else "a meaningful diversification benefit" if ratio > HIGH_DIVERSIFICATION
            else "some diversification benefit"
        )
        sentences.append(f"The diversification ratio is {ratio_text}: {benefit}.")
    if volatility is not None and volatility > VOLATILITY_RED_FLAG:
        warnings.append(
            f"Portfolio volatility {volatility_text} is above the volatility threshold."
        )
    if drawdown is not None and drawdown < DRAWDOWN_RED_FLAG:
        warnings.append(
            f"The portfolio's max drawdown {drawdown_text} is worse than the drawdown threshold."
        )
    return sentences


def _member_warnings(rows: list[RankingRow], cite: _Citer) -> list[str]:
    warnings: list[str] = []
    for row in rows:
        if row.rank is None:
            code = (row.error_code or row.status.value).replace("`", "'")
            warnings.append(
                f"{row.ticker} did not complete (`{code}`) {cite(row.ticker)}: it is left out "
                "of the correlation and the portfolio."
            )
            continue
        if row.completeness is not None and row.completeness < COMPLETENESS_RED_FLAG:
            warnings.append(
                f"{row.ticker} rests on thin data: completeness {row.completeness:.2f} "
                f"{cite(row.ticker)}."
            )
        if row.grounding is Grounding.UNGROUNDED:
            warnings.append(
                f"{row.ticker}'s memo failed its grounding check {cite(row.ticker)}: read its "
                "call with care."
            )
    return warnings
