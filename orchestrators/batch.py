"""The batch orchestration: each ticker as the analysis orchestration, a bounded few at once,
then one comparison of them all.

Each child is a sub-orchestration whose instance id is its job's id (made at admission, its row
written `queued` then), so a child is an ordinary job: listed, read and cancelled on its own.
At most `concurrency` children run at once; when one ends, the batch row records it and the
next one starts. A child that fails does not fail the batch: it is compared as failed, with its
code. The batch ends `failed` only when its comparison cannot be stored, and `cancelled` when
the batch row says so (DELETE /api/batches/{id}): no child starts after that.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.context import as_output, now
from shared import names
from shared.contracts import (
    AnalysisOutput,
    BatchChild,
    BatchInput,
    BatchOutput,
    BatchState,
    BatchUpdate,
    CompareInput,
)
from shared.domain.models import JobError, JobStatus, Stage
from shared.errors import job_failure

bp = df.Blueprint()

Steps = Generator[Any, Any, Any]


def update_batch(
    context: df.DurableOrchestrationContext,
    batch: BatchInput,
    retry: df.RetryOptions,
    **change: Any,
) -> Steps:
    """Record a change on the batch row; the batch's status after it."""
    update = BatchUpdate(batch_id=batch.batch_id, owner=batch.owner, at=now(context), **change)
    answer = yield context.call_activity_with_retry(
        names.UPDATE_BATCH, retry, update.model_dump(mode="json")
    )
    return BatchState.model_validate(answer).status


def child_ended(task: Any, child: BatchChild) -> dict[str, Any]:
    """What the batch records of a child that ended: its output, or why its orchestration
    failed (a child normally ends with an output even when its job failed)."""
    if isinstance(task.result, Exception):
        code, message = job_failure(task.result)
        return {"child": child, "error": JobError(code=code, message=message, stage=Stage.FAILED)}
    return {"child": child, "output": AnalysisOutput.model_validate(task.result)}


def run_children(
    context: df.DurableOrchestrationContext, batch: BatchInput, retry: df.RetryOptions
) -> Steps:
    """Run every child, at most `concurrency` at once; False when the batch was cancelled."""
    waiting = list(batch.children)
    running: list[tuple[Any, BatchChild]] = []

    def fill() -> None:
        while waiting and len(running) < batch.concurrency:
            child = waiting.pop(0)
            task = context.call_sub_orchestrator(
                names.ANALYSIS_ORCHESTRATOR,
                batch.child_input(child).model_dump(mode="json"),
                child.job_id,
            )
            running.append((task, child))

    fill()
    while running:
        winner = yield context.task_any([task for task, _ in running])
        ended = next(pair for pair in running if pair[0] is winner)
        running.remove(ended)
        # The next child starts before the batch row hears of this one, so recording an end is
        # never on the batch's critical path. A cancelled batch has cancelled every unfinished
        # child's row already: a child started here stops at its first step.
        fill()
        status = yield from update_batch(context, batch, retry, **child_ended(*ended))
        if status is not JobStatus.RUNNING:
            return False
    return True


@bp.orchestration_trigger(context_name="context", orchestration=names.BATCH_ORCHESTRATOR)
def batch_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    batch = BatchInput.model_validate(context.get_input())
    retry = df.RetryOptions(batch.retry.first_retry_ms, batch.retry.max_attempts)
    status = yield from update_batch(context, batch, retry)
    if status is not JobStatus.RUNNING:
        return as_output(BatchOutput(status=status))
    context.set_custom_status({"status": "running"})
    if not (yield from run_children(context, batch, retry)):
        context.set_custom_status({"status": "cancelled"})
        return as_output(BatchOutput(status=JobStatus.CANCELLED))

    compare = CompareInput(
        batch_id=batch.batch_id,
        owner=batch.owner,
        created_at=batch.created_at,
        as_of=batch.as_of,
    )
    try:
        answer = yield context.call_activity_with_retry(
            names.COMPARE_BATCH, retry, compare.model_dump(mode="json")
        )
    except Exception as exc:
        code, message = job_failure(exc)
        error = JobError(code=code, message=message, stage=Stage.PERSISTING)
        status = yield from update_batch(context, batch, retry, error=error)
        context.set_custom_status({"status": status.value})
        return as_output(BatchOutput(status=status, error=error))
    stored = BatchOutput.model_validate(answer)
    context.set_custom_status({"status": stored.status.value})
    return as_output(stored)
