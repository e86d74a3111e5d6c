"""/api/batches: several tickers at once, each an ordinary job, then one comparison memo.

A batch is admitted like an analysis (body limit, Idempotency-Key, the caller's hourly quota,
which a batch of N uses N of) and all of it is written in one table transaction: the batch row
and every child's job row, `queued`, or nothing. Every route reads only the caller's own
partition, so another owner's batch answers exactly as an unknown id does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, Field

from api.analyses import (
    RETRY_AFTER_SECONDS,
    accepted,
    admit_as_of,
    durable_status,
    page_limit,
    read_submission,
)
from api.callers import owner_of
from api.pages import document_response
from api.responses import base_url, error_boundary, error_response, json_response
from shared import names, telemetry
from shared.contracts import BatchChild, BatchInput, FailJob, RetryPolicy
from shared.domain.batches import (
    Batch,
    BatchItem,
    BatchPage,
    BatchView,
    parse_batch_as_of,
    parse_tickers,
)
from shared.domain.models import TERMINAL_STATUSES, Job, JobError, JobStatus, Stage
from shared.errors import (
    InvalidBody,
    InvalidQuery,
    NotCancellable,
    NotCompleted,
    NotFound,
    StockMemoError,
    StorageFailed,
    orchestration_failure,
)
from shared.render.memo_html import render_report_html
from shared.settings import Settings, get_settings
from shared.store.admission import Admission
from shared.store.artifacts import ArtifactStore, comparison_blob, comparison_chart_blob
from shared.store.batches import BatchStore, batch_row
from shared.store.jobs import JobStore, job_row

bp = df.Blueprint()
log = logging.getLogger(__name__)

FORMATS = ("markdown", "html")
_READERS = 8


class BatchRequest(BaseModel):
    """Body of POST /api/batches, as admitted: the distinct tickers, upper-cased, in order, and
    the as_of of a point-in-time batch."""

    tickers: list[str]
    # Left out when None, so a body without as_of hashes (Idempotency-Key) as it always did.
    as_of: date | None = Field(default=None, exclude_if=lambda v: v is None)


def parse_batch(body: bytes, max_tickers: int) -> BatchRequest:
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBody('the body must be a JSON object like {"tickers": ["AAPL", "MSFT"]}') \
            from exc
    tickers = parse_tickers(data, max_tickers)
    return BatchRequest(tickers=tickers, as_of=parse_batch_as_of(data))


def new_batch(
    owner: str, tickers: list[str], as_of: date | None = None
) -> tuple[Batch, list[Job]]:
    now = datetime.now(UTC)
    batch_id = uuid.uuid4().hex
    jobs = [
        Job(
            id=uuid.uuid4().hex,
            owner=owner,
            ticker=ticker,
            status=JobStatus.QUEUED,
            stage=Stage.QUEUED,
            created_at=now,
            batch_id=batch_id,
            as_of=as_of,
        )
        for ticker in tickers
    ]
    items = [BatchItem.of(job) for job in jobs]
    batch = Batch(
        id=batch_id, owner=owner, status=JobStatus.QUEUED, created_at=now, items=items,
        as_of=as_of,
    )
    return batch, jobs


def orchestration_input(batch: Batch, settings: Settings) -> BatchInput:
    return BatchInput(
        batch_id=batch.id,
        owner=batch.owner,
        created_at=batch.created_at,
        children=[BatchChild(ticker=i.ticker, job_id=i.id) for i in batch.items],
        concurrency=settings.batch_concurrency,
        as_of=batch.as_of,
        deadline_seconds=settings.job_deadline_seconds,
        retry=RetryPolicy(
            first_retry_ms=settings.activity_retry_first_ms,
            max_attempts=settings.activity_max_attempts,
        ),
    )


def _fail_unstarted(batch: Batch) -> None:
    """The batch and its children end failed when the orchestration could not be started."""
    error = JobError(code="storage_failed", message="the batch could not be started",
                     stage=Stage.QUEUED)
    now = datetime.now(UTC)
    jobs = JobStore()
    for item in batch.items:
        jobs.fail(FailJob(job_id=item.id, owner=batch.owner, error=error, at=now))
    BatchStore().change(
        batch.owner,
        batch.id,
        lambda b: b.model_copy(
            update={"status": JobStatus.FAILED, "error": error, "completed_at": now}
        ),
    )


async def start(client: df.DurableOrchestrationClient, batch: Batch, settings: Settings) -> None:
    payload = orchestration_input(batch, settings)
    try:
        await client.start_new(
            names.BATCH_ORCHESTRATOR, batch.id, payload.model_dump(mode="json")
        )
    except Exception as exc:
        log.exception("batch %s: the orchestration did not start", batch.id)
        try:
            await asyncio.to_thread(_fail_unstarted, batch)
        except StockMemoError:
            log.warning("batch %s: could not mark the unstarted batch failed", batch.id)
        raise StorageFailed("the batch could not be started; try again") from exc
    log.info("batch %s: started for %s", batch.id, ",".join(batch.tickers))
    for item in batch.items:
        telemetry.record_job_started(item.id, item.ticker)


@bp.route(route="batches", methods=["POST"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def submit_batch(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    settings = get_settings()
    owner, request, claim = read_submission(
        req, settings, lambda body: parse_batch(body, settings.batch_max_tickers)
    )
    await asyncio.to_thread(admit_as_of, request.as_of, request.tickers, settings)
    batch, jobs = new_batch(owner, request.tickers, request.as_of)
    rows = [batch_row(batch), *(job_row(job) for job in jobs)]
    admitted = await asyncio.to_thread(
        Admission().admit_rows,
        owner,
        batch.id,
        rows,
        len(jobs),
        claim,
        settings.analyses_per_hour,
    )
    if admitted.replay:
        log.info("batch %s: replayed for its Idempotency-Key", admitted.job_id)
    else:
        await start(client, batch, settings)
    return accepted(req, client, admitted.job_id, settings, "batches")


def find_batch(req: func.HttpRequest) -> Batch:
    batch_id = req.route_params.get("id", "")
    batch = BatchStore().get(owner_of(req), batch_id) if batch_id.isalnum() else None
    if batch is None:
        raise NotFound("no batch with that id")
    return batch


def live(batch: Batch) -> Batch:
    """The batch with the children it has not seen end read from their own rows."""
    pending = [item for item in batch.items if item.status not in TERMINAL_STATUSES]
    if not pending:
        return batch
    jobs = JobStore()
    with ThreadPoolExecutor(min(_READERS, len(pending))) as pool:
        found = pool.map(lambda item: jobs.get(batch.owner, item.id), pending)
        rows = {job.id: job for job in found if job is not None}
    items = [BatchItem.of(rows[i.id]) if i.id in rows else i for i in batch.items]
    return batch.model_copy(update={"items": items})


def reconciled(batch: Batch, status: Any) -> Batch:
    """A batch row still running whose orchestration has ended shows as the orchestration
    ended (it failed before it could say so on the row, or was terminated)."""
    if batch.finished or status is None:
        return batch
    runtime = getattr(status, "runtime_status", None)
    if runtime == df.OrchestrationRuntimeStatus.Terminated:
        return batch.model_copy(update={"status": JobStatus.CANCELLED})
    if runtime == df.OrchestrationRuntimeStatus.Failed:
        code, message = orchestration_failure(str(status.output or "the batch failed"))
        error = JobError(code=code, message=message, stage=Stage.FAILED)
        return batch.model_copy(update={"status": JobStatus.FAILED, "error": error})
    return batch


@bp.route(route="batches/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def get_batch(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    batch = await asyncio.to_thread(lambda: live(find_batch(req)))
    if not batch.finished:
        batch = reconciled(batch, await durable_status(client, batch.id))
    headers = {} if batch.finished else {"Retry-After": RETRY_AFTER_SECONDS}
    return json_response(BatchView.of(batch, base_url(req)), headers=headers)


@bp.route(route="batches", methods=["GET"])
@error_boundary
async def list_batches(req: func.HttpRequest) -> func.HttpResponse:
    owner = owner_of(req)
    limit = page_limit(req)
    batches, cursor = await asyncio.to_thread(
        BatchStore().page, owner, limit, req.params.get("cursor") or None
    )
    batches = await asyncio.to_thread(lambda: [live(b) for b in batches])
    base = base_url(req)
    page = BatchPage(items=[BatchView.of(b, base) for b in batches], next_cursor=cursor)
    return json_response(page)


def _not_completed(batch: Batch) -> func.HttpResponse:
    return error_response(
        NotCompleted.code,
        f"the batch is {batch.status.value}; no comparison yet",
        NotCompleted.http_status,
        status=batch.status,
    )


def _read(name: str) -> bytes:
    data = ArtifactStore().read(name)
    if data is None:
        raise StorageFailed(f"{name} is missing from storage")
    return data


@bp.route(route="batches/{id}/report", methods=["GET"])
@error_boundary
async def get_batch_report(req: func.HttpRequest) -> func.HttpResponse:
    batch = await asyncio.to_thread(find_batch, req)
    form = req.params.get("format", "markdown")
    if form not in FORMATS:
        raise InvalidQuery("format must be 'markdown' or 'html'", field="format")
    if batch.status is not JobStatus.COMPLETED:
        return _not_completed(batch)
    memo = await asyncio.to_thread(_read, comparison_blob(batch.id))
    if form == "html":
        return document_response(
            render_report_html(memo.decode("utf-8")), "text/html; charset=utf-8"
        )
    return func.HttpResponse(memo, status_code=200, mimetype="text/markdown", charset="utf-8")


@bp.route(route="batches/{id}/chart.svg", methods=["GET"])
@error_boundary
async def get_batch_chart(req: func.HttpRequest) -> func.HttpResponse:
    batch = await asyncio.to_thread(find_batch, req)
    if batch.status is not JobStatus.COMPLETED:
        return _not_completed(batch)
    svg = await asyncio.to_thread(_read, comparison_chart_blob(batch.id))
    return document_response(svg, "image/svg+xml; charset=utf-8")


def cancel_children(batch: Batch, at: datetime) -> tuple[Batch, list[str]]:
    """Mark every unfinished child cancelled, and the batch's items as its children ended;
    the batch as it is then, and the ids of the children this cancelled."""
    jobs = JobStore()
    ended: dict[str, Job] = {}
    cancelled = []
    for item in batch.items:
        if item.status in TERMINAL_STATUSES:
            continue
        job = jobs.cancel(batch.owner, item.id, at)
        if job is None:
            continue
        ended[item.id] = job
        if job.status is JobStatus.CANCELLED:
            cancelled.append(item.id)

    def record(current: Batch) -> Batch:
        items = [BatchItem.of(ended[i.id]) if i.id in ended else i for i in current.items]
        return current.model_copy(update={"items": items})

    final = BatchStore().change(batch.owner, batch.id, record, ended_too=True)
    return final or batch, cancelled


async def _terminate(client: df.DurableOrchestrationClient, instance_id: str) -> None:
    try:
        await client.terminate(instance_id, "cancelled by the caller")
    except Exception:  # never started, or already over: its next step sees its row
        log.info("instance %s: not terminated (not running)", instance_id)


@bp.route(route="batches/{id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def cancel_batch(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Cancel a batch: its row first (so its orchestration starts no other child), then its
    orchestration, then every unfinished child, row then orchestration, as DELETE on an
    analysis does. Terminating a parent does not terminate its children in Durable Functions,
    so each child is cancelled here."""
    batch = await asyncio.to_thread(find_batch, req)
    now = datetime.now(UTC)

    def cancel(current: Batch) -> Batch:
        return current.model_copy(update={"status": JobStatus.CANCELLED, "completed_at": now})

    ended = await asyncio.to_thread(BatchStore().change, batch.owner, batch.id, cancel)
    if ended is None:
        raise NotFound("no batch with that id")
    if ended.status is not JobStatus.CANCELLED or ended.completed_at != now:  # not this call's
        return error_response(
            NotCancellable.code,
            f"the batch is {ended.status.value}; only a queued or running one can be cancelled",
            NotCancellable.http_status,
            status=ended.status,
        )
    await _terminate(client, batch.id)
    final, children = await asyncio.to_thread(cancel_children, ended, now)
    await asyncio.gather(*(_terminate(client, job_id) for job_id in children))
    log.info("batch %s: cancelled with %d unfinished children", batch.id, len(children))
    view = BatchView.of(final, base_url(req))
    return json_response(view, status=202)

