"""Retention: the scheduled sweep that removes every job and every batch created more than
RETENTION_DAYS ago.

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
A batch (its row's `CreatedAt` before the cutoff) goes the same way: its orchestration's
history, its blobs under `reports/batches/{id}/` (the comparison memo, its figures and its
chart), the Idempotency-Key rows that name it, then its batch row, last. Its children are jobs,
created with it, and go as jobs. Like a job, a batch goes whatever its status: one that has not
ended by then never will (its children's deadlines are long past), and keeping it would keep it
for ever.
A failure ends that item's steps, is collected in the report, and the sweep goes on with the
next one. Hourly quota rows of hours before the cutoff go too. The report counts what was removed;
the timer logs it and puts it on its `retention sweep` span. Only the scan for expired rows
failing stops a sweep (StorageFailed: the run fails loudly). Which keys each kind of row has
(job, batch, report-log, idem, quota) is `shared/store/rows.py`'s.
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
from shared.store.artifacts import batch_prefix, job_prefix
from shared.store.clients import analyses_table, reports_container, storage_errors
from shared.store.rows import (
    batch_row_key,
    batch_rows,
    idem_rows,
    job_row_key,
    job_rows,
    log_rows,
    quota_rows,
)

bp = df.Blueprint()
log = logging.getLogger(__name__)

Step = Literal["history", "blobs", "rows", "quota"]
Kind = Literal["job", "batch"]


class HistoryPurger(Protocol):
    """What the sweep needs of the durable client."""

    async def purge_instance_history(self, instance_id: str) -> Any: ...


@dataclass(frozen=True)
class Expired:
    """A job or a batch to remove: its id is also its orchestration's instance id."""

    kind: Kind
    owner: str
    id: str
    ticker: str | None = None  # a job's: its blobs and report-log rows are under it

    @property
    def blob_prefix(self) -> str:
        if self.ticker is None:
            return f"{batch_prefix(self.id)}/"
        return f"{job_prefix(self.ticker, self.id)}/"

    @property
    def row_key(self) -> str:
        return job_row_key(self.id) if self.ticker is not None else batch_row_key(self.id)


class RetentionFailure(BaseModel):
    item: str = Field(
        description="The job or batch id (or the quota row key) that was not removed."
    )
    kind: Kind | Literal["quota"] = "job"
    step: Step
    error: str = Field(description="The error's type and storage code; never its message.")


class RetentionReport(BaseModel):
    cutoff: datetime
    expired: int = 0
    jobs_removed: int = 0
    batches_expired: int = 0
    batches_removed: int = 0
    histories_purged: int = 0
    blobs_deleted: int = 0
    rows_deleted: int = 0
    quota_rows_deleted: int = 0
    failures: list[RetentionFailure] = Field(default_factory=list)

    def fail(self, item: str, step: Step, exc: BaseException, kind: Kind = "job") -> None:
        code = getattr(exc, "error_code", None)
        code = getattr(code, "value", code)  # StorageErrorCode.LEASE_ID_MISSING: LeaseIdMissing
        error = f"{type(exc).__name__} {code}" if code else type(exc).__name__
        if step == "quota":
            self.failures.append(RetentionFailure(item=item, kind="quota", step=step, error=error))
            log.warning("retention: quota row %s not deleted (%s)", item, error)
        else:
            self.failures.append(RetentionFailure(item=item, kind=kind, step=step, error=error))
            log.warning("%s %s: retention step %s failed (%s); kept for the next sweep",
                        kind, item, step, error)


def retention_cutoff(now: datetime, days: int) -> datetime:
    return now - timedelta(days=days)


def expired_jobs(table: TableClient, cutoff: datetime) -> list[Expired]:
    """Every owner's jobs created before `cutoff`."""
    with storage_errors("list expired jobs"):
        return [
            Expired("job", owner=e["PartitionKey"], id=e["JobId"], ticker=e["Ticker"])
            for e in table.query_entities(
                f"{job_rows().filter} and CreatedAt lt @cutoff",
                parameters={"cutoff": cutoff},
                select=["PartitionKey", "JobId", "Ticker"],
            )
        ]


