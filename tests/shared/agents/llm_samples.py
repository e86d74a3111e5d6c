"""Hand-made evidence for the LLM layer's tests: exact values, so display rules can be pinned."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from shared.domain.evidence import (
    Completeness,
    Metric,
    MetricUnit,
    NewsArticle,
    NewsResult,
    QuantNote,
    QuantResult,
)
from shared.domain.metrics import METRIC_IDS, METRIC_LABELS, METRIC_UNITS

AS_OF = datetime(2024, 5, 1, tzinfo=UTC)

# Shown as: $187.42, $2.91T, 28.4x, +12.3%, -4.1%, 27.3%, -25.0%, 1.07, n/a for the rest.
VALUES: dict[str, float] = {
    "price": 187.42,
    "market_cap": 2.91e12,
    "pe_ratio": 28.43,
    "return_1y": 0.1234,
    "excess_return_1y": -0.0412,
    "volatility_1y": 0.2731,
    "max_drawdown_1y": -0.25,
    "beta_1y": 1.07,
    "return_6m": 0.061,
    "spy_return_1y": 0.1646,
    "excess_return_6m": 0.012,
    "week52_high": 199.62,
    "week52_low": 150.08,
    "range_position_52w": 0.7475,
    "beta": 1.1,
}


def metric(metric_id: str) -> Metric:
    unit: MetricUnit = METRIC_UNITS[metric_id]
    value = VALUES.get(metric_id)
    return Metric(
        id=metric_id,
        label=METRIC_LABELS[metric_id],
        unit=unit,
        value=value,
        source="computed" if metric_id not in ("price", "market_cap", "pe_ratio") else "test",
        as_of=AS_OF,
        missing_reason=None if value is not None else "TEST series has 40 closes; 127 needed",
    )


def quant_result(ticker: str = "TEST") -> QuantResult:
    metrics = [metric(i) for i in METRIC_IDS]
    missing = [m.id for m in metrics if m.value is None]
    available = len(metrics) - len(missing)
    return QuantResult(
        ticker=ticker,
        outcome="ok",
        company_name="Test Corp",
        currency="USD",
        market_source="test",
        metrics=metrics,
        completeness=Completeness(
            score=round(available / len(metrics), 2),
            available=available,
            total=len(metrics),
            missing=missing,
        ),
    )


def article(article_id: str, excerpt: str, title: str = "Test Corp ships a product") -> NewsArticle:
    return NewsArticle(
        id=article_id,
        title=title,
        url=f"https://news.example/{article_id}",
        source="Example Wire",
        published_at=AS_OF,
        excerpt=excerpt,
    )


def news(*articles: NewsArticle) -> NewsResult:
    return NewsResult(
        provider="test-news", status="ok" if articles else "empty", articles=list(articles)
    )


CALM_NEWS = news(
    article("n1", "Test Corp said demand for its devices was steady this quarter."),
    article("n2", "Analysts debated whether the valuation leaves room for error.", "Valuation"),
)

CLEAN_NOTE = QuantNoteDraft(
    text=(
        "Over 1y the stock returned +12.3% [return_1y] but lagged the benchmark by 4.1% "
        "[excess_return_1y]. Volatility of 27.3% [volatility_1y] and a max drawdown of -25.0% "
        "[max_drawdown_1y] are real risks, and a P/E of 28.4x [pe_ratio] on a $2.91T "
        "[market_cap] company prices in growth. Only 15 of 23 metrics are available "
        "(completeness 0.65); `eps` is missing."
    ),
    red_flags=[
        "The stock lagged SPY over 1y: excess return -4.1% [excess_return_1y].",
        "A drawdown of 25.0% [max_drawdown_1y] in the last 52-week window.",
    ],
    cited_metrics=["return_1y", "excess_return_1y", "volatility_1y", "max_drawdown_1y",
                   "pe_ratio", "market_cap"],
)

CLEAN_DECISION = DecisionDraft(
    verdict="hold",
    confidence=0.55,
    thesis=(
        "Returns of +12.3% [return_1y] trail the benchmark [excess_return_1y], and the 28.4x "
        "[pe_ratio] multiple leaves little room for error [n2]. Demand looks steady [n1], so "
        "there is no case to sell either. HOLD."
    ),
    risks=[
        "Volatility of 27.3% [volatility_1y] and a -25.0% drawdown [max_drawdown_1y].",
        "Only 15 of 23 metrics are available; `eps` is missing.",
    ],
    cited_metrics=["return_1y", "excess_return_1y", "pe_ratio", "volatility_1y",
                   "max_drawdown_1y"],
    cited_articles=["n1", "n2"],
)


def stored_note(draft: QuantNoteDraft = CLEAN_NOTE, writer: str = "gpt-standin") -> QuantNote:
    return QuantNote(
        text=draft.text,
        red_flags=draft.red_flags,
        cited_metrics=draft.cited_metrics,
        writer=writer,
    )
