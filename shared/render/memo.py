"""The Markdown memo: fixed sections in a fixed order, rendered from the evidence and the decision.

Sections: title, the `As of YYYY-MM-DD` line of a point-in-time analysis (the memo's third
line), a SIMULATED DATA warning when the market data is synthetic, Summary, Since the last memo
(a watchlist run's memo only: `shared.domain.changes`), Quantitative picture, News and
narrative, Risks, Data gaps (always present), Provenance, and the disclaimer as the last line.
Numbers go through `shared.domain.formatting`; text that came from outside (titles, sources,
reasons) is escaped so it cannot break a table, a list or the section order
(`shared.render.markdown`)."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from typing import Any

from shared.domain.changes import ChangeSet, MetricMove, format_return
from shared.domain.evidence import Decision, Metric, NewsArticle, NewsResult, QuantResult
from shared.domain.formatting import MISSING, format_metric, format_value
from shared.domain.models import Grounding
from shared.render.markdown import code as _code
from shared.render.markdown import inline as _inline
from shared.render.markdown import line as _line
from shared.render.markdown import paragraph as _paragraph
from shared.render.markdown import safe_url as _safe_url

DISCLAIMER = "*This memo is not investment advice.*"
SIMULATED_WARNING = (
    "> **SIMULATED DATA**: the market data in this memo is synthetic, produced by a simulated "
    "provider. The numbers describe no real security; do not act on them."
)

_NO_NEWS = {
    "ok": "the news provider returned no articles",
    "empty": "the news provider returned no articles",
    "disabled": "news research is disabled",
    "failed": "the news provider failed",
}

_GROUNDING = {
    Grounding.GROUNDED: "grounded (every number and citation matches the evidence)",
    Grounding.UNGROUNDED: "UNGROUNDED (the text failed the grounding check; see the violations)",
    Grounding.NOT_APPLICABLE: "not applicable (written by rules, no model output to check)",
}


def evidence_hash(payload: dict[str, Any]) -> str:
    """SHA-256 hex of the canonical JSON of `payload` (pass `model_dump(mode="json")` output)."""
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def render_memo(
    *,
    job_id: str,
    ticker: str,
    created_at: datetime,
    quant: QuantResult,
    news: NewsResult,
    decision: Decision,
    evidence_hash: str,
    as_of: date | None = None,
    changes: ChangeSet | None = None,
) -> str:
    """The memo as Markdown, ending with the disclaimer line and a newline."""
    blocks = [f"# {_inline(ticker.upper())} research memo"]
    if as_of is not None:
        blocks.append(as_of_line(as_of))
    if quant.simulated:
        blocks.append(SIMULATED_WARNING)
    blocks += _summary(quant, decision)
    if changes is not None:
        blocks += changes_section(changes, quant.currency)
    blocks += _quant_section(quant)
    blocks += _news_section(news)
    blocks += _risks_section(decision)
    blocks += _gaps_section(quant, news)
    blocks += _provenance(job_id, created_at, quant, news, decision, evidence_hash)
    blocks.append(DISCLAIMER)
    return "\n\n".join(blocks) + "\n"


def as_of_line(as_of: date) -> str:
    return (
        f"**As of {as_of.isoformat()}**: a point-in-time analysis; every piece of evidence "
        "below is dated on or before this day."
    )


SINCE_HEADING = "## Since the last memo"


def verdict_change_line(changes: ChangeSet) -> str:
    """`Verdict: HOLD → BUY (changed)`, or `(unchanged)`; the after is this memo's."""
    before = changes.verdict_before.value.upper()
    if changes.verdict_after is None:
        return f"Verdict: {before} → not decided"
    after = changes.verdict_after.value.upper()
    return f"Verdict: {before} → {after} ({'changed' if before != after else 'unchanged'})"


def realised_line(changes: ChangeSet) -> str:
    """The realised excess return since the previous memo, with its window and both returns."""
    bench = _inline(changes.benchmark_symbol or "the benchmark")
    if changes.realised_excess_return is None:
        reason = _inline(changes.realised_reason or "not computed")
        return f"Realised excess return over {bench}: {MISSING} ({reason})"
    start = changes.window_start.isoformat() if changes.window_start else MISSING
    end = changes.window_end.isoformat() if changes.window_end else MISSING
    return (
        f"Realised excess return over {bench} since the last memo: "
        f"**{format_return(changes.realised_excess_return)}** (stock "
        f"{format_return(changes.ticker_return)}, {bench} "
        f"{format_return(changes.benchmark_return)}; closes of {start} to {end})"
    )


