"""The `analyses` table's job rows, and the report-log row written with a job's completion; the
quota and idempotency rows beside them are `shared/store/admission.py`'s, and every row's key
is `shared/store/rows.py`'s.

PartitionKey is the owner, so every read is scoped to one caller. Status changes use ETags so a
late stage update can never overwrite a terminal status.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableEntity, TableTransactionError, UpdateMode

from shared.contracts import FailJob, StageUpdate
from shared.domain.models import (
    TERMINAL_STATUSES,
    Grounding,
    Job,
    JobError,
    JobStatus,
    Stage,
    Usage,
    Verdict,
)
from shared.errors import InvalidQuery, StorageFailed
from shared.store.clients import storage_errors
from shared.store.owned_rows import OwnedRows
from shared.store.rows import job_row_key, job_rows, log_rows

_CONFLICT_RETRIES = 5


def as_utc(value: Any) -> datetime | None:
    """A stored timestamp as an aware UTC datetime (the table may hand back naive ones)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value))


def job_to_entity(job: Job) -> dict[str, Any]:
    usage = job.usage or Usage()
    return {
        "PartitionKey": job.owner,
        "RowKey": job_row_key(job.id),
        "JobId": job.id,
        "Ticker": job.ticker,
        "Status": job.status.value,
        "Stage": job.stage.value,
        "CreatedAt": job.created_at,
        "StartedAt": job.started_at,
        "CompletedAt": job.completed_at,
        "Verdict": job.verdict.value if job.verdict else None,
        "Confidence": job.confidence,
        "Grounding": job.grounding.value if job.grounding else None,
        "ErrorCode": job.error.code if job.error else None,
        "ErrorMessage": job.error.message if job.error else None,
        "ErrorStage": job.error.stage.value if job.error else None,
        "LlmCalls": usage.llm_calls,
        "PromptTokens": usage.prompt_tokens,
        "CompletionTokens": usage.completion_tokens,
        "BatchId": job.batch_id,
        "AsOf": job.as_of.isoformat() if job.as_of else None,
    }


def job_from_entity(entity: dict[str, Any]) -> Job:
    error = None
    if entity.get("ErrorCode"):
        error = JobError(
            code=entity["ErrorCode"],
            message=entity.get("ErrorMessage") or "",
            stage=Stage(entity.get("ErrorStage") or Stage.FAILED),
        )
    return Job(
        id=entity["JobId"],
        owner=entity["PartitionKey"],
        ticker=entity["Ticker"],
        status=JobStatus(entity["Status"]),
        stage=Stage(entity["Stage"]),
        created_at=as_utc(entity["CreatedAt"]) or datetime.now(UTC),
        started_at=as_utc(entity.get("StartedAt")),
        completed_at=as_utc(entity.get("CompletedAt")),
        verdict=Verdict(entity["Verdict"]) if entity.get("Verdict") else None,
        confidence=entity.get("Confidence"),
        grounding=Grounding(entity["Grounding"]) if entity.get("Grounding") else None,
        error=error,
        usage=Usage(
            llm_calls=int(entity.get("LlmCalls") or 0),
            prompt_tokens=int(entity.get("PromptTokens") or 0),
            completion_tokens=int(entity.get("CompletionTokens") or 0),
        ),
        batch_id=entity.get("BatchId") or None,
        as_of=date.fromisoformat(entity["AsOf"]) if entity.get("AsOf") else None,
    )


def clean(entity: dict[str, Any]) -> dict[str, Any]:
    """Tables cannot store None: leave those properties out."""
    return {k: v for k, v in entity.items() if v is not None}


def job_row(job: Job) -> dict[str, Any]:
    """The job's entity as it is written: None properties left out."""
    return clean(job_to_entity(job))


