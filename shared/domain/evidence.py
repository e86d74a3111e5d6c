"""Evidence models: market snapshots, computed metrics, news, and the strategist's decision.

Numbers live only here, produced by code. A metric without a value is `missing` with a reason;
NaN and infinities are refused at construction, so they can never reach a memo.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from shared.domain.models import Grounding, Usage, Verdict

# The one market every ticker is measured against. Defined here, with the evidence it shapes
# (QuantResult.benchmark_series, the spy_* metrics), so the orchestrator that asks for it, the
# market activity that caches it, the providers and the chart all read the same symbol.
BENCHMARK_SYMBOL = "SPY"

MetricUnit = Literal["currency", "fraction", "multiple", "number"]


class Metric(BaseModel):
    """One number with its provenance; `value is None` means missing, `missing_reason` says why."""

    id: str
    label: str
    unit: MetricUnit
    value: float | None = None
    source: str
    as_of: datetime | None = None
    missing_reason: str | None = None

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("metric values must be finite; report the metric missing instead")
        return value

    @model_validator(mode="after")
    def _reason_when_missing(self) -> Metric:
        if self.value is None and not self.missing_reason:
            raise ValueError(f"metric {self.id} is missing without a reason")
        if self.value is not None:
            self.missing_reason = None
        return self

    @property
    def available(self) -> bool:
        return self.value is not None


def finite_or_none(value: object) -> float | None:
    """A float when `value` is a real finite number, else None (NaN, inf, None, strings, bools)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class PriceSeries(BaseModel):
    """Daily closes, oldest first; dates and closes have the same length."""

    symbol: str
    dates: list[date]
    closes: list[float]
    source: str
    # How memos, tables and charts name the series when its symbol is not the name to show
    # (the price store's S&P 500 index: symbol SP500, label "S&P 500 index"). Left out of the
    # JSON when None, so stored evidence and its hash are what they always were.
    label: str | None = Field(default=None, exclude_if=lambda v: v is None)

    @property
    def display_name(self) -> str:
        """The label, else the symbol."""
        return self.label or self.symbol

    @model_validator(mode="after")
    def _aligned(self) -> PriceSeries:
        if len(self.dates) != len(self.closes):
            raise ValueError("dates and closes must have the same length")
        if any(not math.isfinite(c) or c <= 0 for c in self.closes):
            raise ValueError("closes must be finite and positive; drop bad days instead")
        if any(b <= a for a, b in zip(self.dates, self.dates[1:], strict=False)):
            raise ValueError("dates must be strictly increasing")
        return self


class MarketSnapshot(BaseModel):
    """What a market data provider returns for one symbol. Fields it lacks stay None."""

    symbol: str
    source: str
    as_of: datetime
    currency: str | None = None
    name: str | None = None
    price: float | None = None
    market_cap: float | None = None
    trailing_pe: float | None = None
    trailing_eps: float | None = None
    beta: float | None = None
    fifty_two_week_high: float | None = None
    fifty_two_week_low: float | None = None
    series: PriceSeries | None = None
    simulated: bool = False
    # Why a fundamental is None, by field name, when the provider knows (the price store holds
    # closes only: "not in the price store"); the metric's missing reason. Left out when empty.
    unavailable: dict[str, str] = Field(default_factory=dict, exclude_if=lambda v: not v)
    # The as_of of a point-in-time fetch: the fundamentals left None are "not available point
    # in time", not unreported. None for a fetch of the latest data.
    point_in_time: date | None = None

    @field_validator(
        "price", "market_cap", "trailing_pe", "trailing_eps", "beta",
        "fifty_two_week_high", "fifty_two_week_low", mode="before",
    )
    @classmethod
    def _finite_fields(cls, value: object) -> float | None:
        return finite_or_none(value)


def benchmark_name(series: PriceSeries | None) -> str:
    """How memos, tables and charts name the benchmark: its series' label or symbol, and
    BENCHMARK_SYMBOL when there is no series to ask."""
    return series.display_name if series is not None else BENCHMARK_SYMBOL


class DataGap(BaseModel):
    """Something the memo could not use, stated plainly in its data-gaps section."""

    source: str
    code: str
    message: str


class Completeness(BaseModel):
    score: float = Field(ge=0, le=1)
    available: int
    total: int
    missing: list[str]


class QuantNote(BaseModel):
    """The Quant Analyst's note: skeptical prose, red flags, and the metric ids it cites."""

    text: str
    red_flags: list[str]
    cited_metrics: list[str]
    writer: str
    grounding: Grounding = Grounding.NOT_APPLICABLE
    violations: list[str] = []


class QuantResult(BaseModel):
    """The Quant Analyst's full output, kept in Blob; the orchestrator sees a QuantSummary."""

    ticker: str
    outcome: Literal["ok", "unknown_ticker"]
    company_name: str | None = None
    currency: str | None = None
    simulated: bool = False
    market_source: str
    metrics: list[Metric] = []
    completeness: Completeness | None = None
    gaps: list[DataGap] = []
    ticker_series: PriceSeries | None = None
    benchmark_series: PriceSeries | None = None
    note: QuantNote | None = None
    usage: Usage = Usage()

    def metric(self, metric_id: str) -> Metric | None:
        return next((m for m in self.metrics if m.id == metric_id), None)


class NewsArticle(BaseModel):
    id: str
    title: str
    url: str | None = None
    source: str | None = None
    published_at: datetime | None = None
    excerpt: str = ""


class NewsResult(BaseModel):
    provider: str
    status: Literal["ok", "empty", "disabled", "failed"]
    articles: list[NewsArticle] = []
    gaps: list[DataGap] = []


class Decision(BaseModel):
    """The Investment Strategist's decision; confidence is capped by completeness in code."""

    verdict: Verdict
    confidence: float = Field(ge=0, le=1)
    thesis: str
    risks: list[str]
    cited_metrics: list[str] = []
    cited_articles: list[str] = []
    writer: str
    grounding: Grounding = Grounding.NOT_APPLICABLE
    violations: list[str] = []
    usage: Usage = Usage()
