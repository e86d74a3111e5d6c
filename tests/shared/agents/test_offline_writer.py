"""shared.agents.offline: the rule-based note and decision, and the confidence cap."""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import UTC, datetime

import pytest

from shared.agents import offline as ow
from shared.domain.evidence import (
    Completeness,
    Metric,
    MetricUnit,
    NewsArticle,
    NewsResult,
    QuantResult,
)
from shared.domain.models import Grounding, Verdict

AS_OF = datetime(2024, 5, 1, tzinfo=UTC)

UNITS: dict[str, MetricUnit] = {
    "price": "currency",
    "market_cap": "currency",
    "eps": "currency",
    "week52_high": "currency",
    "week52_low": "currency",
    "pe_ratio": "multiple",
    "beta": "number",
    "beta_1y": "number",
    **{
        f"{prefix}{period}": "fraction"
        for prefix in ("return_", "spy_return_", "excess_return_")
        for period in ("1m", "3m", "6m", "1y")
    },
    "volatility_1y": "fraction",
    "max_drawdown_1y": "fraction",
    "range_position_52w": "fraction",
}

# A calm, fairly valued stock that tracks the market: no red flag, score 0.
NEUTRAL: dict[str, float | None] = {
    "price": 187.42,
    "market_cap": 2.91e12,
    "eps": 6.1,
    "week52_high": 199.62,
    "week52_low": 164.08,
    "pe_ratio": 30.7,
    "beta": 1.1,
    "beta_1y": 1.05,
    "return_1m": 0.01,
    "return_3m": 0.03,
    "return_6m": 0.06,
    "return_1y": 0.20,
    "spy_return_1m": 0.01,
    "spy_return_3m": 0.03,
    "spy_return_6m": 0.06,
    "spy_return_1y": 0.20,
    "excess_return_1m": 0.0,
    "excess_return_3m": 0.0,
    "excess_return_6m": 0.0,
    "excess_return_1y": 0.0,
    "volatility_1y": 0.25,
    "max_drawdown_1y": -0.12,
    "range_position_52w": 0.65,
}

CITATION = re.compile(r"\[([A-Za-z0-9_]+)\]")


def metric(metric_id: str, value: float | None) -> Metric:
    return Metric(
        id=metric_id,
        label=metric_id.replace("_", " "),
        unit=UNITS[metric_id],
        value=value,
        source="test-market",
        as_of=AS_OF if value is not None else None,
        missing_reason=None if value is not None else "not reported by the provider",
    )


def quant(
    overrides: Mapping[str, float | None] | None = None,
    *,
    score: float | None = -1.0,
    simulated: bool = False,
) -> QuantResult:
    """A result from NEUTRAL with `overrides`; score -1 means computed from the metrics."""
    values = {**NEUTRAL, **(overrides or {})}
    metrics = [metric(i, v) for i, v in values.items()]
    missing = [m.id for m in metrics if m.value is None]
    completeness = None
    if score is not None:
        available = len(metrics) - len(missing)
        computed = available / len(metrics)
        completeness = Completeness(
            score=computed if score < 0 else score,
            available=available,
            total=len(metrics),
            missing=missing,
        )
    return QuantResult(
        ticker="TEST",
        outcome="ok",
        currency="USD",
        simulated=simulated,
        market_source="test-market",
        metrics=metrics,
        completeness=completeness,
    )


def news_ok(count: int = 2) -> NewsResult:
    articles = [
        NewsArticle(id=f"n{i}", title=f"Headline {i}", url=f"https://news.test/{i}")
        for i in range(1, count + 1)
    ]
    return NewsResult(provider="test-news", status="ok", articles=articles)


NO_NEWS = NewsResult(provider="test-news", status="disabled")

STRONG = {
    "excess_return_1y": 0.25,
    "excess_return_6m": 0.10,
    "volatility_1y": 0.22,
    "max_drawdown_1y": -0.08,
    "pe_ratio": 22.0,
}
WEAK = {
    "excess_return_1y": -0.30,
    "excess_return_6m": -0.15,
    "volatility_1y": 0.55,
    "max_drawdown_1y": -0.45,
    "eps": -1.2,
    "pe_ratio": None,
}
MIXED = {
    "excess_return_1y": 0.15,  # +2
    "excess_return_6m": -0.08,  # -1
    "volatility_1y": 0.50,  # -1
    "max_drawdown_1y": -0.20,  # 0
    "pe_ratio": 30.0,  # 0
}


def check_citations(result: QuantResult, cited_metrics: list[str], text: str) -> None:
    available = {m.id for m in result.metrics if m.value is not None}
    assert set(cited_metrics) <= available
    assert len(cited_metrics) == len(set(cited_metrics))
    for token in CITATION.findall(text):
        assert token in available or re.fullmatch(r"n\d+", token), token


