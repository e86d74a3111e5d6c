"""What the agents answer, as strict structured-output schemas (validated by pydantic).

The drafts hold only prose and ids: every number in them is checked against the evidence by
`shared.agents.grounding` before it becomes a `QuantNote` or a `Decision`. Confidence is a plain
float here, so a value outside [0, 1] or above the completeness cap reaches the gate as a violation
instead of failing the call.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class QuantNoteDraft(BaseModel):
    """The Quant Analyst's answer."""

    model_config = ConfigDict(extra="forbid")

    text: str
    red_flags: list[str]
    cited_metrics: list[str]


class DecisionDraft(BaseModel):
    """The Investment Strategist's answer."""

    model_config = ConfigDict(extra="forbid")

    verdict: Literal["buy", "hold", "sell"]
    confidence: float
    thesis: str
    risks: list[str]
    cited_metrics: list[str]
    cited_articles: list[str]


class PortfolioSummaryDraft(BaseModel):
    """The Portfolio Strategist's answer: a short summary of a batch's comparison."""

    model_config = ConfigDict(extra="forbid")

    text: str
    warnings: list[str]
    cited_ids: list[str]
