"""What changed since the last memo (issue 17, item 4): pure, from two memos' evidence.

A watchlist run's memo is compared with the owner's latest completed live memo of the ticker:
its stored `evidence.json` (`previous_evidence`) against this memo's evidence.

- Verdict and confidence before (the previous memo's) and after (this memo's; None while the
  strategist has not decided yet: the strategist sees the before and the realised outcome).
- The realised excess return since the previous memo, (P_now/P_then - 1) - (B_now/B_then - 1):
  "then" is the last close on or before the previous memo's evidence date (the last date of its
  ticker series), "now" this memo's last close, both read from the ticker's and the benchmark's
  series in THIS memo's evidence (the benchmark's "now" is its last close on or before the
  ticker's). None with a reason when the window is not covered.
- The moves of the key metrics (before, after, after - before), the red flags that appeared or
  went away (a flag is known by the metric ids it cites in brackets, so a flag whose number
  moved is the same flag; a flag citing nothing by its text), and the news items whose url (or,
  without one, title) the previous evidence does not hold.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

from shared.domain.evidence import (
    MetricUnit,
    NewsResult,
    PriceSeries,
    QuantResult,
    finite_or_none,
)
from shared.domain.formatting import format_value
from shared.domain.models import Verdict

# The ids the strategist may cite for the previous call and its outcome (its prompt's evidence
# lines, accepted by the grounding gate).
PREVIOUS_VERDICT_ID = "previous_verdict"
PREVIOUS_CONFIDENCE_ID = "previous_confidence"
REALISED_EXCESS_ID = "realised_excess_return"

KEY_METRICS: tuple[str, ...] = (
    "price",
    "return_1y",
    "volatility_1y",
    "max_drawdown_1y",
    "pe_ratio",
    "beta_1y",
    "range_position_52w",
)

_CITED = re.compile(r"\[([A-Za-z][A-Za-z0-9_.\-]*(?:\s*,\s*[A-Za-z][A-Za-z0-9_.\-]*)*)\]")
_DIGITS = re.compile(r"[+\-−]?\$?\d[\d,.]*\s*[%xX]?")


class MetricMove(BaseModel):
    id: str
    label: str
    unit: MetricUnit
    before: float | None = None
    after: float | None = None
    change: float | None = None  # after - before, when both exist


class ArticleRef(BaseModel):
    id: str
    title: str
    url: str | None = None


class ChangeSet(BaseModel):
    """What changed between the previous memo and this one; stored as evidence.json's
    `changes`."""

    previous_job_id: str
    previous_completed_at: datetime
    previous_evidence_date: date | None = None
    verdict_before: Verdict
    confidence_before: float
    verdict_after: Verdict | None = None
    confidence_after: float | None = None
    realised_excess_return: float | None = None
    ticker_return: float | None = None
    benchmark_return: float | None = None
    benchmark_symbol: str | None = None
    window_start: date | None = None
    window_end: date | None = None
    realised_reason: str | None = None  # why realised_excess_return is None
    metric_moves: list[MetricMove] = []
    red_flags_appeared: list[str] = []
    red_flags_gone: list[str] = []
    new_articles: list[ArticleRef] = []

    @property
    def verdict_changed(self) -> bool | None:
        return None if self.verdict_after is None else self.verdict_after != self.verdict_before

    def decided(self, verdict: Verdict, confidence: float) -> ChangeSet:
        """The same changes with this memo's decision as the after."""
        return self.model_copy(update={"verdict_after": verdict, "confidence_after": confidence})


def compute_changes(
    previous_evidence: dict[str, Any],
    quant: QuantResult,
    news: NewsResult,
    decision_before: tuple[Verdict, float],
    *,
    previous_job_id: str,
    previous_completed_at: datetime,
    decision_after: tuple[Verdict, float] | None = None,
) -> ChangeSet:
    """The changes from `previous_evidence` (a stored evidence.json) to this memo's evidence."""
    previous_quant = _mapping(previous_evidence.get("quant"))
    then = _last_date(previous_quant.get("ticker_series"))
    realised = _realised(then, quant.ticker_series, quant.benchmark_series)
    before, after = decision_before, decision_after
    return ChangeSet(
        previous_job_id=previous_job_id,
        previous_completed_at=previous_completed_at,
        previous_evidence_date=then,
        verdict_before=before[0],
        confidence_before=before[1],
        verdict_after=after[0] if after else None,
        confidence_after=after[1] if after else None,
        benchmark_symbol=(
            quant.benchmark_series.display_name if quant.benchmark_series is not None else None
        ),
        **realised,
        metric_moves=_moves(previous_quant, quant),
        **_flags(previous_evidence, quant),
        new_articles=_new_articles(previous_evidence, news),
    )


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _last_date(series: object) -> date | None:
    dates = _mapping(series).get("dates") or []
    try:
        return date.fromisoformat(str(dates[-1])) if dates else None
    except ValueError:
        return None


