"""The comparison memo of a batch: fixed sections in a fixed order, rendered from the comparison
and the Portfolio Strategist's summary.

Sections: title with the tickers, a SIMULATED DATA warning when any input is synthetic, What
changed (a watchlist run's members against their last memos; first, and only then),
Portfolio Strategist, Ranking (every member, those that did not complete with their code),
Correlation (two decimals), Equal-weighted portfolio (with its window), Data gaps (always
present), Provenance, and the disclaimer as the last line. Numbers go through
`shared.domain.formatting` (`comparison.format_compared`); everything that came from the
evidence or a model goes through `shared.render.markdown`, as the memo's does, so it cannot
break a table, a list or the section order, and `?format=html` renders it through
`shared.render.memo_html` with raw HTML off.
"""

from __future__ import annotations

from datetime import date, datetime

from shared.domain.comparison import (
    Comparison,
    PortfolioSummary,
    Provenance,
    RankingRow,
    format_compared,
)
from shared.domain.evidence import Metric
from shared.domain.formatting import MISSING, format_value
from shared.domain.models import Grounding
from shared.render.markdown import code, inline, line, paragraph
from shared.render.memo import as_of_line, realised_line, verdict_change_line

DISCLAIMER = "*This comparison is not investment advice.*"
SIMULATED_WARNING = (
    "> **SIMULATED DATA**: the market data in this comparison is synthetic, produced by a "
    "simulated provider. The numbers describe no real security; do not act on them."
)

_GROUNDING = {
    Grounding.GROUNDED: "grounded (every number and citation matches the comparison)",
    Grounding.UNGROUNDED: "UNGROUNDED (the text failed the grounding check; see the violations)",
    Grounding.NOT_APPLICABLE: "not applicable (written by rules, no model output to check)",
}


def render_comparison(
    batch_id: str,
    created_at: datetime,
    comparison: Comparison,
    summary: PortfolioSummary,
    *,
    as_of: date | None = None,
) -> str:
    """The comparison memo as Markdown, ending with the disclaimer line and a newline; a
    point-in-time batch says its `As of` line right under the title, as a memo does."""
    tickers = ", ".join(inline(t) for t in comparison.tickers) or "no ticker"
    blocks = [f"# Comparison memo: {tickers}"]
    if as_of is not None:
        blocks.append(as_of_line(as_of))
    if comparison.simulated:
        blocks.append(SIMULATED_WARNING)
    blocks += what_changed(comparison)  # a watchlist run's changes come first
    blocks += _summary(summary)
    blocks += _ranking(comparison)
    blocks += _correlation(comparison)
    blocks += _portfolio(comparison)
    blocks += _gaps(comparison)
    blocks += _provenance(batch_id, created_at, comparison, summary)
    blocks.append(DISCLAIMER)
    return "\n\n".join(blocks) + "\n"


def what_changed(comparison: Comparison) -> list[str]:
    """"What changed": per member of a watchlist run, the verdict before and after and the
    realised excess return since its last memo; nothing when no member has changes."""
    if not comparison.changes:
        return []
    lines = []
    for item in comparison.changes:
        changes = item.changes
        after = changes.confidence_after
        lines.append(
            f"- **{inline(item.ticker)}**: {verdict_change_line(changes)}, confidence "
            f"{changes.confidence_before:.2f} → {f'{after:.2f}' if after is not None else MISSING}"
            f"; {realised_line(changes)}"
        )
    return ["## What changed", "\n".join(lines)]


def _summary(summary: PortfolioSummary) -> list[str]:
    facts = [
        f"- Writer: {inline(summary.writer)}",
        f"- Grounding: {_GROUNDING[summary.grounding]}",
    ]
    if summary.violations:
        facts.append("- Grounding violations: " + "; ".join(inline(v) for v in summary.violations))
    blocks = ["## Portfolio Strategist", "\n".join(facts)]
    blocks.append(paragraph(summary.text) or "No summary was written.")
    if summary.warnings:
        blocks.append("Warnings:\n\n" + "\n".join(f"- {line(w)}" for w in summary.warnings))
    else:
        blocks.append("Warnings: none raised.")
    if summary.rules:
        blocks.append("Rules applied:\n\n" + "\n".join(f"- {line(r)}" for r in summary.rules))
    return blocks


def _cell(metric: Metric | None, currency: str | None) -> str:
    if metric is None or metric.value is None:
        return MISSING
    return inline(format_compared(metric, currency))


def _ranking(comparison: Comparison) -> list[str]:
    bench = inline(comparison.benchmark_symbol)
    header = (
        "| Rank | Ticker | Status | Verdict | Confidence | Memo grounding | Return 1y | "
        f"Excess vs {bench} 1y | Volatility 1y | Max drawdown 1y | Beta 1y | P/E | "
        "Completeness |"
    )
    rows = [header, "| " + " | ".join(["---"] * 13) + " |"]
    rows += [_ranking_row(row) for row in comparison.ranking]
    return [
        "## Ranking",
        inline(comparison.ranking_rule) + " Missing values are n/a; the data gaps say why.",
        "\n".join(rows),
    ]


