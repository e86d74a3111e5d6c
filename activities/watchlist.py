"""The watchlist orchestration's activities: admit a run as a batch, record how it ended (with
what changed, read from its memos' evidence), and deliver its signed webhook.

Each is safe to run twice: a run's batch id is its run id, so a second admission finds the batch
it made; a run is recorded on the row by its id under the row's ETag; a delivery keeps its
delivery id (the run id) across every retry, and starts no attempt once the watchlist is gone
or no longer names the run.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
from datetime import datetime
from typing import Any

import azure.durable_functions as df

from shared import names
from shared.contracts import BatchChild, BatchInput, RetryPolicy
from shared.domain.batches import Batch, BatchItem
from shared.domain.models import Job, JobStatus, Stage
from shared.domain.watchlists import Notification, Watchlist, WatchRun
from shared.errors import QuotaExceeded
from shared.notify.delivery import deliver_with_retries
from shared.notify.payload import TickerChange, notification_body
from shared.notify.resolving import resolver
from shared.settings import Settings, get_settings
from shared.store.admission import Admission
from shared.store.artifacts import ArtifactStore, evidence_blob
from shared.store.batches import BatchStore, batch_row
from shared.store.jobs import JobStore, job_row
from shared.store.watchlists import WatchlistStore
from shared.watch_contracts import (
    AdmitRun,
    AdmittedRun,
    NotifiedRun,
    NotifyRun,
    RecordedRun,
    RecordRun,
)

bp = df.Blueprint()
log = logging.getLogger(__name__)

_STATUSES = {
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.CANCELLED: "cancelled",
}


def child_id(batch_id: str, ticker: str) -> str:
    """A run's child job id: derived, so a retried admission names the same jobs."""
    return hashlib.sha256(f"{batch_id}\n{ticker}".encode()).hexdigest()[:32]


def _previous(owner: str, ticker: str) -> Any:
    """The owner's latest live memo of the ticker, once "what changed" (issue 17 item 4) is
    there to compare with it; None before that."""
    if "previous" not in BatchChild.model_fields:
        return None
    try:
        module = importlib.import_module("shared.store.previous")
    except ImportError:
        return None
    return module.latest_live_memo(owner, ticker)


def run_batch(watchlist: Watchlist, run_id: str, at: datetime) -> tuple[Batch, list[Job]]:
    jobs = [
        Job(
            id=child_id(run_id, ticker),
            owner=watchlist.owner,
            ticker=ticker,
            status=JobStatus.QUEUED,
            stage=Stage.QUEUED,
            created_at=at,
            batch_id=run_id,
        )
        for ticker in watchlist.tickers
    ]
    batch = Batch(
        id=run_id,
        owner=watchlist.owner,
        status=JobStatus.QUEUED,
        created_at=at,
        items=[BatchItem.of(job) for job in jobs],
    )
    return batch, jobs


def batch_input(batch: Batch, settings: Settings) -> BatchInput:
    children = []
    for item in batch.items:
        previous = _previous(batch.owner, item.ticker)
        extra = {"previous": previous} if previous is not None else {}
        children.append(BatchChild(ticker=item.ticker, job_id=item.id, **extra))
    return BatchInput(
        batch_id=batch.id,
        owner=batch.owner,
        created_at=batch.created_at,
        children=children,
        concurrency=settings.batch_concurrency,
        deadline_seconds=settings.job_deadline_seconds,
        retry=RetryPolicy(
            first_retry_ms=settings.activity_retry_first_ms,
            max_attempts=settings.activity_max_attempts,
        ),
    )


def _cancel_orphan(batch: Batch, at: datetime) -> None:
    """The watchlist went while its run was admitted: nothing will run the batch."""
    jobs = JobStore()
    for item in batch.items:
        jobs.cancel(batch.owner, item.id, at)
    BatchStore().change(
        batch.owner,
        batch.id,
        lambda b: b.model_copy(update={"status": JobStatus.CANCELLED, "completed_at": at}),
    )


def admit(request: AdmitRun) -> AdmittedRun:
    store, settings = WatchlistStore(), get_settings()
    watchlist = store.get(request.owner, request.name)
    if watchlist is None:
        return AdmittedRun(outcome="gone")
    earlier = watchlist.run(request.run_id)
    if earlier is not None and earlier.status == "skipped":  # this activity ran before
        return AdmittedRun(outcome="skipped", reason=earlier.reason)
    batch, jobs = run_batch(watchlist, request.run_id, request.at)
    existing = BatchStore().get(request.owner, request.run_id)
    if existing is not None:  # this activity ran before and admitted it
        return AdmittedRun(outcome="admitted", batch=batch_input(existing, settings))
    run = WatchRun(
        run_id=request.run_id, trigger=request.trigger, started_at=request.at, status="running",
        batch_id=request.run_id,
    )
    # The row names the run's batch before the batch exists, so DELETE can always find it.
    if store.change(request.owner, request.name, lambda w: w.with_run(run)) is None:
        return AdmittedRun(outcome="gone")
    rows = [batch_row(batch), *(job_row(job) for job in jobs)]
    try:
        Admission().admit_rows(
            request.owner, batch.id, rows, len(jobs), None, settings.analyses_per_hour
        )
    except QuotaExceeded as exc:
        skipped = run.model_copy(
            update={"status": "skipped", "batch_id": None, "reason": exc.message,
                    "completed_at": request.at}
        )
        store.change(request.owner, request.name, lambda w: w.with_run(skipped))
        log.info("watchlist %s: run %s skipped: over the hourly quota", request.name,
                 request.run_id)
        return AdmittedRun(outcome="skipped", reason=exc.message)
    if store.get(request.owner, request.name) is None:  # DELETE came in meanwhile
        _cancel_orphan(batch, request.at)
        return AdmittedRun(outcome="gone")
    log.info("watchlist %s: run %s admitted as batch %s", request.name, request.run_id, batch.id)
    return AdmittedRun(outcome="admitted", batch=batch_input(batch, settings))


