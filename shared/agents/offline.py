"""The offline writer: fixed rules over the evidence, standing in for the two LLM agents.

Deterministic: the same evidence gives the same note and decision, word for word. Every number
in the text is cited by its metric id in brackets (`[pe_ratio]`), articles by theirs (`[n1]`);
a metric that is missing is named in backticks, never cited. Fractions are plain (0.10 = 10%).

    constant                    value  rule
    EXCESS_1Y_RED_FLAG          -0.10  red flag: 1y excess return below this
    VOLATILITY_RED_FLAG          0.40  red flag: 1y volatility above this
    DRAWDOWN_RED_FLAG           -0.25  red flag: 1y max drawdown worse than this
    PE_RED_FLAG                  40.0  red flag, -1 point: P/E above this, or negative EPS/P/E
    BETA_RED_FLAG                 1.5  red flag: 1y beta above this
    RANGE_BOTTOM_RED_FLAG        0.10  red flag: price in the bottom tenth of its 52-week range
    COMPLETENESS_RED_FLAG        0.70  red flag: completeness score below this
    EXCESS_1Y_STRONG             0.10  +2 above, -2 below minus this; +1 / -1 for any other sign
    EXCESS_6M_STRONG             0.05  +1 above, -1 below minus this
    PE_CHEAP                     15.0  +1 point: P/E positive and below this
    BUY_SCORE                       2  buy at this score or more
    SELL_SCORE                     -2  sell at this score or less
    MIN_COMPLETENESS_FOR_CALL    0.50  hold below this completeness, whatever the score
    CONFIDENCE_BASE              0.50  confidence of a call at score 0
    CONFIDENCE_PER_POINT         0.08  buy/sell: + per point of |score|; hold: - per point
    CONFIDENCE_MAX               0.85  no rule-based call is more confident than this
    CONFIDENCE_MISSING_DATA      0.25  confidence of a hold forced by missing data
    NEWS_MISSING_FACTOR          0.80  confidence multiplier when no article was available
"""

from __future__ import annotations

from shared.domain.changes import ChangeSet, previous_call_sentence
from shared.domain.evidence import (
    BENCHMARK_SYMBOL,
    Decision,
    MetricUnit,
    NewsResult,
    QuantNote,
    QuantResult,
    benchmark_name,
)
from shared.domain.formatting import format_metric, format_value
from shared.domain.models import Grounding, Verdict

WRITER = "offline-rules"

EXCESS_1Y_RED_FLAG = -0.10
VOLATILITY_RED_FLAG = 0.40
DRAWDOWN_RED_FLAG = -0.25
PE_RED_FLAG = 40.0
BETA_RED_FLAG = 1.5
RANGE_BOTTOM_RED_FLAG = 0.10
COMPLETENESS_RED_FLAG = 0.70

EXCESS_1Y_STRONG = 0.10
EXCESS_6M_STRONG = 0.05
PE_CHEAP = 15.0
BUY_SCORE = 2
SELL_SCORE = -2
KEY_METRICS = ("excess_return_1y", "volatility_1y", "max_drawdown_1y")
MIN_COMPLETENESS_FOR_CALL = 0.50

CONFIDENCE_BASE = 0.50
CONFIDENCE_PER_POINT = 0.08
CONFIDENCE_MAX = 0.85
CONFIDENCE_MISSING_DATA = 0.25
NEWS_MISSING_FACTOR = 0.80

BENCHMARK_METRICS = ("spy_return_1m", "spy_return_3m", "spy_return_6m", "spy_return_1y")

