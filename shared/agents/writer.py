"""The writer behind the agents, picked from the settings: the offline rules or a model.

Either produces the same `QuantNote` and `Decision`, and for a batch the same
`PortfolioSummary`; the confidence cap is applied after either (`shared.agents.confidence`).
"""

from __future__ import annotations

from typing import Protocol

from shared.domain.changes import ChangeSet
from shared.domain.comparison import Comparison, PortfolioSummary
from shared.domain.evidence import Decision, NewsResult, QuantNote, QuantResult
from shared.domain.models import Usage
from shared.import_lock import serialised
from shared.settings import Settings


class Writer(Protocol):
    """Writes the Quant Analyst's note, the Investment Strategist's decision and, for a batch,
    the Portfolio Strategist's summary (`spent`: what the batch already spent on models). A
    watchlist run's strategist also gets `changes` (the previous call and its realised outcome)
    and must address them."""

    name: str

    def quant_note(self, result: QuantResult) -> QuantNote: ...

    def decide(
        self, result: QuantResult, news: NewsResult, changes: ChangeSet | None = None
    ) -> Decision: ...

    def portfolio_summary(self, comparison: Comparison, spent: Usage) -> PortfolioSummary: ...


class OfflineWriter:
    """LLM_PROVIDER=offline: deterministic rules over the evidence, said so in the memo."""

    name = "offline-rules"

    def quant_note(self, result: QuantResult) -> QuantNote:
        from shared.agents.offline import write_quant_note

        return write_quant_note(result)

    def decide(
        self, result: QuantResult, news: NewsResult, changes: ChangeSet | None = None
    ) -> Decision:
        from shared.agents.offline import decide

        return decide(result, news, changes)

    def portfolio_summary(self, comparison: Comparison, spent: Usage) -> PortfolioSummary:
        from shared.agents.portfolio import offline_summary

        return offline_summary(comparison)


@serialised
def writer(settings: Settings) -> Writer:
    if settings.llm_provider == "offline":
        return OfflineWriter()
    from shared.agents.model_writer import LlmWriter

    return LlmWriter(settings)
