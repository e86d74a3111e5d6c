"""The grounding gate: deterministic checks of model-written prose against the evidence.

Run on the note text, the red flags, the thesis and the risks before anything is stored. It
returns violations, stable human-readable strings in reading order; an empty list means clean.

Numbers. Every number token in the prose must denote a value in the evidence:
- Evidence values: the available metric values; the completeness score, the counts of
  available, total and missing metrics; the number of news articles; numbers printed in the
  metric labels and missing reasons the model was shown (e.g. "252 trading days"); and, in a
  decision, its own confidence. Numbers inside news text are NOT evidence: the model may not
  quote them (nothing in code computed them). No other small integer is allowed: strict.
- A token is read as displayed: sign (`+`, `-`, `−`), currency sign (`$ € £ ¥`, ignored),
  thousands separators, decimals, then a unit: `%`/`percent`/`pp` (÷100), `bp`/`bps` (÷10,000),
  `x`/`×`/`times` (a multiple, ×1), `K M B T` and `thousand million billion trillion bn mn tn`
  (×1e3 … ×1e12). It matches an evidence value v when |v − token| ≤ half of the token's last
  shown digit (in its unit): "12.3%" matches 0.1234, "$2.9T" matches 2.9e12 ± 0.05e12, "28.4x"
  matches 28.43. A signed token must match v with its sign; an unsigned one matches |v|, so
  "a drawdown of 25.0%" matches -0.25. The currency itself is not compared.
- Allowed without a match: dates (2024-05-01, 05/01/2024, May 1, 2024, 1 May 2024, with an
  optional time), a bare 4-digit year 1900-2100 (so an unmarked "2050" passes as a year),
  period labels (`1m`..`36m`, `1y`..`10y`, `52w`, `5d`, `12-month`, `52-week`, `3-year`), digits
  inside words (`Q3`, `FY2025`, `H1`, `COVID-19`, metric and article ids, the ticker, the
  company name) and the name "S&P 500". `500m` is no period label: it is checked as 500.
- Not checked: numbers spelled in words ("three"), and what a number is said to measure.

Citations. Every id in `cited_metrics` must be a metric of the evidence with a value; every id
in `cited_articles` must be an article of the news; at least one metric must be cited when any
is available. Inline `[id]` citations in the prose follow the same rules (a markdown link
`[text](url)` is not a citation).

Decision. The verdict must be buy, hold or sell; the confidence must lie in [0, 1] and must not
exceed the completeness score.

Portfolio summary (a batch's comparison, `check_portfolio_summary`). The same number rule, over
the comparison's values: each member's ranking values (rank, confidence, completeness, the
ranking metrics), the correlations, the portfolio figures and the members' volatilities over the
shared window, the window's counts, the batch's counts, and the numbers printed in the labels,
missing reasons and gap messages the model was shown. Citable ids: the members' tickers, the
portfolio figures that have a value, and `correlation` when it was computed; a missing portfolio
figure (or an absent correlation) is missing and cannot be cited; at least one id must be cited.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from shared.domain.changes import (
    PREVIOUS_CONFIDENCE_ID,
    PREVIOUS_VERDICT_ID,
    REALISED_EXCESS_ID,
    ChangeSet,
)
from shared.domain.comparison import CORRELATION_ID, Comparison
from shared.domain.evidence import NewsResult, QuantResult

VERDICTS = ("buy", "hold", "sell")
ALLOWED_NAMES = ("S&P 500",)

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DATES = re.compile(
    r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"|\b\d{1,2}/\d{1,2}/\d{2,4}\b"
    rf"|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?(?![\d%]|[.,]\d)"
    rf"|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|\b{_MONTH}\s+\d{{4}}\b"
    r"|\b\d{1,2}:\d{2}(?::\d{2})?\b"
)
_LINK = re.compile(r"\[([^\[\]]*)\]\((?:https?://|www\.)[^)\s]*\)")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_ID_PART = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*")
_ID_SPLIT = re.compile(r"[,;\s]+")

_UNIT_WORDS = (
    r"percentage\s+points?|per\s*cent|percent|pct|basis\s+points?|bps?|pp"
    r"|times|thousand|million|billion|trillion|bn|mn|tn"
)
_TOKENS = re.compile(
    rf"""
    (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:[-.'’][A-Za-z0-9_]+)*)
  | (?P<period>\d{{1,3}}-(?:trading-)?(?:day|week|month|quarter|year)s?(?![A-Za-z])
      |(?:\d{{1,3}}[dw]|(?:[1-9]|[12]\d|3[0-6])m|(?:[1-9]|10)y)(?![A-Za-z0-9]))
  | (?P<number>
      (?:(?<![\w.%)\]])(?P<sign>[+\-−]))?
      (?:(?P<currency>[$€£¥])(?P<sign2>[+\-−])?)?
      (?P<digits>\d{{1,3}}(?:,\d{{3}})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
      (?P<unit>\s?%|\s?(?:{_UNIT_WORDS})(?![A-Za-z])|[xX×](?![A-Za-z0-9])
         |[kKMBT](?![A-Za-z0-9]))?
    )
    """,
    re.VERBOSE,
)
_SCALES: dict[str, float] = {
    "x": 1.0, "×": 1.0, "times": 1.0,
    "k": 1e3, "thousand": 1e3,
    "m": 1e6, "million": 1e6, "mn": 1e6,
    "b": 1e9, "billion": 1e9, "bn": 1e9,
    "t": 1e12, "trillion": 1e12, "tn": 1e12,
}
_RELATIVE_EPSILON = 1e-9


class NoteLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def red_flags(self) -> Sequence[str]: ...
    @property
    def cited_metrics(self) -> Sequence[str]: ...


class DecisionLike(Protocol):
    @property
    def verdict(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def thesis(self) -> str: ...
    @property
    def risks(self) -> Sequence[str]: ...
    @property
    def cited_metrics(self) -> Sequence[str]: ...
    @property
    def cited_articles(self) -> Sequence[str]: ...


class SummaryLike(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def warnings(self) -> Sequence[str]: ...
    @property
    def cited_ids(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class Evidence:
    """What prose may refer to: numbers, ids and names, gathered from the evidence once."""

    values: tuple[float, ...]
    available_metrics: frozenset[str]
    missing_metrics: frozenset[str]
    article_ids: frozenset[str]
    names: tuple[str, ...]
    completeness: float

    def with_values(self, *values: float) -> Evidence:
        return Evidence(
            values=self.values + tuple(values),
            available_metrics=self.available_metrics,
            missing_metrics=self.missing_metrics,
            article_ids=self.article_ids,
            names=self.names,
            completeness=self.completeness,
        )


@dataclass(frozen=True)
class NumberToken:
    text: str
    value: float
    tolerance: float
    signed: bool


def evidence_of(
    quant: QuantResult, news: NewsResult | None = None, changes: ChangeSet | None = None
) -> Evidence:
    """The evidence index of a quant result and, for the strategist, the news it read and, in a
    watchlist run, the previous call and its realised outcome (`changes`)."""
    values: list[float] = [m.value for m in quant.metrics if m.value is not None]
    completeness = quant.completeness
    if completeness is not None:
        values += [
            completeness.score,
            completeness.available,
            completeness.total,
            len(completeness.missing),
        ]
    shown = [m.label for m in quant.metrics] + [m.missing_reason or "" for m in quant.metrics]
    for text in shown:
        values += [token.value for token in _numbers(_strip(text, ()))]
    articles = list(news.articles) if news is not None else []
    if news is not None:
        values.append(len(articles))
    names = [quant.ticker, *(m.id for m in quant.metrics), *(a.id for a in articles)]
    if quant.company_name:
        names.append(quant.company_name)
    available = {m.id for m in quant.metrics if m.available}
    missing = {m.id for m in quant.metrics if not m.available}
    if changes is not None:
        # The previous call's evidence lines: its confidence and the realised returns are
        # numbers the strategist may quote; the realised excess return is missing (cannot be
        # cited) when its window is not covered.
        values.append(changes.confidence_before)
        values += [
            v
            for v in (
                changes.realised_excess_return,
                changes.ticker_return,
                changes.benchmark_return,
            )
            if v is not None
        ]
        available |= {PREVIOUS_VERDICT_ID, PREVIOUS_CONFIDENCE_ID}
        realised = available if changes.realised_excess_return is not None else missing
        realised.add(REALISED_EXCESS_ID)
        names += [PREVIOUS_VERDICT_ID, PREVIOUS_CONFIDENCE_ID, REALISED_EXCESS_ID]
        if changes.benchmark_symbol:
            names.append(changes.benchmark_symbol)
    return Evidence(
        values=tuple(values),
        available_metrics=frozenset(available),
        missing_metrics=frozenset(missing),
        article_ids=frozenset(a.id for a in articles),
        names=tuple(sorted({n for n in names if n})),
        completeness=completeness.score if completeness is not None else 0.0,
    )


def check_quant_note(note: NoteLike, quant: QuantResult) -> list[str]:
    """Violations of the Quant Analyst's note: numbers in its prose, and its citations."""
    evidence = evidence_of(quant)
    found = _prose(("text", note.text), *_items("red_flags", note.red_flags), evidence=evidence)
    found += _cited_metrics(note.cited_metrics, evidence)
    return _unique(found)


def check_decision(
    decision: DecisionLike,
    quant: QuantResult,
    news: NewsResult,
    changes: ChangeSet | None = None,
) -> list[str]:
    """Violations of the Investment Strategist's decision (numbers, citations, verdict, cap);
    with `changes` (a watchlist run), a thesis that does not cite [previous_verdict] ignores
    the previous call, which is a violation too."""
    found: list[str] = []
    verdict = str(decision.verdict)
    if verdict not in VERDICTS:
        found.append(f'verdict "{_show(verdict)}" is not one of buy, hold, sell')
    evidence = evidence_of(quant, news, changes)
    if changes is not None and PREVIOUS_VERDICT_ID not in _inline_citations(
        _LINK.sub(r"\1", decision.thesis)
    ):
        found.append(
            f"thesis: does not address the previous call; cite [{PREVIOUS_VERDICT_ID}] and "
            "say whether this call keeps or changes it"
        )
    confidence = decision.confidence
    if not (math.isfinite(confidence) and 0 <= confidence <= 1):
        found.append(f"confidence {confidence:g} is outside [0, 1]")
    if confidence > evidence.completeness:
        found.append(
            f"confidence {confidence:g} exceeds the completeness score {evidence.completeness:g}"
        )
    if math.isfinite(confidence):
        evidence = evidence.with_values(confidence)
    found += _prose(
        ("thesis", decision.thesis), *_items("risks", decision.risks), evidence=evidence
    )
    found += _cited_metrics(decision.cited_metrics, evidence)
    found += [
        f'cited_articles: "{_show(a)}" is not an article in the news'
        for a in decision.cited_articles
        if a not in evidence.article_ids
    ]
    return _unique(found)


def evidence_of_comparison(comparison: Comparison) -> Evidence:
    """The evidence index of a batch's comparison (see the module docstring)."""
    values: list[float] = []
    shown: list[str] = [comparison.ranking_rule]
    names: list[str] = [comparison.benchmark_symbol, CORRELATION_ID]
    available: set[str] = set()
    missing: set[str] = set()
    for row in comparison.ranking:
        available.add(row.ticker)
        names += [row.ticker, row.company_name or ""]
        values += [v for v in (row.rank, row.confidence, row.completeness) if v is not None]
        values += [m.value for m in row.metrics if m.value is not None]
        shown += [m.label for m in row.metrics] + [m.missing_reason or "" for m in row.metrics]
    correlation = comparison.correlation
    if correlation is not None:
        available.add(CORRELATION_ID)
        values += [v for row_values in correlation.values for v in row_values if v is not None]
        values += [correlation.window.dates, correlation.window.returns]
    else:
        missing.add(CORRELATION_ID)
    portfolio = comparison.portfolio
    for metric in portfolio.metrics:
        names.append(metric.id)
        if metric.value is None:
            missing.add(metric.id)
        else:
            available.add(metric.id)
            values.append(metric.value)
        shown += [metric.label, metric.missing_reason or ""]
    values += [v.value for v in portfolio.member_volatilities if v.value is not None]
    if portfolio.window is not None:
        values += [portfolio.window.dates, portfolio.window.returns]
    values.append(portfolio.benchmark_returns)
    values += [float(count) for count in comparison.counts.model_dump().values()]
    shown += [gap.message for gap in comparison.gaps]
    for text in shown:
        values += [token.value for token in _numbers(_strip(text, ()))]
    return Evidence(
        values=tuple(values),
        available_metrics=frozenset(available),
        missing_metrics=frozenset(missing),
        article_ids=frozenset(),
        names=tuple(sorted({n for n in names if n})),
        completeness=1.0,
    )


def check_portfolio_summary(summary: SummaryLike, comparison: Comparison) -> list[str]:
    """Violations of the Portfolio Strategist's summary: numbers in its prose, and its ids."""
    evidence = evidence_of_comparison(comparison)
    found = _prose(
        ("text", summary.text), *_items("warnings", summary.warnings), evidence=evidence
    )
    for cited in summary.cited_ids:
        if cited in evidence.missing_metrics:
            found.append(
                f'cited_ids: "{_show(cited)}" is missing in the comparison and cannot be cited'
            )
        elif cited not in evidence.available_metrics:
            found.append(f'cited_ids: "{_show(cited)}" is not an id in the comparison')
    if evidence.available_metrics and not summary.cited_ids:
        found.append("cited_ids: nothing is cited")
    return _unique(found)


_NON_FINITE = re.compile(r"(?<![A-Za-z0-9_])(?:nan|inf(?:inity)?)(?![A-Za-z0-9_])", re.IGNORECASE)


def ungrounded_numbers(text: str, evidence: Evidence) -> list[str]:
    """The number tokens of `text` that match no evidence value, as written.

    NaN and infinity are numbers no evidence holds (a missing metric is `n/a`), so they never
    match: a memo must not print them.
    """
    stripped = _strip(text, evidence.names)
    non_finite = [match.group(0) for match in _NON_FINITE.finditer(stripped)]
    return non_finite + [
        token.text
        for token in _numbers(stripped)
        if not any(_matches(token, value) for value in evidence.values)
    ]


def _items(field: str, texts: Sequence[str]) -> list[tuple[str, str]]:
    return [(f"{field}[{index}]", text) for index, text in enumerate(texts)]


def _prose(*fields: tuple[str, str], evidence: Evidence) -> list[str]:
    found: list[str] = []
    for field, text in fields:
        without_links = _LINK.sub(r"\1", text)
        for cited in _inline_citations(without_links):
            if cited in evidence.missing_metrics:
                found.append(f"{field}: cites missing metric [{_show(cited)}]")
            elif cited not in evidence.available_metrics and cited not in evidence.article_ids:
                found.append(f"{field}: cites unknown id [{_show(cited)}]")
        found += [
            f'{field}: number "{_show(token, 24)}" is not in the evidence'
            for token in ungrounded_numbers(without_links, evidence)
        ]
    return found


def _cited_metrics(cited: Sequence[str], evidence: Evidence) -> list[str]:
    found: list[str] = []
    for metric_id in cited:
        if metric_id in evidence.missing_metrics:
            found.append(
                f'cited_metrics: "{_show(metric_id)}" is missing in the evidence '
                "and cannot be cited"
            )
        elif metric_id not in evidence.available_metrics:
            found.append(f'cited_metrics: "{_show(metric_id)}" is not a metric in the evidence')
    if evidence.available_metrics and not cited:
        found.append("cited_metrics: no metric is cited")
    return found


def _inline_citations(text: str) -> list[str]:
    """Ids cited as `[id]` or `[id, id]`: brackets whose every part looks like an identifier."""
    cited: list[str] = []
    for match in _BRACKETS.finditer(text):
        parts = [p for p in _ID_SPLIT.split(match.group(1).strip()) if p]
        if parts and all(_ID_PART.fullmatch(p) for p in parts):
            cited += parts
    return cited


def _strip(text: str, names: Iterable[str]) -> str:
    """`text` without what may carry digits but is no claim: URLs, names and ids, dates."""
    text = _URL.sub(" ", text)
    alternatives = sorted({*ALLOWED_NAMES, *names}, key=len, reverse=True)
    pattern = "|".join(re.escape(name) for name in alternatives if name)
    text = re.sub(rf"(?<![A-Za-z0-9_])(?:{pattern})(?![A-Za-z0-9_])", " ", text)
    return _DATES.sub(" ", text)


def _numbers(text: str) -> list[NumberToken]:
    tokens: list[NumberToken] = []
    for match in _TOKENS.finditer(text):
        if match.group("number") is None:
            continue  # an identifier or a period label
        token = _token(match)
        if token is not None:
            tokens.append(token)
    return tokens


def _token(match: re.Match[str]) -> NumberToken | None:
    digits = match.group("digits")
    sign = match.group("sign") or match.group("sign2")
    unit = re.sub(r"\s+", "", match.group("unit") or "").lower()
    currency = match.group("currency")
    if (
        not sign
        and not currency
        and not unit
        and re.fullmatch(r"\d{4}", digits)
        and 1900 <= int(digits) <= 2100
    ):
        return None  # a year
    scale = _scale(unit)
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    magnitude = float(digits.replace(",", "")) * scale
    value = -magnitude if sign in ("-", "−") else magnitude
    return NumberToken(
        text=match.group("number").strip(),
        value=value,
        tolerance=0.5 * 10.0**-decimals * scale,
        signed=bool(sign),
    )


def _scale(unit: str) -> float:
    """What one shown unit of a token is worth: `%` is 0.01, `B` is 1e9, none is 1."""
    if unit in ("%", "percent", "pct", "pp") or unit.startswith("percentagepoint"):
        return 0.01
    if unit in ("bp", "bps") or unit.startswith("basispoint"):
        return 1e-4
    return _SCALES.get(unit, 1.0)


def _matches(token: NumberToken, value: float) -> bool:
    target = value if token.signed else abs(value)
    slack = token.tolerance + _RELATIVE_EPSILON * max(1.0, abs(target))
    return abs(target - token.value) <= slack


def _show(text: str, limit: int = 40) -> str:
    """A model-written fragment, safe to quote in a violation: one line, no brackets, short."""
    clean = re.sub(r"[^\w .,:;%$€£¥+\-−×/'’]", "_", " ".join(text.split()))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