def _close_on_or_before(series: PriceSeries, day: date) -> tuple[date, float] | None:
    index = bisect_right(series.dates, day) - 1
    return (series.dates[index], series.closes[index]) if index >= 0 else None


def _realised(
    then: date | None, ticker: PriceSeries | None, benchmark: PriceSeries | None
) -> dict[str, Any]:
    def missing(reason: str) -> dict[str, Any]:
        return {"realised_reason": reason}

    if then is None:
        return missing("the previous memo's evidence has no price series to date it")
    if ticker is None or not ticker.dates:
        return missing("this memo has no price series for the ticker")
    if benchmark is None or not benchmark.dates:
        return missing("this memo has no benchmark series")
    end, p_now = ticker.dates[-1], ticker.closes[-1]
    if then > end:
        return missing(f"the previous memo's evidence ({then}) is newer than this memo's ({end})")
    p_then = _close_on_or_before(ticker, then)
    b_then = _close_on_or_before(benchmark, then)
    b_now = _close_on_or_before(benchmark, end)
    if p_then is None or b_then is None or b_now is None:
        return {
            **missing(f"this memo's series do not reach back to {then.isoformat()}"),
            "window_end": end,
        }
    ticker_return = p_now / p_then[1] - 1
    benchmark_return = b_now[1] / b_then[1] - 1
    return {
        "realised_excess_return": ticker_return - benchmark_return,
        "ticker_return": ticker_return,
        "benchmark_return": benchmark_return,
        "window_start": p_then[0],
        "window_end": end,
    }


def _moves(previous_quant: dict[str, Any], quant: QuantResult) -> list[MetricMove]:
    before: dict[str, float | None] = {}
    for row in previous_quant.get("metrics") or []:
        row = _mapping(row)
        value = row.get("value")
        if isinstance(row.get("id"), str):
            before[row["id"]] = finite_or_none(value)
    moves: list[MetricMove] = []
    for metric_id in KEY_METRICS:
        metric = quant.metric(metric_id)
        if metric is None and metric_id not in before:
            continue
        old = before.get(metric_id)
        new = metric.value if metric is not None else None
        moves.append(
            MetricMove(
                id=metric_id,
                label=metric.label if metric is not None else metric_id,
                unit=metric.unit if metric is not None else "number",
                before=old,
                after=new,
                change=new - old if old is not None and new is not None else None,
            )
        )
    return moves


def flag_key(flag: str) -> str:
    """What identifies a red flag across memos: the metric ids it cites, else its words."""
    cited = sorted(
        {part.strip() for m in _CITED.finditer(flag) for part in m.group(1).split(",")}
    )
    if cited:
        return ",".join(cited)
    return " ".join(_DIGITS.sub("#", flag).lower().split())


def _flags(previous_evidence: dict[str, Any], quant: QuantResult) -> dict[str, list[str]]:
    note = _mapping(previous_evidence.get("quant_note"))
    old = [f for f in note.get("red_flags") or [] if isinstance(f, str)]
    new = list(quant.note.red_flags) if quant.note is not None else []
    old_keys, new_keys = {flag_key(f) for f in old}, {flag_key(f) for f in new}
    return {
        "red_flags_appeared": [f for f in new if flag_key(f) not in old_keys],
        "red_flags_gone": [f for f in old if flag_key(f) not in new_keys],
    }


def _new_articles(previous_evidence: dict[str, Any], news: NewsResult) -> list[ArticleRef]:
    seen: set[str] = set()
    for row in _mapping(previous_evidence.get("news")).get("articles") or []:
        row = _mapping(row)
        seen |= {str(v) for v in (row.get("url"), row.get("title")) if v}
    return [
        ArticleRef(id=a.id, title=a.title, url=a.url)
        for a in news.articles
        if (a.url or a.title) not in seen
    ]


def format_return(value: float | None) -> str:
    """A realised return as memos show returns: signed percent, one decimal (`+1.2%`)."""
    return format_value(value, "fraction", metric_id="excess_return_realised")


def previous_call_sentence(changes: ChangeSet, verdict: Verdict) -> str:
    """How the offline strategist addresses the previous call and its outcome, citing both."""
    when = changes.previous_completed_at.date().isoformat()
    before = changes.verdict_before.value.upper()
    said = (
        f"Since the last memo ({when}), which said {before} at confidence "
        f"{changes.confidence_before:.2f} [{PREVIOUS_VERDICT_ID}]"
    )
    bench = changes.benchmark_symbol or "the benchmark"
    if changes.realised_excess_return is None:
        outcome = f"the realised excess return is unknown ({changes.realised_reason})"
    else:
        outcome = (
            f"the stock's realised excess return over {bench} is "
            f"{format_return(changes.realised_excess_return)} [{REALISED_EXCESS_ID}]"
        )
    same = verdict == changes.verdict_before
    kept = "keeps it" if same else f"changes it to {verdict.value.upper()}"
    return f"{said}, {outcome}; this call {kept}, by the same rules on the new evidence."