# What the quant note reads, section by section: (phrase, metric id).
_NOTE_SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Performance",
        (
            ("1y return", "return_1y"),
            ("benchmark (SPY) 1y return", "spy_return_1y"),
            ("1y excess return", "excess_return_1y"),
            ("6m excess return", "excess_return_6m"),
        ),
    ),
    (
        "Risk",
        (
            ("1y volatility", "volatility_1y"),
            ("1y max drawdown", "max_drawdown_1y"),
            ("1y beta", "beta_1y"),
        ),
    ),
    (
        "Valuation",
        (("P/E", "pe_ratio"), ("EPS", "eps"), ("market cap", "market_cap")),
    ),
    (
        "Price",
        (("price", "price"), ("position in the 52-week range", "range_position_52w")),
    ),
)

_RULES_DISCLAIMER = (
    "These rules read price history, P/E and EPS only: not the business, guidance, "
    "balance sheet or events."
)


class _Reader:
    """The metrics of one result, and the ids cited while reading them, in first-cited order."""

    def __init__(self, result: QuantResult) -> None:
        self.result = result
        self.cited: list[str] = []

    def value(self, metric_id: str) -> float | None:
        metric = self.result.metric(metric_id)
        return metric.value if metric is not None else None

    def cite(self, metric_id: str) -> str:
        """The formatted value with its citation, e.g. `+12.3% [excess_return_1y]`."""
        metric = self.result.metric(metric_id)
        if metric is None or metric.value is None:
            return f"n/a (`{metric_id}` missing)"
        if metric_id not in self.cited:
            self.cited.append(metric_id)
        return f"{format_metric(metric, self.result.currency)} [{metric_id}]"


def _threshold(value: float, unit: MetricUnit, metric_id: str = "") -> str:
    return format_value(value, unit, metric_id=metric_id)


def _red_flags(reader: _Reader) -> list[str]:
    """Each rule that fires, as one sentence citing the metric that made it fire."""
    flags: list[str] = []
    excess_1y = reader.value("excess_return_1y")
    if excess_1y is not None and excess_1y < EXCESS_1Y_RED_FLAG:
        flags.append(
            f"1y excess return {reader.cite('excess_return_1y')} is below "
            f"{_threshold(EXCESS_1Y_RED_FLAG, 'fraction')}: the stock lagged the benchmark."
        )
    volatility = reader.value("volatility_1y")
    if volatility is not None and volatility > VOLATILITY_RED_FLAG:
        flags.append(
            f"1y volatility {reader.cite('volatility_1y')} is above "
            f"{_threshold(VOLATILITY_RED_FLAG, 'fraction')}."
        )
    drawdown = reader.value("max_drawdown_1y")
    if drawdown is not None and drawdown < DRAWDOWN_RED_FLAG:
        flags.append(
            f"1y max drawdown {reader.cite('max_drawdown_1y')} is worse than "
            f"{_threshold(DRAWDOWN_RED_FLAG, 'fraction')}."
        )
    pe, eps = reader.value("pe_ratio"), reader.value("eps")
    if (eps is not None and eps < 0) or (pe is not None and pe < 0):
        cited = [reader.cite(i) for i in ("eps", "pe_ratio") if reader.value(i) is not None]
        flags.append(f"Negative earnings: {', '.join(cited)}.")
    elif pe is not None and pe > PE_RED_FLAG:
        flags.append(
            f"P/E {reader.cite('pe_ratio')} is above {_threshold(PE_RED_FLAG, 'multiple')}: "
            "the price assumes a lot of growth."
        )
    beta = reader.value("beta_1y")
    if beta is not None and beta > BETA_RED_FLAG:
        flags.append(
            f"1y beta {reader.cite('beta_1y')} is above {_threshold(BETA_RED_FLAG, 'number')}: "
            "moves amplify the market's."
        )
    position = reader.value("range_position_52w")
    if position is not None and position < RANGE_BOTTOM_RED_FLAG:
        flags.append(
            f"Price sits at {reader.cite('range_position_52w')} of its 52-week range, "
            f"in the bottom {_threshold(RANGE_BOTTOM_RED_FLAG, 'fraction')}."
        )
    completeness = reader.result.completeness
    if completeness is None:
        flags.append("Completeness was not computed: treat every number as unverified.")
    elif completeness.score < COMPLETENESS_RED_FLAG:
        flags.append(
            f"Only {completeness.available} of {completeness.total} metrics are available "
            f"(completeness {completeness.score:.2f}, below {COMPLETENESS_RED_FLAG:.2f})."
        )
    if all(reader.value(i) is None for i in BENCHMARK_METRICS):
        bench = benchmark_name(reader.result.benchmark_series)
        flags.append(f"Benchmark ({bench}) returns are missing: no comparison with the market.")
    return flags