def changes_section(changes: ChangeSet, currency: str | None) -> list[str]:
    """"Since the last memo": the previous call against this one, its realised outcome, the
    key metrics' moves, red flags that appeared or went away, and new news items."""
    when = changes.previous_completed_at.date().isoformat()
    confidence_after = (
        f"{changes.confidence_after:.2f}" if changes.confidence_after is not None else MISSING
    )
    lines = [
        f"- Previous memo: job {_inline(changes.previous_job_id)}, completed {when}",
        f"- {verdict_change_line(changes)}",
        f"- Confidence: {changes.confidence_before:.2f} → {confidence_after}",
        f"- {realised_line(changes)}",
    ]
    blocks = [SINCE_HEADING, "\n".join(lines)]
    if changes.metric_moves:
        rows = ["| Metric | Before | After | Change |", "| --- | --- | --- | --- |"]
        rows += [_move_row(m, currency) for m in changes.metric_moves]
        blocks.append("\n".join(rows))
    blocks.append(_listed("Red flags that appeared", changes.red_flags_appeared))
    blocks.append(_listed("Red flags that went away", changes.red_flags_gone))
    if changes.new_articles:
        blocks.append(
            "New news items:\n\n"
            + "\n".join(
                f"- {_inline(a.title) or 'Untitled'} [{_inline(a.id)}]"
                for a in changes.new_articles
            )
        )
    else:
        blocks.append("New news items: none.")
    return blocks


def _listed(title: str, items: list[str]) -> str:
    if not items:
        return f"{title}: none."
    return f"{title}:\n\n" + "\n".join(f"- {_line(i)}" for i in items)


def _move_row(move: MetricMove, currency: str | None) -> str:
    def shown(value: float | None) -> str:
        return format_value(value, move.unit, metric_id=move.id, currency=currency)

    if move.change is None:
        change = MISSING
    elif move.unit == "fraction":  # a move of a fraction is in percentage points
        points = round(move.change * 100, 1)
        change = "0.0 pp" if points == 0 else f"{points:+,.1f} pp"
    else:
        change = shown(move.change)
        change = change if change.startswith("-") or change in ("0.00", "0.0x") else f"+{change}"
    cells = [f"{_inline(move.label)} ({_code(move.id)})", shown(move.before), shown(move.after)]
    return "| " + " | ".join([*cells[:1], *(_inline(c) for c in [*cells[1:], change])]) + " |"


def _summary(quant: QuantResult, decision: Decision) -> list[str]:
    completeness = quant.completeness
    if completeness is None:
        cap = "capped at completeness 0.00: completeness was not computed"
    else:
        cap = f"capped at completeness {completeness.score:.2f}"
    lines = [
        f"- Verdict: **{decision.verdict.value.upper()}**",
        f"- Confidence: {decision.confidence:.2f} ({cap})",
        f"- Grounding: {_GROUNDING[decision.grounding]}",
    ]
    if decision.violations:
        lines.append(
            "- Grounding violations: " + "; ".join(_inline(v) for v in decision.violations)
        )
    if quant.company_name:
        lines.append(f"- Company: {_inline(quant.company_name)}")
    return ["## Summary", "\n".join(lines), _paragraph(decision.thesis) or "No thesis was given."]


def _quant_section(quant: QuantResult) -> list[str]:
    blocks = ["## Quantitative picture"]
    completeness = quant.completeness
    if completeness is not None:
        blocks.append(
            f"{completeness.available} of {completeness.total} metrics available "
            f"(completeness {completeness.score:.2f})."
        )
    if quant.metrics:
        rows = ["| Metric | Value | Source | As of |", "| --- | --- | --- | --- |"]
        rows += [_metric_row(m, quant.currency) for m in quant.metrics]
        blocks.append("\n".join(rows))
    else:
        blocks.append("No metrics were computed.")
    note = quant.note
    if note is None:
        blocks.append("No quant note was written.")
        return blocks
    blocks.append(_paragraph(note.text) or "The quant note is empty.")
    if note.red_flags:
        blocks.append("Red flags:\n\n" + "\n".join(f"- {_line(f)}" for f in note.red_flags))
    else:
        blocks.append("Red flags: none raised.")
    if note.violations:
        blocks.append(
            "**This note failed the grounding check** after one regeneration:\n\n"
            + "\n".join(f"- {_line(v)}" for v in note.violations)
        )
    return blocks


