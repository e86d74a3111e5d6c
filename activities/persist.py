"""Persist: memo and evidence to the private container, then the job's completion and its
report-log entry in one table transaction. Safe to run twice."""

from __future__ import annotations

import json
import logging
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.agents.confidence import overall_grounding
from shared.contracts import PersistInput, PersistResult
from shared.domain.changes import ChangeSet
from shared.domain.evidence import Decision, NewsResult, QuantResult
from shared.domain.lookahead import check_evidence
from shared.domain.models import JobStatus, Stage, Usage
from shared.errors import StorageFailed
from shared.render.memo import evidence_hash, render_memo
from shared.store.artifacts import ArtifactStore, evidence_blob, memo_blob
from shared.store.evidence_blobs import load_news, load_quant
from shared.store.jobs import JobStore
from shared.store.previous import changes_since
from shared.store.rows import ReportLogRow

bp = df.Blueprint()
log = logging.getLogger(__name__)


def evidence_document(
    request: PersistInput,
    quant: QuantResult,
    news: NewsResult,
    decision: Decision,
    changes: ChangeSet | None = None,
) -> dict[str, Any]:
    evidence = {
        "quant": quant.model_dump(mode="json", exclude={"note", "usage"}),
        "news": news.model_dump(mode="json"),
    }
    point_in_time = {"as_of": request.as_of.isoformat()} if request.as_of else {}
    return {
        "job_id": request.job_id,
        "ticker": request.ticker,
        **point_in_time,
        "created_at": request.created_at.isoformat(),
        "evidence_hash": evidence_hash(evidence),
        **evidence,
        "quant_note": quant.note.model_dump(mode="json") if quant.note else None,
        "decision": decision.model_dump(mode="json"),
        # A watchlist run's memo: what changed since the previous one (the notification and the
        # batch comparison read it). Outside the hashed evidence; absent otherwise.
        **({"changes": changes.model_dump(mode="json")} if changes is not None else {}),
    }


def persist(request: PersistInput) -> PersistResult:
    artifacts = ArtifactStore()
    quant = load_quant(artifacts, request.quant_artifact)
    news = load_news(artifacts, request.news_artifact, request.news_gaps)
    decision = artifacts.read_model(request.decision_artifact, Decision)
    if decision is None:
        raise StorageFailed(f"decision {request.decision_artifact} is missing from storage")
    check_evidence(quant, news, request.as_of)  # the guard again, right before the memo

    decision = decision.model_copy(update={"grounding": overall_grounding(quant.note, decision)})
    evidence_name = evidence_blob(request.ticker, request.job_id)
    memo_name = memo_blob(request.ticker, request.job_id)
    store = JobStore()
    current = store.get(request.owner, request.job_id)
    if current is None:
        raise StorageFailed(f"job {request.job_id} is missing from the analyses table")
    if current.status in (JobStatus.CANCELLED, JobStatus.FAILED):
        # Cancelled (or failed) while this step was on its way: no memo for that job.
        log.warning("job %s: not persisted, it is %s", request.job_id, current.status)
        return PersistResult(
            job_status=current.status,
            memo_blob=memo_name,
            evidence_blob=evidence_name,
            verdict=decision.verdict,
            confidence=decision.confidence,
        )
    changes = (
        changes_since(artifacts, request.previous, quant, news)
        if request.previous is not None and request.as_of is None
        else None
    )
    if changes is not None:
        changes = changes.decided(decision.verdict, decision.confidence)
    document = evidence_document(request, quant, news, decision, changes)
    memo = render_memo(
        job_id=request.job_id,
        ticker=request.ticker,
        created_at=request.created_at,
        as_of=request.as_of,
        quant=quant,
        news=news,
        decision=decision,
        evidence_hash=document["evidence_hash"],
        changes=changes,
    )
    artifacts.write_once(
        evidence_name,
        json.dumps(document, indent=2, ensure_ascii=False).encode(),
        "application/json; charset=utf-8",
    )
    artifacts.write_once(memo_name, memo.encode(), "text/markdown; charset=utf-8")

    usage = Usage(
        llm_calls=quant.usage.llm_calls + decision.usage.llm_calls,
        prompt_tokens=quant.usage.prompt_tokens + decision.usage.prompt_tokens,
        completion_tokens=quant.usage.completion_tokens + decision.usage.completion_tokens,
    )
    completed = current.model_copy(
        update={
            "status": JobStatus.COMPLETED,
            "stage": Stage.COMPLETED,
            "completed_at": request.completed_at,
            "verdict": decision.verdict,
            "confidence": decision.confidence,
            "grounding": decision.grounding,
            "usage": usage,
        }
    )
    log_entry = ReportLogRow(
        owner=request.owner,
        job_id=request.job_id,
        ticker=request.ticker,
        verdict=decision.verdict,
        confidence=decision.confidence,
        grounding=decision.grounding,
        completed_at=request.completed_at,
        memo_blob=memo_name,
        evidence_blob=evidence_name,
        evidence_hash=document["evidence_hash"],
    )
    final = store.complete(completed, log_entry.entity())
    if final is None:
        raise StorageFailed(f"job {request.job_id} vanished from the analyses table")
    if final.status is JobStatus.COMPLETED:
        log.info("job %s: memo stored at %s", request.job_id, memo_name)
        if current.status is not JobStatus.COMPLETED:  # a re-run does not count twice
            telemetry.record_job_completed(request.job_id)
    else:
        # The job ended (cancelled) between the check above and the transaction, which refused
        # to complete it: its memo must not outlive it.
        log.warning("job %s: not marked completed, it is %s", request.job_id, final.status)
        artifacts.delete(memo_name)
        artifacts.delete(evidence_name)
    return PersistResult(
        job_status=final.status,
        memo_blob=memo_name,
        evidence_blob=evidence_name,
        verdict=decision.verdict,
        confidence=decision.confidence,
    )



@bp.activity_trigger(input_name="payload", activity=names.PERSIST_REPORT)
def persist_report(payload: dict) -> dict[str, Any]:
    request = PersistInput.model_validate(payload)
    with telemetry.activity_span(names.PERSIST_REPORT, request.job_id, request.ticker):
        return persist(request).model_dump(mode="json")
