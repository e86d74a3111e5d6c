"""Retention: the scheduled sweep that removes every job created more than RETENTION_DAYS ago.

`retention_sweep` runs on `%RETENTION_CRON%` (an app setting, NCRONTAB with seconds, UTC; the
sample and infra use `0 30 3 * * *`) and calls `sweep` with the app's table, container and
durable client; tests call `sweep` directly with their own.

A job is expired when its row's `CreatedAt` is before the cutoff. For each one, in this order:
1. its Durable history (`purge_instance_history`; nothing to purge is fine: the orchestration
   never started, or an earlier sweep purged it; one still running is purged too, as the
   Durable extension purges any instance it finds, whatever its status);
2. its blobs under `reports/{TICKER}/{id}/`: memo, evidence and work files;
3. its report-log rows and the Idempotency-Key rows that name it (same partition);
4. its job row, last. The row is how a sweep finds the job, so a job that fails at any step
   keeps it, and the next sweep picks up what is left.
A failure ends that job's steps, is collected in the report, and the sweep goes on with the next
job. Hourly quota rows of hours before the cutoff go too. The report counts what was removed;
the timer logs it and puts it on its `retention sweep` span. Only the scan for expired rows
failing stops a sweep (StorageFailed: the run fails loudly). Which keys each kind of row has
(job, report-log, idem, quota) is `shared/store/rows.py`'s.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

import azure.durable_functions as df
import azure.functions as func
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient
from pydantic import BaseModel, Field

from shared import telemetry
from shared.settings import get_settings
from shared.store.artifacts import job_prefix
from shared.store.clients import analyses_table, reports_container, storage_errors
from shared.store.rows import idem_rows, job_row_key, job_rows, log_rows, quota_rows

bp = df.Blueprint()
log = logging.getLogger(__name__)

Step = Literal["history", "blobs", "rows", "quota"]


class HistoryPurger(Protocol):
    """What the sweep needs of the durable client."""

    async def purge_instance_history(self, instance_id: str) -> Any: ...


@dataclass(frozen=True)
class ExpiredJob:
    owner: str
    job_id: str
    ticker: str


class RetentionFailure(BaseModel):
    item: str = Field(description="The job id (or the quota row key) that was not removed.")
    step: Step
    error: str = Field(description="The error's type and storage code; never its message.")


class RetentionReport(BaseModel):
    cutoff: datetime
    expired: int = 0
    jobs_removed: int = 0
    histories_purged: int = 0
    blobs_deleted: int = 0
    rows_deleted: int = 0
    quota_rows_deleted: int = 0
    failures: list[RetentionFailure] = Field(default_factory=list)

    def fail(self, item: str, step: Step, exc: BaseException) -> None:
        code = getattr(exc, "error_code", None)
        code = getattr(code, "value", code)  # StorageErrorCode.LEASE_ID_MISSING: LeaseIdMissing
        error = f"{type(exc).__name__} {code}" if code else type(exc).__name__
        self.failures.append(RetentionFailure(item=item, step=step, error=error))
        if step == "quota":
            log.warning("retention: quota row %s not deleted (%s)", item, error)
        else:
            log.warning("job %s: retention step %s failed (%s); kept for the next sweep",
                        item, step, error)


def retention_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def expired_jobs(table: TableClient, cutoff: datetime) -> list[ExpiredJob]:
    """Every owner's jobs created before `cutoff`."""
    with storage_errors("list expired jobs"):
        return [
            ExpiredJob(owner=e["PartitionKey"], job_id=e["JobId"], ticker=e["Ticker"])
            for e in table.query_entities(
                f"{job_rows().filter} and CreatedAt lt @cutoff",
                parameters={"cutoff": cutoff},
                select=["PartitionKey", "JobId", "Ticker"],
            )
        ]


def delete_blobs(container: ContainerClient, job: ExpiredJob, report: RetentionReport) -> None:
    prefix = f"{job_prefix(job.ticker, job.job_id)}/"
    for blob in list(container.list_blobs(name_starts_with=prefix)):
        try:
            container.delete_blob(blob.name, delete_snapshots="include")
        except ResourceNotFoundError:
            continue  # gone meanwhile
        report.blobs_deleted += 1