def changes_of(owner: str, batch_id: str) -> list[TickerChange]:
    """Each ticker's change, read from its memo's evidence (`changes`, when the memo has it)."""
    batch = BatchStore().get(owner, batch_id)
    if batch is None:
        return []
    jobs, artifacts = JobStore(), ArtifactStore()
    found = []
    for item in batch.items:
        job = jobs.get(owner, item.id)
        if job is None:
            continue
        change: dict[str, Any] = {}
        if job.status is JobStatus.COMPLETED:
            data = artifacts.read(evidence_blob(job.ticker, job.id))
            document = json.loads(data) if data else {}
            change = document.get("changes") or {}
        found.append(
            TickerChange(
                ticker=job.ticker,
                job_id=job.id,
                verdict_after=job.verdict if job.status is JobStatus.COMPLETED else None,
                confidence_after=job.confidence if job.status is JobStatus.COMPLETED else None,
                verdict_before=change.get("verdict_before"),
                confidence_before=change.get("confidence_before"),
                excess_return=change.get("realised_excess_return", change.get("excess_return")),
            )
        )
    return found


def record(request: RecordRun) -> RecordedRun:
    store = WatchlistStore()
    watchlist = store.get(request.owner, request.name)
    if watchlist is None:
        return RecordedRun(notify=False)
    current = watchlist.run(request.run_id)
    if current is not None and current.status != "running":  # recorded before: left as it is
        return RecordedRun(notify=_notifies(watchlist, current.status))
    batch_id = current.batch_id if current else request.run_id
    changes = changes_of(request.owner, batch_id) if batch_id else []

    def ended(w: Watchlist) -> Watchlist | None:
        earlier = w.run(request.run_id)
        if earlier is not None and earlier.status != "running":
            return None
        run = earlier or WatchRun(
            run_id=request.run_id, trigger="schedule", started_at=request.at, status="running",
            batch_id=batch_id,
        )
        return w.with_run(
            run.model_copy(
                update={"status": request.status, "completed_at": request.at,
                        "reason": request.reason, "changes": changes}
            )
        )

    stored = store.change(request.owner, request.name, ended)
    return RecordedRun(notify=stored is not None and _notifies(stored, request.status))


def _notifies(watchlist: Watchlist, status: str) -> bool:
    """A completed run of a watchlist with a webhook is delivered."""
    return bool(watchlist.webhook_url) and status == "completed"


def report_urls(watchlist: Watchlist, run: WatchRun) -> dict[str, str]:
    base = watchlist.base_url.rstrip("/")
    urls = {c.ticker: f"{base}/api/analyses/{c.job_id}/report" for c in run.changes
            if c.verdict_after is not None}
    if run.batch_id:
        urls["comparison"] = f"{base}/api/batches/{run.batch_id}/report"
    return urls


def notify(request: NotifyRun) -> NotifiedRun:
    store, settings = WatchlistStore(), get_settings()
    watchlist = store.get(request.owner, request.name)
    run = watchlist.run(request.run_id) if watchlist else None
    if watchlist is None or run is None or not watchlist.webhook_url or not run.batch_id:
        return NotifiedRun(delivered=False, attempts=0, stopped=True)
    if not watchlist.webhook_secret:
        return NotifiedRun(delivered=False, attempts=0, stopped=True)
    if run.notification is not None:  # this activity ran before: its outcome stands
        done = run.notification
        return NotifiedRun(
            delivered=done.delivered, attempts=len(done.attempts), stopped=done.stopped
        )
    body = notification_body(
        watchlist.name, run.run_id, run.batch_id, run.changes, report_urls(watchlist, run)
    )

    def proceed() -> bool:
        # No attempt starts once DELETE has removed the watchlist, or it names another run.
        now = store.get(request.owner, request.name)
        return now is not None and now.run(request.run_id) is not None

    report = deliver_with_retries(
        watchlist.webhook_url,
        body,
        watchlist.webhook_secret,
        run.run_id,
        resolve=resolver(),
        allow_loopback_http=settings.webhook_allow_loopback_http,
        timeout=settings.webhook_timeout_seconds,
        attempts=settings.webhook_attempts,
        backoff=settings.webhook_backoff_seconds,
        proceed=proceed,
    )
    outcome = Notification.of(report)

    def noted(w: Watchlist) -> Watchlist | None:
        current = w.run(request.run_id)
        if current is None:
            return None
        return w.with_run(current.model_copy(update={"notification": outcome}))

    store.change(request.owner, request.name, noted)
    log.info("watchlist %s: run %s notification %s after %d attempt(s)", request.name,
             request.run_id, "delivered" if report.delivered else "not delivered",
             len(report.attempts))
    return NotifiedRun(
        delivered=report.delivered, attempts=len(report.attempts), stopped=report.stopped
    )


@bp.activity_trigger(input_name="payload", activity=names.ADMIT_WATCH_RUN)
def admit_watch_run(payload: dict) -> dict:
    return admit(AdmitRun.model_validate(payload)).model_dump(mode="json", exclude_none=True)


@bp.activity_trigger(input_name="payload", activity=names.RECORD_WATCH_RUN)
def record_watch_run(payload: dict) -> dict:
    return record(RecordRun.model_validate(payload)).model_dump(mode="json")


@bp.activity_trigger(input_name="payload", activity=names.NOTIFY_WATCH_RUN)
def notify_watch_run(payload: dict) -> dict:
    return notify(NotifyRun.model_validate(payload)).model_dump(mode="json")

