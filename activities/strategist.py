"""The Investment Strategist: reads the quant output and the news, decides, capped by the data."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.agents.confidence import cap_confidence, overall_grounding
from shared.agents.writer import writer
from shared.contracts import DecisionSummary, MemoInput
from shared.domain.evidence import DataGap, Decision, NewsResult, QuantResult
from shared.errors import StorageFailed
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore, work_blob

bp = df.Blueprint()
log = logging.getLogger(__name__)


def load_quant(artifacts: ArtifactStore, name: str) -> QuantResult:
    quant = artifacts.read_model(name, QuantResult)
    if quant is None:
        raise StorageFailed(f"quant output {name} is missing from storage")
    return quant


def load_news(artifacts: ArtifactStore, name: str | None, gaps: list[DataGap]) -> NewsResult:
    """The stored news, or a failed news set carrying why research failed."""
    if name:
        news = artifacts.read_model(name, NewsResult)
        if news is None:
            raise StorageFailed(f"news {name} is missing from storage")
        return news
    return NewsResult(provider=get_settings().news_provider, status="failed", gaps=gaps)


def decide(request: MemoInput) -> DecisionSummary:
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, "decision")
    quant = load_quant(artifacts, request.quant_artifact)
    decision = artifacts.read_model(name, Decision)
    if decision is None:
        news = load_news(artifacts, request.news_artifact, request.news_gaps)
        decision = cap_confidence(writer(get_settings()).decide(quant, news), quant)
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


@bp.activity_trigger(input_name="payload", activity=names.WRITE_MEMO)
def write_memo(payload: dict) -> dict[str, Any]:
    request = MemoInput.model_validate(payload)
    with telemetry.activity_span(names.WRITE_MEMO, request.job_id, request.ticker):
        return decide(request).model_dump(mode="json")