def delete_rows(table: TableClient, job: ExpiredJob, report: RetentionReport) -> None:
    """The job's report-log and idem rows, then its job row."""
    logs = log_rows(job.ticker)
    related = [
        *table.query_entities(
            "PartitionKey eq @owner and RowKey ge @lo and RowKey lt @hi and JobId eq @id",
            parameters={"owner": job.owner, "lo": logs.lo, "hi": logs.hi, "id": job.job_id},
            select=["PartitionKey", "RowKey"],
        ),
        *table.query_entities(
            f"PartitionKey eq @owner and {idem_rows().filter} and JobId eq @id",
            parameters={"owner": job.owner, "id": job.job_id},
            select=["PartitionKey", "RowKey"],
        ),
    ]
    for key in [*((e["PartitionKey"], e["RowKey"]) for e in related),
                (job.owner, job_row_key(job.job_id))]:
        table.delete_entity(*key)  # deleting a row that is not there is not an error
        report.rows_deleted += 1


def delete_quota_rows(table: TableClient, cutoff: datetime, report: RetentionReport) -> None:
    """Every owner's hourly quota rows of hours that ended before the cutoff's hour."""
    with storage_errors("list expired quota rows"):
        rows = list(table.query_entities(
            quota_rows(before=cutoff).filter, select=["PartitionKey", "RowKey"]
        ))
    for row in rows:
        try:
            table.delete_entity(row["PartitionKey"], row["RowKey"])
        except AzureError as exc:
            report.fail(row["RowKey"], "quota", exc)
            continue
        report.quota_rows_deleted += 1


async def remove_job(
    job: ExpiredJob,
    table: TableClient,
    container: ContainerClient,
    client: HistoryPurger,
    report: RetentionReport,
) -> None:
    """History, blobs, rows of one job; the first step that fails ends it (reported)."""
    try:
        purged = await client.purge_instance_history(job.job_id)
    except Exception as exc:  # the SDK raises a bare Exception for an unexpected status
        report.fail(job.job_id, "history", exc)
        return
    report.histories_purged += int(getattr(purged, "instances_deleted", 0) or 0)
    try:
        await asyncio.to_thread(delete_blobs, container, job, report)
    except AzureError as exc:
        report.fail(job.job_id, "blobs", exc)
        return
    try:
        await asyncio.to_thread(delete_rows, table, job, report)
    except AzureError as exc:
        report.fail(job.job_id, "rows", exc)
        return
    report.jobs_removed += 1


async def sweep(
    table: TableClient, container: ContainerClient, client: HistoryPurger, cutoff: datetime
) -> RetentionReport:
    """Remove every job created before `cutoff`, and expired quota rows; the report says what
    went and what could not."""
    report = RetentionReport(cutoff=cutoff)
    with telemetry.tracer.start_as_current_span("retention sweep") as span:
        expired = await asyncio.to_thread(expired_jobs, table, cutoff)
        report.expired = len(expired)
        for job in expired:
            await remove_job(job, table, container, client, report)
        await asyncio.to_thread(delete_quota_rows, table, cutoff, report)
        span.set_attributes({
            "stockmemo.retention.cutoff": cutoff.isoformat(),
            "stockmemo.retention.expired": report.expired,
            "stockmemo.retention.jobs_removed": report.jobs_removed,
            "stockmemo.retention.failures": len(report.failures),
        })
    log.info(
        "retention: removed %d of %d jobs created before %s (%d histories, %d blobs, %d rows, "
        "%d quota rows); %d failures",
        report.jobs_removed, report.expired, cutoff.isoformat(), report.histories_purged,
        report.blobs_deleted, report.rows_deleted, report.quota_rows_deleted,
        len(report.failures),
    )
    return report


@bp.timer_trigger(schedule="%RETENTION_CRON%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def retention_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    cutoff = retention_cutoff(datetime.now(UTC), get_settings().retention_days)
    table, container = await asyncio.to_thread(lambda: (analyses_table(), reports_container()))
    await sweep(table, container, client, cutoff)
