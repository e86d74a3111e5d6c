"""Retention of batches: `sweep` called directly against Azurite, on a table and a container of
this test's own (so no other test's rows are in its way), with rows and blobs written as the app
writes them (`batch_row`, `job_row`, the artifact names).

An expired batch goes with its Durable history, its `batches/{id}/` blobs, the Idempotency-Key
rows that name it and its row, and its children go as the jobs they are; a newer batch stays
whole. A batch whose blob cannot be deleted, or whose history the task hub refuses to purge,
is reported, keeps its row, and the next sweep finishes it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobLeaseClient, BlobServiceClient, ContainerClient

from devhost.azurite import Azurite
from maintenance.retention import retention_cutoff, sweep
from shared.domain.batches import Batch, BatchItem
from shared.domain.models import Job, JobStatus, Stage
from shared.store.artifacts import (
    comparison_blob,
    comparison_chart_blob,
    comparison_data_blob,
    evidence_blob,
    memo_blob,
)
from shared.store.batches import batch_row
from shared.store.jobs import job_row
from shared.store.rows import batch_row_key, idem_row_key, job_row_key

OWNER = "anonymous"
DAYS = 30
NOW = datetime.now(UTC)


class Purger:
    """The durable client as the sweep uses it: purges are recorded; `refused` ones fail."""

    def __init__(self, refused: set[str] | None = None) -> None:
        self.refused = refused or set()
        self.purged: list[str] = []

    async def purge_instance_history(self, instance_id: str) -> Any:
        if instance_id in self.refused:
            raise RuntimeError("scripted: the task hub is unavailable")
        self.purged.append(instance_id)
        return SimpleNamespace(instances_deleted=1)


@dataclass
class Store:
    table: TableClient
    container: ContainerClient
    batches: dict[str, Batch] = field(default_factory=dict)  # role -> batch

    def seed(self, role: str, status: JobStatus, age_days: float) -> Batch:
        """A batch of two children, all created `age_days` ago, with every blob it may have."""
        created = NOW - timedelta(days=age_days)
        done = status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
        batch_id = uuid.uuid4().hex
        jobs = [
            Job(
                id=uuid.uuid4().hex, owner=OWNER, ticker=ticker, batch_id=batch_id,
                status=JobStatus.COMPLETED if done else JobStatus.RUNNING,
                stage=Stage.COMPLETED if done else Stage.GATHERING_EVIDENCE,
                created_at=created, completed_at=created + timedelta(minutes=1) if done else None,
            )
            for ticker in ("RBA", "RBB")
        ]
        batch = Batch(
            id=batch_id, owner=OWNER, status=status, created_at=created,
            completed_at=created + timedelta(minutes=2) if done else None,
            items=[BatchItem(ticker=j.ticker, id=j.id, status=j.status) for j in jobs],
        )
        self.table.create_entity(batch_row(batch))
        self.table.create_entity({"PartitionKey": OWNER, "RowKey": idem_row_key(OWNER, role),
                                  "JobId": batch_id, "BodyHash": "x"})
        for job in jobs:
            self.table.create_entity(job_row(job))
            for name in (memo_blob(job.ticker, job.id), evidence_blob(job.ticker, job.id)):
                self.container.upload_blob(name, b"{}")
        if done:
            for name in (comparison_blob(batch_id), comparison_data_blob(batch_id),
                         comparison_chart_blob(batch_id)):
                self.container.upload_blob(name, b"x")
        self.batches[role] = batch
        return batch

    def blobs(self, prefix: str) -> list[str]:
        return sorted(b.name for b in self.container.list_blobs(name_starts_with=prefix))

    def rows(self) -> set[str]:
        return {e["RowKey"] for e in self.table.list_entities(select=["RowKey"])}

    def left_of(self, batch: Batch) -> tuple[list[str], set[str]]:
        """Its blobs and its children's, and the rows of it, its children and its idem row."""
        blobs = self.blobs(f"batches/{batch.id}/")
        for item in batch.items:
            blobs += self.blobs(f"{item.ticker}/{item.id}/")
        mine = {batch_row_key(batch.id), *(job_row_key(i.id) for i in batch.items)}
        idem = {e["RowKey"] for e in self.table.query_entities(
            "JobId eq @id", parameters={"id": batch.id}, select=["RowKey"])}
        return blobs, (self.rows() & mine) | idem


@pytest.fixture
def store(azurite: Azurite) -> Iterator[Store]:
    name = f"retbatch{uuid.uuid4().hex[:12]}"
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    table = tables.create_table(name)
    container = blobs.create_container(name)
    try:
        yield Store(table, container)
    finally:
        tables.delete_table(name)
        blobs.delete_container(name)


def run(store: Store, purger: Purger) -> Any:
    return asyncio.run(sweep(store.table, store.container, purger, retention_cutoff(NOW, DAYS)))


def test_an_expired_batch_goes_with_its_children_and_a_newer_one_stays(store: Store) -> None:
    old = store.seed("old", JobStatus.COMPLETED, DAYS + 1)
    stuck = store.seed("stuck", JobStatus.RUNNING, DAYS + 5)
    recent = store.seed("recent", JobStatus.COMPLETED, DAYS - 1)
    before = store.left_of(recent)
    blobs, rows = store.left_of(old)
    assert len(blobs) == 3 + 4 and len(rows) == 1 + 2 + 1

    purger = Purger()
    report = run(store, purger)

    for batch in (old, stuck):
        assert store.left_of(batch) == ([], set()), batch.id
        assert {batch.id, *(i.id for i in batch.items)} <= set(purger.purged)
    assert store.left_of(recent) == before
    assert not {recent.id, *(i.id for i in recent.items)} & set(purger.purged)
    assert report.failures == []
    assert (report.batches_expired, report.batches_removed) == (2, 2)
    assert (report.expired, report.jobs_removed) == (4, 4)
    assert report.histories_purged == 2 + 4
    assert report.blobs_deleted == 3 + 4 + 4  # the stuck batch has no comparison yet
    assert report.rows_deleted == 2 * (1 + 1) + 4  # batch + idem rows, then the job rows


def test_a_batch_that_cannot_be_removed_keeps_its_row_for_the_next_sweep(store: Store) -> None:
    leased = store.seed("leased", JobStatus.COMPLETED, DAYS + 1)
    refused = store.seed("refused", JobStatus.CANCELLED, DAYS + 1)
    refused_before = store.blobs(f"batches/{refused.id}/")
    lease = BlobLeaseClient(store.container.get_blob_client(comparison_blob(leased.id)))
    lease.acquire(lease_duration=-1)
    try:
        report = run(store, Purger(refused={refused.id}))
    finally:
        lease.break_lease(lease_break_period=0)

    failures = {f.item: f for f in report.failures}
    assert set(failures) == {leased.id, refused.id}
    assert failures[leased.id].kind == "batch" and failures[leased.id].step == "blobs"
    assert "LeaseIdMissing" in failures[leased.id].error
    assert failures[refused.id].kind == "batch" and failures[refused.id].step == "history"
    assert batch_row_key(leased.id) in store.rows()
    assert store.blobs(f"batches/{leased.id}/") == [comparison_blob(leased.id)]
    assert batch_row_key(refused.id) in store.rows()
    assert store.blobs(f"batches/{refused.id}/") == refused_before
    assert report.batches_removed == 0 and report.jobs_removed == 4  # the children still went

    again = run(store, Purger())
    assert again.failures == [] and again.batches_removed == 2
    for batch in (leased, refused):
        assert store.left_of(batch) == ([], set())