def _metric_row(metric: Metric, currency: str | None) -> str:
    cells = [
        f"{_inline(metric.label)} ({_code(metric.id)})",
        format_metric(metric, currency),
        metric.source,
        metric.as_of.date().isoformat() if metric.as_of is not None else MISSING,
    ]
    cells[1:] = [_inline(c) for c in cells[1:]]
    return "| " + " | ".join(cells) + " |"


def _news_section(news: NewsResult) -> list[str]:
    blocks = ["## News and narrative"]
    if news.articles:
        blocks.append("\n".join(_article_line(a) for a in news.articles))
    else:
        reason = _NO_NEWS.get(news.status, "no news was available")
        blocks.append(
            f"No news was used: {reason} ({_inline(news.provider)}, status {news.status})."
        )
    return blocks


def _article_line(article: NewsArticle) -> str:
    title = _inline(article.title) or "Untitled"
    url = _safe_url(article.url)
    linked = f"[{title}]({url})" if url else title
    source = _inline(article.source) if article.source else "source unknown"
    when = article.published_at.date().isoformat() if article.published_at else "date unknown"
    return f"- {linked}, {source}, {when} [{_inline(article.id)}]"


def _risks_section(decision: Decision) -> list[str]:
    if not decision.risks:
        return ["## Risks", "No risks were stated."]
    return ["## Risks", "\n".join(f"- {_line(r)}" for r in decision.risks)]


def _gaps_section(quant: QuantResult, news: NewsResult) -> list[str]:
    lines = [
        f"- Metric {_code(m.id)} ({_inline(m.label)}): "
        + _inline(m.missing_reason or "no reason given")
        for m in quant.metrics
        if m.value is None
    ]
    lines += [
        f"- {_inline(g.source)} / {_inline(g.code)}: {_inline(g.message)}"
        for g in [*quant.gaps, *news.gaps]
    ]
    return ["## Data gaps", "\n".join(lines) if lines else "None."]


def _provenance(
    job_id: str,
    created_at: datetime,
    quant: QuantResult,
    news: NewsResult,
    decision: Decision,
    digest: str,
) -> list[str]:
    note_writer = _inline(quant.note.writer) if quant.note is not None else "not written"
    lines = [
        f"- Job id: {_inline(job_id)}",
        f"- Market data provider: {_inline(quant.market_source)}"
        + (" (simulated)" if quant.simulated else ""),
        *_benchmark_line(quant),
        f"- News provider: {_inline(news.provider)} (status {news.status})",
        f"- Writers: quant note {note_writer}; decision {_inline(decision.writer)}",
        f"- Model usage: {_usage(quant, decision)}",
        f"- Evidence hash (SHA-256): {_inline(digest)}",
        f"- Created at: {created_at.isoformat()}",
    ]
    return ["## Provenance", "\n".join(lines)]


def _benchmark_line(quant: QuantResult) -> list[str]:
    """The benchmark, named, when the provider gave one that is not plain SPY (the price
    store's S&P 500 index); the metric labels name it too."""
    bench = quant.benchmark_series
    if bench is None or bench.label is None:
        return []
    named = f"{_inline(bench.label)} ({_inline(bench.symbol)}, {_inline(bench.source)})"
    return [f"- Benchmark: {named}"]


def _usage(quant: QuantResult, decision: Decision) -> str:
    calls = quant.usage.llm_calls + decision.usage.llm_calls
    if calls == 0:
        return "no model calls"
    prompt = quant.usage.prompt_tokens + decision.usage.prompt_tokens
    completion = quant.usage.completion_tokens + decision.usage.completion_tokens
    return f"{calls} calls, {prompt} prompt tokens, {completion} completion tokens"
