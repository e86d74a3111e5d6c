"""A batch row left running by an orchestration that ended shows as the orchestration ended."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import azure.durable_functions as df

from api.batches import reconciled
from shared.domain.batches import Batch, BatchItem
from shared.domain.models import JobStatus
from shared.errors import StorageFailed
from tests.shared.test_failure_codes import raise_, raised_in_activity

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def batch(status: JobStatus) -> Batch:
    items = [BatchItem(ticker=t, id=t.lower() * 8, status=JobStatus.QUEUED) for t in "AB"]
    return Batch(id="b" * 32, owner="o", status=status, created_at=NOW, items=items)


def test_a_failed_orchestration_fails_a_running_batch_with_its_code() -> None:
    exc = raised_in_activity("update_batch", raise_(StorageFailed("table down")))
    failure = SimpleNamespace(
        runtime_status=df.OrchestrationRuntimeStatus.Failed,
        output=f"Orchestrator function 'batch_orchestrator' failed: {exc}",
    )
    shown = reconciled(batch(JobStatus.RUNNING), failure)
    assert shown.status is JobStatus.FAILED
    assert shown.error is not None and shown.error.code == "storage_failed"


def test_a_terminated_orchestration_shows_cancelled() -> None:
    terminated = SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus.Terminated)
    assert reconciled(batch(JobStatus.QUEUED), terminated).status is JobStatus.CANCELLED


def test_a_running_or_finished_batch_is_left_as_it_is() -> None:
    running = SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus.Running)
    assert reconciled(batch(JobStatus.RUNNING), running).status is JobStatus.RUNNING
    failed = SimpleNamespace(runtime_status=df.OrchestrationRuntimeStatus.Failed, output="x")
    assert reconciled(batch(JobStatus.COMPLETED), failed).status is JobStatus.COMPLETED
    assert reconciled(batch(JobStatus.RUNNING), None).status is JobStatus.RUNNING