def _named(phrase: str, bench: str) -> str:
    """The phrase naming the benchmark the provider gave in place of SPY."""
    return phrase.replace(f"({BENCHMARK_SYMBOL})", f"({bench})")


def _missing_ids(result: QuantResult) -> list[str]:
    return [m.id for m in result.metrics if m.value is None]


def write_quant_note(result: QuantResult) -> QuantNote:
    """A skeptical, metric-driven note, written by the rules above rather than by a model."""
    reader = _Reader(result)
    bench = benchmark_name(result.benchmark_series)
    sentences = [
        f"Written by fixed rules from the computed metrics of {result.ticker}, "
        "not by a language model."
    ]
    for heading, items in _NOTE_SECTIONS:
        shown = [
            f"{_named(phrase, bench)} {reader.cite(i)}"
            for phrase, i in items
            if reader.value(i) is not None
        ]
        absent = [f"`{i}`" for _, i in items if reader.value(i) is None]
        if not shown:
            sentences.append(f"{heading}: nothing to read; missing {', '.join(absent)}.")
            continue
        tail = f"; missing {', '.join(absent)}" if absent else ""
        sentences.append(f"{heading}: {', '.join(shown)}{tail}.")
    flags = _red_flags(reader)
    if flags:
        plural = "s" if len(flags) != 1 else ""
        sentences.append(f"Read skeptically: {len(flags)} rule{plural} raised a red flag.")
    else:
        sentences.append(
            "No rule raised a red flag; that is the absence of these warning signs, "
            "not evidence of safety."
        )
    sentences.append(_RULES_DISCLAIMER)
    return QuantNote(
        text=" ".join(sentences),
        red_flags=flags,
        cited_metrics=list(reader.cited),
        writer=WRITER,
    )


def _score(reader: _Reader) -> tuple[int, list[str]]:
    """The score and one `phrase -> points` line per term that could be evaluated."""
    score = 0
    terms: list[str] = []

    def add(points: int, text: str) -> None:
        nonlocal score
        score += points
        terms.append(f"{text} {points:+d}")

    excess_1y = reader.value("excess_return_1y")
    if excess_1y is not None:
        if excess_1y > EXCESS_1Y_STRONG:
            points = 2
        elif excess_1y < -EXCESS_1Y_STRONG:
            points = -2
        else:
            points = (excess_1y > 0) - (excess_1y < 0)
        add(points, f"1y excess return {reader.cite('excess_return_1y')}")
    excess_6m = reader.value("excess_return_6m")
    if excess_6m is not None:
        points = (excess_6m > EXCESS_6M_STRONG) - (excess_6m < -EXCESS_6M_STRONG)
        add(points, f"6m excess return {reader.cite('excess_return_6m')}")
    volatility = reader.value("volatility_1y")
    if volatility is not None:
        add(-(volatility > VOLATILITY_RED_FLAG), f"1y volatility {reader.cite('volatility_1y')}")
    drawdown = reader.value("max_drawdown_1y")
    if drawdown is not None:
        add(-(drawdown < DRAWDOWN_RED_FLAG), f"1y max drawdown {reader.cite('max_drawdown_1y')}")
    pe, eps = reader.value("pe_ratio"), reader.value("eps")
    if (eps is not None and eps < 0) or (pe is not None and pe < 0):
        cited = [reader.cite(i) for i in ("eps", "pe_ratio") if reader.value(i) is not None]
        add(-1, f"negative earnings {', '.join(cited)}")
    elif pe is not None:
        points = -1 if pe > PE_RED_FLAG else (1 if pe < PE_CHEAP else 0)
        add(points, f"P/E {reader.cite('pe_ratio')}")
    return score, terms


