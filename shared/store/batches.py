"""The `analyses` table's batch rows: one per batch, in its owner's partition beside the jobs.

Items travel as one JSON property (a batch has at most 96; Table Storage takes 64 KiB a
property). Every change is read, merged and replaced under the row's ETag, so the orchestrator
recording a child's end and a caller cancelling the batch never overwrite each other; a
terminal batch is never changed again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from pydantic import TypeAdapter

from shared.domain.batches import Batch, BatchCounts, BatchItem
from shared.domain.models import JobError, JobStatus, Stage, Usage
from shared.store.clients import storage_errors
from shared.store.jobs import as_utc, clean, decode_cursor, encode_cursor
from shared.store.owned_rows import OwnedRows
from shared.store.rows import batch_row_key, batch_rows

_ITEMS = TypeAdapter(list[BatchItem])


def batch_row(batch: Batch) -> dict[str, Any]:
    counts = BatchCounts.of(batch.items)
    return clean(
        {
            "PartitionKey": batch.owner,
            "RowKey": batch_row_key(batch.id),
            "BatchId": batch.id,
            "Status": batch.status.value,
            "CreatedAt": batch.created_at,
            "StartedAt": batch.started_at,
            "CompletedAt": batch.completed_at,
            "Tickers": ",".join(batch.tickers),
            "Items": _ITEMS.dump_json(batch.items, exclude_none=True).decode(),
            **{f"Count{name.capitalize()}": n for name, n in counts.model_dump().items()},
            "ErrorCode": batch.error.code if batch.error else None,
            "ErrorMessage": batch.error.message if batch.error else None,
            "ReportBlob": batch.report_blob,
            "AsOf": batch.as_of.isoformat() if batch.as_of else None,
            **(
                {
                    "LlmCalls": batch.usage.llm_calls,
                    "PromptTokens": batch.usage.prompt_tokens,
                    "CompletionTokens": batch.usage.completion_tokens,
                }
                if batch.usage
                else {}
            ),
        }
    )


def batch_from_entity(entity: dict[str, Any]) -> Batch:
    error = None
    if entity.get("ErrorCode"):
        error = JobError(
            code=entity["ErrorCode"], message=entity.get("ErrorMessage") or "", stage=Stage.FAILED
        )
    return Batch(
        id=entity["BatchId"],
        owner=entity["PartitionKey"],
        status=JobStatus(entity["Status"]),
        created_at=as_utc(entity["CreatedAt"]) or datetime.now(UTC),
        started_at=as_utc(entity.get("StartedAt")),
        completed_at=as_utc(entity.get("CompletedAt")),
        items=_ITEMS.validate_json(entity.get("Items") or "[]"),
        error=error,
        report_blob=entity.get("ReportBlob") or None,
        as_of=date.fromisoformat(entity["AsOf"]) if entity.get("AsOf") else None,
        usage=Usage(
            llm_calls=int(entity["LlmCalls"]),
            prompt_tokens=int(entity.get("PromptTokens") or 0),
            completion_tokens=int(entity.get("CompletionTokens") or 0),
        )
        if "LlmCalls" in entity
        else None,
    )


Change = Callable[[Batch], Batch | None]


class BatchStore(OwnedRows):
    kind = "batch"

    def get(self, owner: str, batch_id: str) -> Batch | None:
        entity = self.entity(owner, batch_row_key(batch_id))
        return batch_from_entity(entity) if entity else None

    def change(
        self, owner: str, batch_id: str, change: Change, *, ended_too: bool = False
    ) -> Batch | None:
        """Apply `change` to a batch that has not ended, under its ETag; None when unknown.

        `change` returns the batch as it should be, or None to leave it; a batch that has
        ended is returned as it is, unless `ended_too` (a cancel recording how its children
        ended).
        """

        def unless_ended(batch: Batch) -> Batch | None:
            return None if batch.finished and not ended_too else change(batch)

        return self.changed(
            owner, batch_row_key(batch_id), f"batch {batch_id}",
            batch_from_entity, batch_row, unless_ended,
        )

    def page(self, owner: str, limit: int, cursor: str | None) -> tuple[list[Batch], str | None]:
        """That owner's batches, newest first; the cursor is opaque to callers."""
        after = decode_cursor(cursor) if cursor else None
        rows = batch_rows()
        with storage_errors("list batches"):
            entities = self.table.query_entities(
                "PartitionKey eq @owner and RowKey ge @lo and RowKey lt @hi",
                parameters={"owner": owner, "lo": rows.lo, "hi": rows.hi},
            )
            batches = [batch_from_entity(e) for e in entities]
        batches.sort(key=lambda b: (b.created_at, b.id), reverse=True)
        if after is not None:
            batches = [b for b in batches if (b.created_at, b.id) < after]
        page = batches[:limit]
        more = len(batches) > limit
        return page, encode_cursor(page[-1].created_at, page[-1].id) if more else None


def with_item(batch: Batch, item: BatchItem) -> Batch:
    items = [item if old.id == item.id else old for old in batch.items]
    return batch.model_copy(update={"items": items})