def _ranking_row(row: RankingRow) -> str:
    if row.rank is None:
        status = f"{inline(row.status.value)} ({code(row.error_code or row.status.value)})"
        cells = [MISSING, inline(row.ticker), status] + [MISSING] * 10
        return "| " + " | ".join(cells) + " |"
    cells = [
        str(row.rank),
        inline(row.ticker) + (f" ({inline(row.company_name)})" if row.company_name else ""),
        inline(row.status.value),
        row.verdict.value.upper() if row.verdict is not None else MISSING,
        f"{row.confidence:.2f}" if row.confidence is not None else MISSING,
        inline(row.grounding.value) if row.grounding is not None else MISSING,
        *(_cell(m, row.currency) for m in row.metrics),
        f"{row.completeness:.2f}" if row.completeness is not None else MISSING,
    ]
    return "| " + " | ".join(cells) + " |"


def _correlation(comparison: Comparison) -> list[str]:
    correlation = comparison.correlation
    if correlation is None:
        reasons = [
            inline(g.message)
            for g in comparison.gaps
            if g.code in ("correlation_unavailable", "too_few_shared_returns",
                          "no_completed_series")
        ]
        why = "; ".join(reasons) or "see the data gaps"
        return ["## Correlation", f"Not computed: {why}."]
    window = correlation.window
    names = [inline(t) for t in correlation.tickers]
    rows = ["| | " + " | ".join(names) + " |", "| " + " | ".join(["---"] * (len(names) + 1)) + " |"]
    for name, values in zip(names, correlation.rounded(), strict=True):
        cells = [f"{v:.2f}" if v is not None else MISSING for v in values]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return [
        "## Correlation",
        f"Pearson correlation of daily simple returns over the {window.dates} dates every "
        f"completed ticker shares ({window.returns} daily returns, {window.start.isoformat()} "
        f"to {window.end.isoformat()}). n/a: the series did not move.",
        "\n".join(rows),
    ]


def _portfolio(comparison: Comparison) -> list[str]:
    portfolio = comparison.portfolio
    blocks = ["## Equal-weighted portfolio"]
    members = ", ".join(inline(t) for t in portfolio.tickers) or "no completed ticker"
    window = portfolio.window
    if window is None:
        blocks.append(f"Members: {members}. No shared window: no figure could be computed.")
    else:
        blocks.append(
            f"Members: {members}, equal weights, rebalanced daily. Window: "
            f"{window.start.isoformat()} to {window.end.isoformat()}, {window.dates} shared "
            f"dates, {window.returns} daily returns; beta on the {portfolio.benchmark_returns} "
            f"daily returns whose dates {inline(comparison.benchmark_symbol)} also has."
        )
    rows = ["| Figure | Value |", "| --- | --- |"]
    for metric in portfolio.metrics:
        value = (
            inline(format_compared(metric))
            if metric.value is not None
            else f"{MISSING}: {inline(metric.missing_reason)}"
        )
        rows.append(f"| {inline(metric.label)} ({code(metric.id)}) | {value} |")
    blocks.append("\n".join(rows))
    if portfolio.member_volatilities:
        shown = ", ".join(
            f"{inline(v.ticker)} {format_value(v.value, 'fraction')}"
            for v in portfolio.member_volatilities
        )
        blocks.append(f"Members' annualized volatility over the same window: {shown}.")
    return blocks


def _gaps(comparison: Comparison) -> list[str]:
    lines = [
        f"- Batch, {inline(g.source)} / {inline(g.code)}: {inline(g.message)}"
        for g in comparison.gaps
    ]
    for member in comparison.member_gaps:
        lines += [
            f"- {inline(member.ticker)}, {inline(g.source)} / {inline(g.code)}: "
            f"{inline(g.message)}"
            for g in member.gaps
        ]
    return ["## Data gaps", "\n".join(lines) if lines else "None."]


def _member_provenance(item: Provenance) -> str:
    head = f"- {inline(item.ticker)}: job {code(item.job_id)}, {inline(item.status.value)}"
    if item.market_source is None:
        return head
    parts = [
        f"market data {inline(item.market_source)}" + (" (simulated)" if item.simulated else ""),
        f"news {inline(item.news_provider) or 'unknown'}"
        + (f" (status {inline(item.news_status)})" if item.news_status else ""),
        f"writers: quant note {inline(item.note_writer) or 'not written'}; decision "
        f"{inline(item.decision_writer) or 'unknown'}",
        f"evidence hash (SHA-256) {inline(item.evidence_hash) or 'unknown'}",
    ]
    if item.memo_blob:
        parts.append(f"memo {code(item.memo_blob)}")
    return head + "; " + "; ".join(parts)


def _provenance(
    batch_id: str, created_at: datetime, comparison: Comparison, summary: PortfolioSummary
) -> list[str]:
    usage = summary.usage
    spent = (
        f"{usage.llm_calls} calls, {usage.prompt_tokens} prompt tokens, "
        f"{usage.completion_tokens} completion tokens"
        if usage.llm_calls
        else "no model calls"
    )
    bench = inline(comparison.benchmark_symbol)
    source = (
        f"the series stored by job {code(comparison.benchmark_job_id)}"
        if comparison.benchmark_job_id
        else "no series in the evidence"
    )
    lines = [
        f"- Batch id: {inline(batch_id)}",
        f"- Benchmark: {bench}, {source}",
        f"- Portfolio Strategist: {inline(summary.writer)}; model usage: {spent}",
        *(_member_provenance(item) for item in comparison.provenance),
        f"- Created at: {created_at.isoformat()}",
    ]
    return ["## Provenance", "\n".join(lines)]