def expired_batches(table: TableClient, cutoff: datetime) -> list[Expired]:
    """Every owner's batches created before `cutoff`."""
    with storage_errors("list expired batches"):
        return [
            Expired("batch", owner=e["PartitionKey"], id=e["BatchId"])
            for e in table.query_entities(
                f"{batch_rows().filter} and CreatedAt lt @cutoff",
                parameters={"cutoff": cutoff},
                select=["PartitionKey", "BatchId"],
            )
        ]


def delete_blobs(container: ContainerClient, item: Expired, report: RetentionReport) -> None:
    for blob in list(container.list_blobs(name_starts_with=item.blob_prefix)):
        try:
            container.delete_blob(blob.name, delete_snapshots="include")
        except ResourceNotFoundError:
            continue  # gone meanwhile
        report.blobs_deleted += 1


def delete_rows(table: TableClient, item: Expired, report: RetentionReport) -> None:
    """A job's report-log rows, the idem rows naming the job or batch, then its own row."""
    key_ranges = [idem_rows()] if item.ticker is None else [log_rows(item.ticker), idem_rows()]
    related = [
        entity
        for rows in key_ranges
        for entity in table.query_entities(
            "PartitionKey eq @owner and RowKey ge @lo and RowKey lt @hi and JobId eq @id",
            parameters={"owner": item.owner, "lo": rows.lo, "hi": rows.hi, "id": item.id},
            select=["PartitionKey", "RowKey"],
        )
    ]
    for key in [*((e["PartitionKey"], e["RowKey"]) for e in related),
                (item.owner, item.row_key)]:
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


async def remove(
    item: Expired,
    table: TableClient,
    container: ContainerClient,
    client: HistoryPurger,
    report: RetentionReport,
) -> None:
    """History, blobs, rows of one job or batch; the first step that fails ends it (reported)."""
    try:
        purged = await client.purge_instance_history(item.id)
    except Exception as exc:  # the SDK raises a bare Exception for an unexpected status
        report.fail(item.id, "history", exc, item.kind)
        return
    report.histories_purged += int(getattr(purged, "instances_deleted", 0) or 0)
    try:
        await asyncio.to_thread(delete_blobs, container, item, report)
    except AzureError as exc:
        report.fail(item.id, "blobs", exc, item.kind)
        return
    try:
        await asyncio.to_thread(delete_rows, table, item, report)
    except AzureError as exc:
        report.fail(item.id, "rows", exc, item.kind)
        return
    if item.kind == "batch":
        report.batches_removed += 1
    else:
        report.jobs_removed += 1


async def sweep(
    table: TableClient, container: ContainerClient, client: HistoryPurger, cutoff: datetime
) -> RetentionReport:
    """Remove every job and batch created before `cutoff`, and expired quota rows; the report
    says what went and what could not."""
    report = RetentionReport(cutoff=cutoff)
    with telemetry.tracer.start_as_current_span("retention sweep") as span:
        jobs = await asyncio.to_thread(expired_jobs, table, cutoff)
        batches = await asyncio.to_thread(expired_batches, table, cutoff)
        report.expired, report.batches_expired = len(jobs), len(batches)
        for item in [*jobs, *batches]:
            await remove(item, table, container, client, report)
        await asyncio.to_thread(delete_quota_rows, table, cutoff, report)
        span.set_attributes({
            "stockmemo.retention.cutoff": cutoff.isoformat(),
            "stockmemo.retention.expired": report.expired,
            "stockmemo.retention.jobs_removed": report.jobs_removed,
            "stockmemo.retention.batches_expired": report.batches_expired,
            "stockmemo.retention.batches_removed": report.batches_removed,
            "stockmemo.retention.failures": len(report.failures),
        })
    log.info(
        "retention: removed %d of %d jobs and %d of %d batches created before %s "
        "(%d histories, %d blobs, %d rows, %d quota rows); %d failures",
        report.jobs_removed, report.expired, report.batches_removed, report.batches_expired,
        cutoff.isoformat(), report.histories_purged, report.blobs_deleted, report.rows_deleted,
        report.quota_rows_deleted, len(report.failures),
    )
    return report


@bp.timer_trigger(schedule="%RETENTION_CRON%", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def retention_sweep(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    cutoff = retention_cutoff(datetime.now(UTC), get_settings().retention_days)
    table, container = await asyncio.to_thread(lambda: (analyses_table(), reports_container()))
    await sweep(table, container, client, cutoff)