class JobStore(OwnedRows):
    """Reads and writes jobs for the routes and activities."""

    kind = "job"

    def create(self, job: Job) -> None:
        with storage_errors("create job"):
            self.table.create_entity(job_row(job))

    def _read(self, owner: str, job_id: str) -> TableEntity | None:
        return self.entity(owner, job_row_key(job_id))

    def get(self, owner: str, job_id: str) -> Job | None:
        entity = self._read(owner, job_id)
        return job_from_entity(entity) if entity else None

    def _change(
        self, owner: str, job_id: str, change: dict[str, Any], log: dict[str, Any] | None = None
    ) -> Job | None:
        """Merge `change` into a non-terminal job, with `log` upserted in the same transaction.

        Returns the job as it ends up; None for an unknown job. A terminal job is left as it is.
        """
        for _ in range(_CONFLICT_RETRIES):
            entity = self._read(owner, job_id)
            if entity is None:
                return None
            if JobStatus(entity["Status"]) in TERMINAL_STATUSES:
                return job_from_entity(entity)
            merged = clean({**entity, **change})
            conditions = {
                "mode": UpdateMode.REPLACE,
                "etag": entity.metadata["etag"],
                "match_condition": MatchConditions.IfNotModified,
            }
            with storage_errors("update job"):
                try:
                    if log is None:  # one entity: no batch (its multipart costs more CPU)
                        self.table.update_entity(
                            merged,
                            mode=UpdateMode.REPLACE,
                            etag=entity.metadata["etag"],
                            match_condition=MatchConditions.IfNotModified,
                        )
                    else:
                        self.table.submit_transaction(
                            [("update", merged, conditions), ("upsert", clean(log))]
                        )
                except (ResourceModifiedError, ResourceNotFoundError):
                    continue  # changed or removed since it was read: read it again
                except TableTransactionError as exc:
                    if exc.status_code == 412:
                        continue
                    raise
            return job_from_entity(merged)
        raise StorageFailed(f"job {job_id} kept changing under concurrent updates")

    def set_stage(self, update: StageUpdate) -> Job | None:
        change: dict[str, Any] = {"Status": update.status.value, "Stage": update.stage.value}
        if update.status is JobStatus.RUNNING:
            change["StartedAt"] = update.at
        return self._change(update.owner, update.job_id, change)

    def fail(self, failure: FailJob) -> Job | None:
        return self._change(
            failure.owner,
            failure.job_id,
            {
                "Status": failure.status.value,
                "Stage": failure.status.value,
                "CompletedAt": failure.at,
                "ErrorCode": failure.error.code,
                "ErrorMessage": failure.error.message,
                "ErrorStage": failure.error.stage.value,
            },
        )

    def cancel(self, owner: str, job_id: str, at: datetime) -> Job | None:
        """Mark a queued or running job cancelled; a finished job is returned as it is."""
        return self._change(
            owner,
            job_id,
            {
                "Status": JobStatus.CANCELLED.value,
                "Stage": Stage.CANCELLED.value,
                "CompletedAt": at,
            },
        )

    def complete(self, job: Job, log: dict[str, Any]) -> Job | None:
        """Mark the job completed and add its report-log entry in one transaction."""
        return self._change(job.owner, job.id, clean(job_to_entity(job)), log=log)

    def list_for_ticker(
        self, owner: str, ticker: str, limit: int, cursor: str | None
    ) -> tuple[list[Job], str | None]:
        """That owner's jobs for one ticker, newest first; the cursor is opaque to callers."""
        after = decode_cursor(cursor) if cursor else None
        query = f"PartitionKey eq @owner and {job_rows().filter} and Ticker eq @ticker"
        with storage_errors("list jobs"):
            entities = list(
                self.table.query_entities(query, parameters={"owner": owner, "ticker": ticker})
            )
        jobs = sorted(
            (job_from_entity(e) for e in entities),
            key=lambda j: (j.created_at, j.id),
            reverse=True,
        )
        if after is not None:
            jobs = [j for j in jobs if (j.created_at, j.id) < after]
        page = jobs[:limit]
        if len(jobs) <= limit:
            return page, None
        return page, encode_cursor(page[-1].created_at, page[-1].id)

    def log_entries(self, owner: str, ticker: str) -> list[dict[str, Any]]:
        """That owner's report-log rows for one ticker, newest first."""
        rows = log_rows(ticker)
        with storage_errors("list report log"):
            return [
                dict(e)
                for e in self.table.query_entities(
                    "PartitionKey eq @owner and RowKey ge @lo and RowKey lt @hi",
                    parameters={"owner": owner, "lo": rows.lo, "hi": rows.hi},
                )
            ]


def encode_cursor(created_at: datetime, row_id: str) -> str:
    """A page's end as an opaque cursor: the last row's creation time and id."""
    raw = f"{created_at.isoformat()}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, job_id = raw.split("|", 1)
        return datetime.fromisoformat(stamp), job_id
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidQuery("cursor is not one this API returned", field="cursor") from exc
