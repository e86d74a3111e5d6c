"""The language-model writer: the Quant Analyst, the Investment Strategist and, for a batch, the
Portfolio Strategist, gated.

Each agent is one structured call. Its prose then goes through `shared.agents.grounding`; when
the gate finds violations the agent gets ONE regeneration, with the violations listed in an
extra user message. A memo whose two drafts are grounded therefore costs two calls, and at most
four.

- Decision: in a watchlist run its one call also carries the previous call and its realised
  outcome, and a thesis that does not cite [previous_verdict] is a violation like any other;
  clean → `GROUNDED`; still failing after the regeneration → `UNGROUNDED` with the
  violations, its confidence clamped into [0, completeness] so the model stays valid (the
  strategist activity caps it again, whoever wrote it).
- Quant note: the same rule; a note still failing is kept as `UNGROUNDED` with its violations,
  and the memo lists them.
- Portfolio summary: the same rule again, over the batch's comparison
  (`grounding.check_portfolio_summary`): one call for the whole batch when its draft is
  grounded, two at most; its budget starts from what the batch already spent.

Usage (calls and tokens the API reported; nothing for a cache hit) is added to
`QuantResult.usage` by `quant_note` and set on `Decision.usage` by `decide`.

LLM_TOKEN_BUDGET covers the whole job: `quant_note` starts from `QuantResult.usage`, and
`decide` starts from it too (the Quant Analyst's calls travel there), so the strategist and
every regeneration only get what is left. A call that would overrun it raises `BudgetExceeded`
before anything is sent (`shared.agents.llm.budget`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from shared.agents.grounding import check_decision, check_portfolio_summary, check_quant_note
from shared.agents.llm import prompts
from shared.agents.llm.budget import TokenBudget
from shared.agents.llm.client import LlmClient, Message, add_usage, llm_client
from shared.agents.llm.schemas import DecisionDraft, PortfolioSummaryDraft, QuantNoteDraft
from shared.domain.changes import ChangeSet
from shared.domain.comparison import Comparison, PortfolioSummary
from shared.domain.evidence import Decision, NewsResult, QuantNote, QuantResult
from shared.domain.models import Grounding, Usage, Verdict
from shared.settings import Settings

log = logging.getLogger(__name__)

D = TypeVar("D", bound=BaseModel)


class LlmWriter:
    """The `shared.agents.writer.Writer` backed by the configured model; `name` is the model."""

    def __init__(self, settings: Settings, *, client: LlmClient | None = None) -> None:
        self._client = client if client is not None else llm_client(settings)
        self.name = self._client.model
        self.token_budget = settings.llm_token_budget

    def quant_note(self, result: QuantResult) -> QuantNote:
        draft, violations, usage = self._write(
            prompts.quant_messages(result),
            QuantNoteDraft,
            purpose="quant_note",
            check=lambda d: check_quant_note(d, result),
            budget=TokenBudget(self.token_budget, result.usage),
        )
        result.usage = add_usage(result.usage, usage)
        return QuantNote(
            text=draft.text,
            red_flags=list(draft.red_flags),
            cited_metrics=_unique(draft.cited_metrics),
            writer=self.name,
            grounding=Grounding.UNGROUNDED if violations else Grounding.GROUNDED,
            violations=violations,
        )

    def decide(
        self, result: QuantResult, news: NewsResult, changes: ChangeSet | None = None
    ) -> Decision:
        draft, violations, usage = self._write(
            prompts.strategist_messages(result, news, changes),
            DecisionDraft,
            purpose="decision",
            check=lambda d: check_decision(d, result, news, changes),
            budget=TokenBudget(self.token_budget, result.usage),  # the quant's calls count
        )
        cap = result.completeness.score if result.completeness is not None else 0.0
        return Decision(
            verdict=Verdict(draft.verdict),
            confidence=max(0.0, min(draft.confidence, cap, 1.0)),
            thesis=draft.thesis,
            risks=list(draft.risks),
            cited_metrics=_unique(draft.cited_metrics),
            cited_articles=_unique(draft.cited_articles),
            writer=self.name,
            grounding=Grounding.UNGROUNDED if violations else Grounding.GROUNDED,
            violations=violations,
            usage=usage,
        )

    def portfolio_summary(self, comparison: Comparison, spent: Usage) -> PortfolioSummary:
        draft, violations, usage = self._write(
            prompts.portfolio_messages(comparison),
            PortfolioSummaryDraft,
            purpose="portfolio_summary",
            check=lambda d: check_portfolio_summary(d, comparison),
            budget=TokenBudget(self.token_budget, spent),
        )
        return PortfolioSummary(
            text=draft.text,
            warnings=list(draft.warnings),
            cited_ids=_unique(draft.cited_ids),
            writer=self.name,
            grounding=Grounding.UNGROUNDED if violations else Grounding.GROUNDED,
            violations=violations,
            usage=usage,
        )

    def _write(
        self,
        messages: list[Message],
        schema: type[D],
        *,
        purpose: str,
        check: Callable[[D], list[str]],
        budget: TokenBudget,
    ) -> tuple[D, list[str], Usage]:
        """A draft, its remaining violations, and the usage of the one or two calls."""
        draft, first = self._client.complete_structured(
            messages, schema, purpose=purpose, budget=budget
        )
        violations = check(draft)
        if not violations:
            return draft, [], first.billed()
        log.warning(
            "llm %s: %d grounding violation(s); regenerating once", purpose, len(violations)
        )
        retry = prompts.regeneration_messages(messages, draft.model_dump_json(), violations)
        draft, second = self._client.complete_structured(
            retry, schema, purpose=f"{purpose}_regeneration", budget=budget
        )
        violations = check(draft)
        if violations:
            log.warning(
                "llm %s: still %d grounding violation(s) after regenerating",
                purpose, len(violations),
            )
        return draft, violations, add_usage(first.billed(), second.billed())


def _unique(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids))