# --- verdict rules -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "overrides", "verdict"),
    [
        ("strong", STRONG, Verdict.BUY),
        ("weak", WEAK, Verdict.SELL),
        ("mixed", MIXED, Verdict.HOLD),
        ("neutral", {}, Verdict.HOLD),
        ("missing excess 1y", {**STRONG, "excess_return_1y": None}, Verdict.HOLD),
        ("missing volatility", {**WEAK, "volatility_1y": None}, Verdict.HOLD),
        ("missing drawdown", {**STRONG, "max_drawdown_1y": None}, Verdict.HOLD),
    ],
)
def test_verdict_rules(name: str, overrides: dict[str, float | None], verdict: Verdict) -> None:
    result = quant(overrides)
    decision = ow.decide(result, news_ok())
    assert decision.verdict is verdict, name
    assert decision.writer == "offline-rules"
    assert decision.grounding is Grounding.NOT_APPLICABLE
    check_citations(result, decision.cited_metrics, decision.thesis + " ".join(decision.risks))


def test_strong_case_cites_its_inputs_and_news() -> None:
    result = quant(STRONG)
    decision = ow.decide(result, news_ok())
    assert {"excess_return_1y", "excess_return_6m", "volatility_1y"} <= set(decision.cited_metrics)
    assert "[excess_return_1y]" in decision.thesis
    assert decision.cited_articles == ["n1", "n2"]
    assert "[n1]" in decision.thesis and "[n2]" in decision.thesis
    assert "not a language model" in decision.thesis
    # score +3 (+2 1y excess, +1 6m excess) -> 0.5 + 3 * 0.08, below completeness 1.0
    assert decision.confidence == pytest.approx(0.74)


def test_buy_and_sell_at_the_threshold_scores() -> None:
    # +2 from the 1y excess alone; everything else neutral.
    assert ow.decide(quant({"excess_return_1y": 0.11}), news_ok()).verdict is Verdict.BUY
    assert ow.decide(quant({"excess_return_1y": -0.11}), news_ok()).verdict is Verdict.SELL
    # +1 only: hold, leaning.
    leaning = ow.decide(quant({"excess_return_1y": 0.05}), news_ok())
    assert leaning.verdict is Verdict.HOLD
    assert leaning.confidence == pytest.approx(ow.CONFIDENCE_BASE - ow.CONFIDENCE_PER_POINT)


def test_missing_key_metric_holds_with_low_confidence_and_names_it() -> None:
    decision = ow.decide(quant({**STRONG, "volatility_1y": None}), news_ok())
    assert decision.verdict is Verdict.HOLD
    assert decision.confidence <= ow.CONFIDENCE_MISSING_DATA
    assert "`volatility_1y`" in decision.thesis
    assert "volatility_1y" not in decision.cited_metrics  # named, not cited
    assert any("`volatility_1y`" in r for r in decision.risks)


def test_low_completeness_holds_whatever_the_score() -> None:
    decision = ow.decide(quant(STRONG, score=0.4), news_ok())
    assert decision.verdict is Verdict.HOLD
    assert decision.confidence <= 0.4


def test_confidence_is_capped_by_completeness() -> None:
    decision = ow.decide(quant(STRONG, score=0.55), news_ok())
    assert decision.verdict is Verdict.BUY
    assert decision.confidence == pytest.approx(0.55)


def test_missing_news_lowers_confidence() -> None:
    with_news = ow.decide(quant(WEAK), news_ok())
    without = ow.decide(quant(WEAK), NO_NEWS)
    assert without.verdict is with_news.verdict is Verdict.SELL
    assert without.confidence < with_news.confidence
    assert without.cited_articles == []
    assert "disabled" in without.thesis
    assert any("No news" in r for r in without.risks)


@pytest.mark.parametrize("score", [None, 0.0])
def test_zero_confidence_without_completeness(score: float | None) -> None:
    decision = ow.decide(quant(STRONG, score=score), news_ok())
    assert decision.confidence == 0.0


def test_all_missing_is_a_zero_confidence_hold() -> None:
    result = quant(dict.fromkeys(NEUTRAL), score=-1.0)
    assert result.completeness is not None and result.completeness.score == 0.0
    decision = ow.decide(result, NO_NEWS)
    assert decision.verdict is Verdict.HOLD
    assert decision.confidence == 0.0
    assert decision.cited_metrics == []
    note = ow.write_quant_note(result)
    assert note.cited_metrics == []
    assert "nothing to read" in note.text


# --- the cap, over many generated evidence sets ------------------------------------------


def _random_value(rng: random.Random, metric_id: str) -> float:
    unit = UNITS[metric_id]
    if unit == "fraction":
        return rng.choice([rng.uniform(-1.0, 1.5), rng.uniform(-0.2, 0.2), 0.0])
    if unit == "multiple":
        return rng.choice([rng.uniform(-50, 200), rng.uniform(5, 45)])
    if unit == "number":
        return rng.uniform(-1, 3)
    return rng.choice([rng.uniform(-20, 2000), rng.uniform(1e6, 5e12)])


