"""The memo's "Since the last memo" section and the comparison's "What changed" (issue 17)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from shared.agents.offline import decide, write_quant_note
from shared.agents.portfolio import offline_summary
from shared.domain.changes import ChangeSet
from shared.domain.comparison import compare
from shared.domain.models import Verdict
from shared.render.comparison import render_comparison
from shared.render.memo import SINCE_HEADING, render_memo
from tests.shared.agents.llm_samples import CALM_NEWS
from tests.shared.domain.comparison_samples import batch
from tests.shared.domain.test_changes import (
    business_days,
    changes_of,
    current,
    independent_excess,
    previous_document,
)

CREATED = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def shown_percent(fraction: float) -> str:
    """A return as memos show it, computed apart from shared.domain.formatting."""
    percent = round(fraction * 100, 1)
    return "0.0%" if percent == 0 else f"{percent:+.1f}%"


def memo_with_changes() -> tuple[str, ChangeSet, float]:
    dates = business_days(date(2024, 1, 2), 90)
    quant = current(dates)
    quant.note = write_quant_note(quant)
    then = dates[40]
    changes = changes_of(previous_document(then, {"price": 170.0}), quant, CALM_NEWS)
    changes = changes.model_copy(update={"verdict_before": Verdict.SELL})  # then: SELL at 0.40
    decision = decide(quant, CALM_NEWS, changes)
    changes = changes.decided(decision.verdict, decision.confidence)
    memo = render_memo(
        job_id="job-2", ticker="TEST", created_at=CREATED, quant=quant, news=CALM_NEWS,
        decision=decision, evidence_hash="ab" * 32, changes=changes,
    )
    return memo, changes, independent_excess(quant, then)[0]


def section(memo: str, heading: str) -> str:
    start = memo.index(heading + "\n")
    end = memo.find("\n## ", start + len(heading))
    return memo[start : end if end >= 0 else None]


def test_since_the_last_memo_states_the_verdict_change_and_the_realised_excess_return() -> None:
    memo, changes, excess = memo_with_changes()

    headings = re.findall(r"^## (.+)$", memo, re.MULTILINE)
    assert headings[:3] == ["Summary", "Since the last memo", "Quantitative picture"]
    body = section(memo, SINCE_HEADING)
    after = changes.verdict_after
    assert after is not None
    assert after is not Verdict.SELL
    assert f"Verdict: SELL → {after.value.upper()} (changed)" in body
    assert f"Confidence: 0.40 → {changes.confidence_after:.2f}" in body
    assert f"Realised excess return over SPY since the last memo: **{shown_percent(excess)}**" in (
        body
    )
    assert "| Price (`price`) | $170.00 | $187.42 | +$17.42 |" in body
    assert "New news items:" in body and "Red flags that appeared" in body


def test_the_offline_strategist_addresses_the_previous_call() -> None:
    memo, _, excess = memo_with_changes()
    summary = section(memo, "## Summary")
    assert "which said SELL at confidence 0.40 [previous_verdict]" in summary
    assert f"{shown_percent(excess)} [realised_excess_return]" in summary


def test_no_section_without_changes() -> None:
    quant = current(business_days(date(2024, 1, 2), 30))
    memo = render_memo(
        job_id="job-1", ticker="TEST", created_at=CREATED, quant=quant, news=CALM_NEWS,
        decision=decide(quant, CALM_NEWS), evidence_hash="ab" * 32, as_of=date(2024, 2, 12),
    )
    assert SINCE_HEADING not in memo and "previous_verdict" not in memo


def test_comparison_lists_what_changed_first() -> None:
    members, _ = batch()
    plain = compare(members)
    assert "changes" not in plain.model_dump(mode="json")  # stored as it always was
    assert "## What changed" not in render_comparison("b", CREATED, plain, offline_summary(plain))

    completed = [m for m in members if m.quant is not None]
    first = completed[0]
    assert first.decision is not None
    changes = ChangeSet(
        previous_job_id="p" * 32,
        previous_completed_at=CREATED,
        verdict_before=Verdict.SELL,
        confidence_before=0.3,
        verdict_after=first.decision.verdict,
        confidence_after=first.decision.confidence,
        realised_excess_return=0.0234,
        ticker_return=0.05,
        benchmark_return=0.0266,
        benchmark_symbol="SPY",
        window_start=date(2025, 3, 3),
        window_end=date(2025, 3, 31),
    )
    first.changes = changes
    comparison = compare(members)
    memo = render_comparison("b", CREATED, comparison, offline_summary(comparison))

    headings = re.findall(r"^## (.+)$", memo, re.MULTILINE)
    assert headings[0] == "What changed" and headings.index("Ranking") > 0
    body = section(memo, "## What changed")
    after = first.decision.verdict.value.upper()
    assert f"**{first.ticker}**: Verdict: SELL → {after} (changed)" in body
    assert "since the last memo: **+2.3%**" in body
    assert [c.ticker for c in comparison.changes] == [first.ticker]
