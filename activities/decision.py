"""The Investment Strategist's decision: reads the quant output and the news, decides, capped by
the data. It writes no memo: persist_report renders the memo from this decision."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.agents.confidence import cap_confidence, overall_grounding
from shared.agents.writer import Writer, writer
from shared.contracts import DecisionSummary, MemoInput
from shared.domain.changes import ChangeSet
from shared.domain.evidence import Decision, NewsResult, QuantResult
from shared.domain.lookahead import check_evidence
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore, work_blob
from shared.store.evidence_blobs import load_news, load_quant
from shared.store.previous import changes_since

bp = df.Blueprint()
log = logging.getLogger(__name__)


def decision_for(
    quant: QuantResult, news: NewsResult, author: Writer, changes: ChangeSet | None = None
) -> Decision:
    """The author's decision on the evidence, its confidence capped by the data's completeness;
    a watchlist run's author also gets the previous call and its outcome (`changes`)."""
    if changes is None:  # the call every writer, test doubles included, has always answered
        return cap_confidence(author.decide(quant, news), quant)
    return cap_confidence(author.decide(quant, news, changes), quant)


def decide(request: MemoInput) -> DecisionSummary:
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, "decision")
    quant = load_quant(artifacts, request.quant_artifact)
    news = load_news(artifacts, request.news_artifact, request.news_gaps)
    # The look-ahead guard over all the evidence the memo is written from (series, metrics,
    # news), before the strategist reads it: a point-in-time analysis with anything dated
    # after its as_of fails here with lookahead_violation, and nothing is written.
    check_evidence(quant, news, request.as_of)
    decision = artifacts.read_model(name, Decision)
    if decision is None:
        # Only a live memo is compared with the previous one; a point-in-time one never is.
        changes = (
            changes_since(artifacts, request.previous, quant, news)
            if request.previous is not None and request.as_of is None
            else None
        )
        decision = decision_for(quant, news, writer(get_settings()), changes)
        decision = artifacts.write_model_once(name, decision)
    log.info(
        "job %s: %s at confidence %.2f (%s)",
        request.job_id, decision.verdict, decision.confidence, decision.grounding,
    )
    return DecisionSummary(
        verdict=decision.verdict,
        confidence=decision.confidence,
        grounding=overall_grounding(quant.note, decision),
        artifact=name,
    )


# Registered as `write_memo` (names.WRITE_MEMO), the name it had before the memo moved to
# persist_report. The registered name stays: the recorded orchestration history and instances
# in flight call the activity by it, so renaming it would break their replay.
@bp.function_name(names.WRITE_MEMO)
@bp.activity_trigger(input_name="payload", activity=names.WRITE_MEMO)
def make_decision(payload: dict) -> dict[str, Any]:
    request = MemoInput.model_validate(payload)
    with telemetry.activity_span(names.WRITE_MEMO, request.job_id, request.ticker):
        return decide(request).model_dump(mode="json")
