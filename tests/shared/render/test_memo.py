"""shared.render.memo: sections in order, the simulated warning, escaping, and the evidence hash."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from shared.domain.evidence import (
    Completeness,
    DataGap,
    Decision,
    Metric,
    MetricUnit,
    NewsArticle,
    NewsResult,
    QuantNote,
    QuantResult,
)
from shared.domain.models import Grounding, Verdict
from shared.render.memo import DISCLAIMER, evidence_hash, render_memo

CREATED = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)

SECTIONS = [
    "## Summary",
    "## Quantitative picture",
    "## News and narrative",
    "## Risks",
    "## Data gaps",
    "## Provenance",
]

FORBIDDEN = re.compile(r"\b(nan|NaN|None|inf|Infinity)\b")


def _metric(metric_id: str, unit: MetricUnit, value: float | None) -> Metric:
    return Metric(
        id=metric_id,
        label=metric_id.replace("_", " ").capitalize(),
        unit=unit,
        value=value,
        source="test-market",
        as_of=CREATED if value is not None else None,
        missing_reason=None if value is not None else f"{metric_id} not reported",
    )


FULL = [
    _metric("price", "currency", 187.42),
    _metric("market_cap", "currency", 2.91e12),
    _metric("pe_ratio", "multiple", 28.4),
    _metric("excess_return_1y", "fraction", 0.123),
    _metric("volatility_1y", "fraction", 0.31),
    _metric("beta_1y", "number", 1.2),
]


def _quant(
    metrics: list[Metric] | None = None,
    *,
    simulated: bool = False,
    completeness: float | None = 0.85,
    note: bool = True,
    gaps: list[DataGap] | None = None,
) -> QuantResult:
    metrics = FULL if metrics is None else metrics
    missing = [m.id for m in metrics if m.value is None]
    return QuantResult(
        ticker="ACME",
        outcome="ok",
        company_name="Acme Corp",
        currency="USD",
        simulated=simulated,
        market_source="simulated" if simulated else "yfinance",
        metrics=metrics,
        completeness=(
            Completeness(
                score=completeness,
                available=len(metrics) - len(missing),
                total=len(metrics),
                missing=missing,
            )
            if completeness is not None
            else None
        ),
        gaps=gaps or [],
        note=(
            QuantNote(
                text="Returns beat the market [excess_return_1y].",
                red_flags=["Volatility is high [volatility_1y]."],
                cited_metrics=["excess_return_1y", "volatility_1y"],
                writer="offline-rules",
            )
            if note
            else None
        ),
    )


def _news(*titles: str) -> NewsResult:
    articles = [
        NewsArticle(
            id=f"n{i}",
            title=title,
            url=f"https://news.test/{i}",
            source="Newswire",
            published_at=CREATED,
        )
        for i, title in enumerate(titles, start=1)
    ]
    return NewsResult(provider="firecrawl", status="ok", articles=articles)


DECISION = Decision(
    verdict=Verdict.BUY,
    confidence=0.62,
    thesis="Outperformed the market [excess_return_1y], see [n1].",
    risks=["Volatility [volatility_1y]."],
    cited_metrics=["excess_return_1y", "volatility_1y"],
    cited_articles=["n1"],
    writer="offline-rules",
    grounding=Grounding.NOT_APPLICABLE,
)


def _render(
    quant: QuantResult | None = None,
    news: NewsResult | None = None,
    decision: Decision = DECISION,
) -> str:
    return render_memo(
        job_id="job-123",
        ticker="acme",
        created_at=CREATED,
        quant=quant or _quant(),
        news=news or _news("Acme beats estimates"),
        decision=decision,
        evidence_hash="ab" * 32,
    )


def _section(memo: str, heading: str) -> str:
    start = memo.index(heading + "\n")
    rest = memo[start + len(heading) :]
    end = rest.find("\n## ")
    return rest if end == -1 else rest[:end]


def test_sections_in_order_title_first_disclaimer_last() -> None:
    memo = _render()
    lines = memo.splitlines()
    assert lines[0] == "# ACME research memo"
    positions = [memo.index(f"\n{heading}\n") for heading in SECTIONS]
    assert positions == sorted(positions)
    assert all(memo.count(f"\n{heading}\n") == 1 for heading in SECTIONS)
    assert lines[-1] == DISCLAIMER == "*This memo is not investment advice.*"
    assert memo.endswith("\n")


def test_simulated_warning_right_after_the_title() -> None:
    memo = _render(_quant(simulated=True))
    first = memo.splitlines()[1:4]
    warning = [line for line in first if "SIMULATED DATA" in line]
    assert warning and warning[0].startswith(">")
    assert "synthetic" in warning[0]
    assert memo.index("SIMULATED DATA") < memo.index("## Summary")


def test_no_simulated_warning_for_real_data() -> None:
    assert "SIMULATED" not in _render(_quant(simulated=False))


def test_summary_shows_verdict_confidence_cap_grounding_and_thesis() -> None:
    summary = _section(_render(), "## Summary")
    assert "**BUY**" in summary
    assert "0.62 (capped at completeness 0.85)" in summary
    assert "not applicable" in summary
    assert "Outperformed the market [excess_return_1y]" in summary
    assert "Acme Corp" in summary


def test_quant_table_has_every_metric_and_missing_ones_as_na() -> None:
    metrics = [*FULL, _metric("eps", "currency", None)]
    section = _section(_render(_quant(metrics)), "## Quantitative picture")
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Metric | Value | Source | As of |"
    assert rows[1] == "| --- | --- | --- | --- |"
    assert len(rows) == 2 + len(metrics)
    assert "| $187.42 |" in section
    assert "| $2.91T |" in section
    assert "| 28.4x |" in section
    assert "| +12.3% |" in section
    assert "| 1.20 |" in section
    eps_row = next(r for r in rows if "`eps`" in r)
    assert "| n/a | test-market | n/a |" in eps_row
    assert "Returns beat the market" in section
    assert "- Volatility is high [volatility_1y]." in section


def test_no_nan_none_or_inf_even_when_everything_is_missing() -> None:
    metrics = [_metric(m.id, m.unit, None) for m in FULL]
    quant = _quant(metrics, completeness=None, note=False)
    news = NewsResult(
        provider="firecrawl",
        status="failed",
        gaps=[DataGap(source="firecrawl", code="news_unavailable", message="HTTP 503 twice")],
    )
    decision = DECISION.model_copy(
        update={
            "verdict": Verdict.HOLD,
            "confidence": 0.0,
            "risks": [],
            "cited_articles": [],
            "grounding": Grounding.UNGROUNDED,
            "violations": ["cited [n9], which does not exist"],
        }
    )
    for memo in (_render(quant, news, decision), _render(_quant(metrics))):
        assert not FORBIDDEN.search(memo), FORBIDDEN.findall(memo)
    memo = _render(quant, news, decision)
    assert "0.00 (capped at completeness 0.00" in memo
    assert "UNGROUNDED" in memo
    assert "No quant note was written." in memo
    assert "No risks were stated." in memo


def test_news_articles_are_linked_with_source_date_and_id() -> None:
    section = _section(_render(), "## News and narrative")
    assert "- [Acme beats estimates](https://news.test/1), Newswire, 2024-05-01 [n1]" in section


def test_pipes_and_brackets_in_article_titles_are_escaped() -> None:
    memo = _render(news=_news("Acme | Q1 [beat]\nnew line"))
    section = _section(memo, "## News and narrative")
    assert r"[Acme \| Q1 \[beat\] new line](https://news.test/1)" in section
    assert "Acme |" not in memo


def test_table_cells_are_escaped() -> None:
    odd = Metric(
        id="price",
        label="Price | last\nclose",
        unit="currency",
        value=1.0,
        source="feed|a",
        as_of=CREATED,
    )
    section = _section(_render(_quant([odd])), "## Quantitative picture")
    row = next(line for line in section.splitlines() if "`price`" in line)
    assert row == r"| Price \| last close (`price`) | $1.00 | feed\|a | 2024-05-01 |"
    assert len(re.findall(r"(?<!\\)\|", row)) == 5


def test_unsafe_urls_are_not_linked() -> None:
    news = NewsResult(
        provider="firecrawl",
        status="ok",
        articles=[NewsArticle(id="n1", title="Click", url="javascript:alert(1)")],
    )
    section = _section(_render(news=news), "## News and narrative")
    assert "javascript" not in section
    assert "- Click, source unknown, date unknown [n1]" in section


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("disabled", "news research is disabled"),
        ("failed", "the news provider failed"),
        ("empty", "the news provider returned no articles"),
    ],
)
def test_no_news_is_said_plainly(status: str, reason: str) -> None:
    news = NewsResult(provider="firecrawl", status=status)
    section = _section(_render(news=news), "## News and narrative")
    assert f"No news was used: {reason}" in section


def test_data_gaps_lists_missing_metrics_and_every_gap() -> None:
    quant = _quant(
        [*FULL, _metric("eps", "currency", None)],
        gaps=[DataGap(source="yfinance", code="no_benchmark", message="SPY series missing")],
    )
    news = NewsResult(
        provider="firecrawl",
        status="failed",
        gaps=[DataGap(source="firecrawl", code="news_unavailable", message="timeout")],
    )
    section = _section(_render(quant, news), "## Data gaps")
    assert "- Metric `eps` (Eps): eps not reported" in section
    assert "- yfinance / no_benchmark: SPY series missing" in section
    assert "- firecrawl / news_unavailable: timeout" in section


def test_data_gaps_section_exists_when_there_are_none() -> None:
    memo = _render()
    assert _section(memo, "## Data gaps").strip() == "None."
    # the only "None" in a complete memo is that sentence
    assert FORBIDDEN.findall(memo) == ["None"]


def test_provenance() -> None:
    section = _section(_render(_quant(simulated=True)), "## Provenance")
    assert "job-123" in section
    assert "Market data provider: simulated" in section
    assert "News provider: firecrawl" in section
    assert "quant note offline-rules; decision offline-rules" in section
    assert "ab" * 32 in section
    assert "2024-05-01T12:30:00+00:00" in section


def test_thesis_cannot_open_a_section() -> None:
    decision = DECISION.model_copy(update={"thesis": "Fine.\n## Risks\n| a | b |"})
    memo = _render(decision=decision)
    assert memo.count("\n## Risks\n") == 1
    assert "\n\\## Risks" in memo


def test_render_is_deterministic() -> None:
    assert _render() == _render()


def test_evidence_hash_is_sha256_of_canonical_json() -> None:
    payload = {"b": [1, 2.5, None], "a": {"y": "é", "x": True}}
    canonical = '{"a":{"x":true,"y":"é"},"b":[1,2.5,null]}'
    assert evidence_hash(payload) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    assert evidence_hash({"a": {"x": True, "y": "é"}, "b": [1, 2.5, None]}) == evidence_hash(
        payload
    )
    assert evidence_hash({}) == hashlib.sha256(b"{}").hexdigest()


def test_evidence_hash_refuses_nan() -> None:
    with pytest.raises(ValueError):
        evidence_hash({"x": float("nan")})
