"""Scripted answers for the agents, for runs that go through the LLM stand-in.

The drafts cite the price and write no number, so the grounding gate passes them whatever the
evidence (one call per agent, no regeneration). Long scraped articles make the strategist's
prompt far larger than the analyst's, which the budget tests rely on.
"""

from __future__ import annotations

from typing import Any

from shared.agents.llm import prompts
from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from shared.domain.changes import PREVIOUS_VERDICT_ID
from tests.standins.firecrawl_server import document
from tests.standins.openai_server import PORTFOLIO_SCHEMA, Received, Reply, grounded_portfolio

QUANT_NOTE = QuantNoteDraft(
    text="The stock trades at its current price [price]; the rest of the evidence is mixed.",
    red_flags=[],
    cited_metrics=["price"],
)
DECISION = DecisionDraft(
    verdict="hold",
    confidence=0.1,
    thesis="The evidence around the price [price] is mixed, so the call is to hold.",
    risks=["Part of the evidence may be incomplete."],
    cited_metrics=["price"],
    cited_articles=[],
)

# A watchlist run's strategist must address the previous call (it cites [previous_verdict]).
DECISION_AFTER_PREVIOUS = DECISION.model_copy(
    update={
        "thesis": DECISION.thesis
        + f" The previous call [{PREVIOUS_VERDICT_ID}] is weighed against what followed."
    }
)


def agents(request: Received) -> Reply:
    """The stand-in's default responder: a clean draft for whichever agent is asking (the
    Portfolio Strategist of a batch too)."""
    if request.schema == PORTFOLIO_SCHEMA:
        return grounded_portfolio(request)
    if request.system == prompts.QUANT_SYSTEM_PROMPT:
        return Reply.json(QUANT_NOTE)
    if request.system == prompts.STRATEGIST_SYSTEM_PROMPT:
        if f'"id": "{PREVIOUS_VERDICT_ID}"' in request.user[0]:  # a watchlist run's memo
            return Reply.json(DECISION_AFTER_PREVIOUS)
        return Reply.json(DECISION)
    return Reply.status_code(500, "unknown agent")


def is_strategist(request: Received) -> bool:
    return request.system == prompts.STRATEGIST_SYSTEM_PROMPT


def long_articles(count: int = 5, chars: int = 1500) -> list[dict[str, Any]]:
    """Firecrawl results whose excerpts fill NEWS_ARTICLE_MAX_CHARS."""
    body = ("The company said demand was steady and margins held up this quarter. " * 40)[:chars]
    return [
        document(f"https://news.example/{i}", f"Quarterly update {i}", body,
                 published="2026-11-20T12:00:00Z")
        for i in range(count)
    ]
