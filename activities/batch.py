"""The batch's two activities: record how the batch stands (it starts, a child ended, or its
comparison could not be stored), and compare the ended children into the comparison memo.

Both are safe to run twice: an update merges under the batch row's ETag and never changes a
batch that ended; the comparison's blobs are written once and the batch completes under its
ETag (a batch cancelled meanwhile keeps no comparison).
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.agents.portfolio import summary_or_rules
from shared.contracts import BatchOutput, BatchState, BatchUpdate, CompareInput, FailJob
from shared.domain.batches import Batch, BatchItem
from shared.domain.comparison import BatchMember, Comparison, compare, member_from_evidence
from shared.domain.evidence import PriceSeries
from shared.domain.models import TERMINAL_STATUSES, Job, JobError, JobStatus
from shared.errors import StorageFailed
from shared.render.chart import comparison_chart_svg
from shared.render.comparison import render_comparison
from shared.store.artifacts import (
    ArtifactStore,
    comparison_blob,
    comparison_chart_blob,
    comparison_data_blob,
    evidence_blob,
    memo_blob,
)
from shared.store.batches import BatchStore, with_item
from shared.store.jobs import JobStore

bp = df.Blueprint()
log = logging.getLogger(__name__)

_READERS = 8


def child_job(update: BatchUpdate) -> Job:
    """The ended child's row, failed first when its orchestration failed without saying so."""
    assert update.child is not None
    jobs = JobStore()
    job = jobs.get(update.owner, update.child.job_id)
    if job is None:
        raise StorageFailed(f"job {update.child.job_id} is missing from the analyses table")
    if job.status not in TERMINAL_STATUSES:
        error = update.error or (update.output.error if update.output else None)
        error = error or JobError(
            code="internal_error", message="the analysis ended without a status", stage=job.stage
        )
        failure = FailJob(job_id=job.id, owner=job.owner, error=error, at=update.at)
        job = jobs.fail(failure) or job
    return job


def update(request: BatchUpdate) -> BatchState:
    store = BatchStore()
    ended = BatchItem.of(child_job(request)) if request.child is not None else None

    def change(batch: Batch) -> Batch | None:
        if ended is not None:
            return with_item(batch, ended)
        if request.error is not None:
            return batch.model_copy(
                update={"status": JobStatus.FAILED, "error": request.error,
                        "completed_at": request.at}
            )
        if batch.status is JobStatus.QUEUED:
            return batch.model_copy(update={"status": JobStatus.RUNNING, "started_at": request.at})
        return None

    batch = store.change(request.owner, request.batch_id, change)
    if batch is None:
        raise StorageFailed(f"batch {request.batch_id} is missing from the analyses table")
    return BatchState(status=batch.status)


def members(batch: Batch) -> list[tuple[BatchMember, BatchItem]]:
    """Every child as it ended (with the stored evidence of the completed ones), and its item."""
    jobs, artifacts = JobStore(), ArtifactStore()

    def member(item: BatchItem) -> tuple[BatchMember, BatchItem]:
        job = jobs.get(batch.owner, item.id)
        if job is None:
            raise StorageFailed(f"job {item.id} is missing from the analyses table")
        if job.status is not JobStatus.COMPLETED:
            return BatchMember(
                ticker=job.ticker,
                job_id=job.id,
                status=job.status,
                error_code=job.error.code if job.error else None,
                error_message=job.error.message if job.error else None,
            ), BatchItem.of(job)
        data = artifacts.read(evidence_blob(job.ticker, job.id))
        if data is None:
            raise StorageFailed(f"the evidence of job {job.id} is missing from storage")
        document = json.loads(data)
        return member_from_evidence(
            document, job.id, job.ticker, memo_blob(job.ticker, job.id)
        ), BatchItem.of(job)

    with ThreadPoolExecutor(_READERS) as pool:
        return list(pool.map(member, batch.items))


def benchmark_of(
    comparison: Comparison, ended: list[tuple[BatchMember, BatchItem]]
) -> PriceSeries | None:
    """The benchmark series the comparison used (the stored one of the member it names)."""
    for member, _ in ended:
        if member.job_id == comparison.benchmark_job_id and member.quant is not None:
            return member.quant.benchmark_series
    return None


def store_comparison(request: CompareInput) -> BatchOutput:
    store, artifacts = BatchStore(), ArtifactStore()
    batch = store.get(request.owner, request.batch_id)
    if batch is None:
        raise StorageFailed(f"batch {request.batch_id} is missing from the analyses table")
    if batch.finished:
        return BatchOutput(status=batch.status, report_blob=batch.report_blob)
    ended = members(batch)
    comparison = compare([member for member, _ in ended])
    summary = summary_or_rules(comparison)
    report = render_comparison(
        request.batch_id, request.created_at, comparison, summary, as_of=request.as_of
    )
    report_name = comparison_blob(request.batch_id)
    data_name = comparison_data_blob(request.batch_id)
    chart_name = comparison_chart_blob(request.batch_id)
    document: dict[str, Any] = {
        "batch_id": request.batch_id,
        "created_at": request.created_at.isoformat(),
        "comparison": comparison.model_dump(mode="json"),
        "summary": summary.model_dump(mode="json"),
    }
    artifacts.write_once(
        data_name,
        json.dumps(document, indent=2, ensure_ascii=False).encode(),
        "application/json; charset=utf-8",
    )
    chart = comparison_chart_svg([member for member, _ in ended], benchmark_of(comparison, ended))
    artifacts.write_once(chart_name, chart.encode(), "image/svg+xml; charset=utf-8")
    artifacts.write_once(report_name, report.encode(), "text/markdown; charset=utf-8")
    items = {item.id: item for _, item in ended}
    stored_at = datetime.now(UTC)  # the comparison is stored: the batch's work is done

    def complete(current: Batch) -> Batch:
        refreshed = [items.get(item.id, item) for item in current.items]
        return current.model_copy(
            update={
                "status": JobStatus.COMPLETED,
                "completed_at": stored_at,
                "report_blob": report_name,
                "items": refreshed,
                "usage": summary.usage,
            }
        )

    final = store.change(request.owner, request.batch_id, complete)
    if final is None:
        raise StorageFailed(f"batch {request.batch_id} vanished from the analyses table")
    if final.status is not JobStatus.COMPLETED:
        # Cancelled while the comparison was written: it must not outlive the batch.
        log.warning("batch %s: not completed, it is %s", request.batch_id, final.status)
        for name in (report_name, data_name, chart_name):
            artifacts.delete(name)
        return BatchOutput(status=final.status)
    log.info("batch %s: comparison stored at %s", request.batch_id, report_name)
    return BatchOutput(status=final.status, report_blob=report_name)


@bp.activity_trigger(input_name="payload", activity=names.UPDATE_BATCH)
def update_batch(payload: dict) -> dict[str, Any]:
    request = BatchUpdate.model_validate(payload)
    with telemetry.activity_span(names.UPDATE_BATCH, request.batch_id, ""):
        return update(request).model_dump(mode="json")


@bp.activity_trigger(input_name="payload", activity=names.COMPARE_BATCH)
def compare_batch(payload: dict) -> dict[str, Any]:
    request = CompareInput.model_validate(payload)
    with telemetry.activity_span(names.COMPARE_BATCH, request.batch_id, ""):
        return store_comparison(request).model_dump(mode="json", exclude_none=True)