def _random_case(rng: random.Random) -> tuple[QuantResult, NewsResult]:
    mode = rng.random()
    values: dict[str, float | None] = {}
    for metric_id in NEUTRAL:
        if mode < 0.1:
            values[metric_id] = None  # all missing
        elif rng.random() < 0.25:
            values[metric_id] = None
        else:
            values[metric_id] = _random_value(rng, metric_id)
    score = rng.choice([None, 0.0, -1.0, -1.0, rng.random(), 1.0])
    result = quant(values, score=score)
    if rng.random() < 0.1:  # some metrics not even listed
        result.metrics = [m for m in result.metrics if rng.random() < 0.5]
    status = rng.choice(["ok", "ok", "empty", "disabled", "failed"])
    news = news_ok(rng.randint(0, 4)) if status == "ok" else NewsResult(provider="x", status=status)
    return result, news


def test_confidence_never_exceeds_completeness_over_generated_evidence() -> None:
    rng = random.Random(20240501)
    verdicts: set[Verdict] = set()
    for _ in range(2000):
        result, news = _random_case(rng)
        decision = ow.decide(result, news)
        cap = result.completeness.score if result.completeness is not None else 0.0
        assert 0.0 <= decision.confidence <= cap
        assert decision.confidence <= ow.CONFIDENCE_MAX
        if cap == 0.0:
            assert decision.confidence == 0.0
        assert decision == ow.decide(result, news)  # deterministic
        assert decision.writer == "offline-rules"
        assert decision.grounding is Grounding.NOT_APPLICABLE
        assert set(decision.cited_articles) <= {a.id for a in news.articles}
        check_citations(result, decision.cited_metrics, decision.thesis + " ".join(decision.risks))
        note = ow.write_quant_note(result)
        check_citations(result, note.cited_metrics, note.text + " ".join(note.red_flags))
        verdicts.add(decision.verdict)
    assert verdicts == set(Verdict)  # the generator exercises every branch


# --- the quant note ----------------------------------------------------------------------


def test_clean_note_has_no_red_flags_and_says_how_it_was_written() -> None:
    result = quant()
    note = ow.write_quant_note(result)
    assert note.writer == "offline-rules"
    assert note.red_flags == []
    assert "not by a language model" in note.text
    assert "not evidence of safety" in note.text
    assert {"excess_return_1y", "volatility_1y", "pe_ratio", "price"} <= set(note.cited_metrics)
    check_citations(result, note.cited_metrics, note.text)


@pytest.mark.parametrize(
    ("overrides", "score", "fragment", "cited"),
    [
        ({"excess_return_1y": -0.12}, -1.0, "1y excess return", "excess_return_1y"),
        ({"volatility_1y": 0.41}, -1.0, "1y volatility", "volatility_1y"),
        ({"max_drawdown_1y": -0.26}, -1.0, "max drawdown", "max_drawdown_1y"),
        ({"pe_ratio": 41.0}, -1.0, "P/E", "pe_ratio"),
        ({"eps": -0.5, "pe_ratio": None}, -1.0, "Negative earnings", "eps"),
        ({"beta_1y": 1.6}, -1.0, "beta", "beta_1y"),
        ({"range_position_52w": 0.05}, -1.0, "52-week range", "range_position_52w"),
        ({}, 0.6, "completeness 0.60", None),
        ({}, None, "Completeness was not computed", None),
        (
            {f"spy_return_{p}": None for p in ("1m", "3m", "6m", "1y")},
            1.0,
            "Benchmark",
            None,
        ),
    ],
)
def test_each_red_flag_rule(
    overrides: dict[str, float | None], score: float | None, fragment: str, cited: str | None
) -> None:
    note = ow.write_quant_note(quant(overrides, score=score))
    assert len(note.red_flags) == 1, note.red_flags
    assert fragment in note.red_flags[0]
    if cited is not None:
        assert f"[{cited}]" in note.red_flags[0]
        assert cited in note.cited_metrics
    assert "1 rule raised a red flag" in note.text


def test_thresholds_are_not_red_flags_at_the_boundary() -> None:
    at_boundary = {
        "excess_return_1y": ow.EXCESS_1Y_RED_FLAG,
        "volatility_1y": ow.VOLATILITY_RED_FLAG,
        "max_drawdown_1y": ow.DRAWDOWN_RED_FLAG,
        "pe_ratio": ow.PE_RED_FLAG,
        "beta_1y": ow.BETA_RED_FLAG,
        "range_position_52w": ow.RANGE_BOTTOM_RED_FLAG,
    }
    assert ow.write_quant_note(quant(at_boundary)).red_flags == []