def _verdict_for(score: int) -> Verdict:
    if score >= BUY_SCORE:
        return Verdict.BUY
    if score <= SELL_SCORE:
        return Verdict.SELL
    return Verdict.HOLD


def _news_available(news: NewsResult) -> bool:
    return news.status == "ok" and bool(news.articles)


def decide(result: QuantResult, news: NewsResult, changes: ChangeSet | None = None) -> Decision:
    """A buy/hold/sell call by the score rules, its confidence capped by completeness; a
    watchlist run's call (`changes`) also states the previous call and its realised outcome."""
    reader = _Reader(result)
    score, terms = _score(reader)
    completeness = result.completeness
    cap = completeness.score if completeness is not None else 0.0
    missing_keys = [i for i in KEY_METRICS if reader.value(i) is None]

    rules = f"buy at {BUY_SCORE:+d} or more, sell at {SELL_SCORE:+d} or less, hold in between"
    if missing_keys:
        verdict, confidence = Verdict.HOLD, CONFIDENCE_MISSING_DATA
        why = (
            "HOLD because key metrics are missing ("
            + ", ".join(f"`{i}`" for i in missing_keys)
            + "); these rules make no call without them."
        )
    elif cap < MIN_COMPLETENESS_FOR_CALL:
        verdict, confidence = Verdict.HOLD, CONFIDENCE_MISSING_DATA
        why = (
            f"HOLD because completeness {cap:.2f} is below {MIN_COMPLETENESS_FOR_CALL:.2f}; "
            "these rules make no call on so little data."
        )
    else:
        verdict = _verdict_for(score)
        if verdict is Verdict.HOLD:
            confidence = CONFIDENCE_BASE - CONFIDENCE_PER_POINT * abs(score)
        else:
            confidence = min(CONFIDENCE_MAX, CONFIDENCE_BASE + CONFIDENCE_PER_POINT * abs(score))
        why = f"{verdict.value.upper()} with score {score:+d} ({rules})."

    has_news = _news_available(news)
    if not has_news:
        confidence *= NEWS_MISSING_FACTOR
    # The invariant: never more confident than the evidence is complete.
    confidence = max(0.0, min(round(confidence, 2), cap))

    parts = [f"Rule-based call by {WRITER}, not a language model: {why}"]
    if terms:
        parts.append("Score terms: " + "; ".join(terms) + ".")
    else:
        parts.append("No score term could be evaluated.")
    if changes is not None:
        parts.append(previous_call_sentence(changes, verdict))
    article_ids = [a.id for a in news.articles] if has_news else []
    if has_news:
        listed = " ".join(f"[{i}]" for i in article_ids)
        parts.append(
            f"News: {len(article_ids)} article(s) listed for context {listed}; "
            "these rules do not score news."
        )
    else:
        parts.append(
            f"No news was available (news status: {news.status}), so confidence was lowered."
        )

    risks = _red_flags(reader)
    missing = _missing_ids(result)
    if missing:
        risks.append(
            "Missing metrics, see Data gaps: " + ", ".join(f"`{i}`" for i in missing) + "."
        )
    if not has_news:
        risks.append("No news was read: narrative and event risk is unassessed.")
    risks.append(_RULES_DISCLAIMER)

    return Decision(
        verdict=verdict,
        confidence=confidence,
        thesis=" ".join(parts),
        risks=risks,
        cited_metrics=list(reader.cited),
        cited_articles=article_ids,
        writer=WRITER,
        grounding=Grounding.NOT_APPLICABLE,
    )
