"""Retention against Azurite and the local host: `sweep` called directly, as the timer calls it.

Real analyses run through the host (so each has blobs, a job row, a report-log row and Durable
history); some are then made older than RETENTION_DAYS by rewriting their CreatedAt. The sweep
removes those and keeps the newer ones; one old job's memo is leased (its blobs cannot all be
deleted) and the client refuses to purge another's history: both are reported, keep their job
row for the next sweep, and the sweep goes on with the rest.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import pytest
import requests
from azure.data.tables import TableClient, UpdateMode
from azure.durable_functions.models.utils import http_utils
from azure.storage.blob import BlobLeaseClient, ContainerClient

from devhost import client_binding
from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.management import ManagementUrls
from maintenance.retention import RetentionReport, retention_cutoff, sweep
from shared.settings import REPORTS_CONTAINER, get_settings
from shared.store.artifacts import memo_blob
from shared.store.rows import quota_row_key
from tests.trust.support import (
    StorageView,
    durable_status,
    follow,
    make_app_root,
    running_host,
    submit,
    wait_until,
)

HUB = "OpsRetention"
RETENTION_DAYS = 30
OWNER = "anonymous"


@dataclass(frozen=True)
class Job:
    job_id: str
    ticker: str


class RefusingClient:
    """The durable client, except that purging `refused` fails (as a 5xx from the host would)."""

    def __init__(self, client: df.DurableOrchestrationClient, refused: set[str]) -> None:
        self._client = client
        self.refused = refused
        self.purged: list[str] = []

    async def purge_instance_history(self, instance_id: str) -> Any:
        if instance_id in self.refused:
            raise RuntimeError("scripted: the task hub is unavailable")
        self.purged.append(instance_id)
        return await self._client.purge_instance_history(instance_id)


def durable_client(host: DevHost) -> df.DurableOrchestrationClient:
    """The client a `durable_client_input` function of this host receives."""
    urls = ManagementUrls(host.webhook_base, host.hub_name, host.system_key)
    return df.DurableOrchestrationClient(client_binding.binding_json(urls, host.rpc_base))


@pytest.fixture
def one_loop() -> Iterator[asyncio.Runner]:
    """The durable SDK keeps one aiohttp session per process, bound to the event loop of its
    first call (a worker's loop lives as long as its process): a second `asyncio.run` would find
    that loop closed. So a test's sweeps share one loop, which closes the session before it
    closes, and the next test starts without one."""
    with asyncio.Runner() as runner:
        try:
            yield runner
        finally:
            runner.run(http_utils._close_session())


def history_exists(host: DevHost, job_id: str) -> bool:
    answer = requests.get(f"{host.webhook_base}/instances/{job_id}",
                          params={"code": host.system_key}, timeout=10)
    assert answer.status_code in (200, 202, 404), answer.text
    return answer.status_code != 404


@dataclass
class World:
    host: DevHost
    view: StorageView
    table: TableClient
    container: ContainerClient
    jobs: dict[str, Job]  # role -> job

    def blobs(self, job: Job) -> list[str]:
        return self.view.blob_names(f"{job.ticker}/{job.job_id}/")

    def rows(self, job: Job) -> list[str]:
        return sorted(r["RowKey"] for r in self.view._rows(
            "analyses", "PartitionKey eq @o and JobId eq @id", o=OWNER, id=job.job_id))

    def backdate(self, job: Job, days: float) -> None:
        created = datetime.now(UTC) - timedelta(days=days)
        self.table.update_entity(
            {"PartitionKey": OWNER, "RowKey": f"job_{job.job_id}", "CreatedAt": created},
            mode=UpdateMode.MERGE,
        )


@pytest.fixture(scope="module")
def world(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = make_app_root(tmp_path_factory.mktemp("ops-retention"), HUB)
    with running_host(root, azurite.connection_string, azurite.connection_string,
                      RETENTION_DAYS=str(RETENTION_DAYS)) as host:
        roles = ("old", "old_leased", "old_refused", "recent", "almost_old")
        tickers = {role: f"RT{uuid.uuid4().hex[:6].upper()}" for role in roles}
        answers = {role: submit(host, tickers[role]) for role in roles}
        jobs = {role: Job(a.json()["id"], tickers[role]) for role, a in answers.items()}
        for role, answer in answers.items():
            assert follow(host, answer.json()["statusQueryGetUri"])["status"] == "completed", role
            wait_until(lambda a=answer: durable_status(host, a.json()["id"])["runtimeStatus"]
                       == "Completed", 30, f"{role}'s orchestration to end")
        view = StorageView(azurite.connection_string, HUB)
        table = view.tables.get_table_client("analyses")
        container = view.blobs.get_container_client(REPORTS_CONTAINER)
        yield World(host, view, table, container, jobs)


def test_the_sweep_removes_what_is_older_than_retention_and_reports_what_it_cannot(
    world: World, one_loop: asyncio.Runner
) -> None:
    jobs = world.jobs
    assert get_settings().retention_days == RETENTION_DAYS
    for role in ("old", "old_leased", "old_refused"):
        world.backdate(jobs[role], RETENTION_DAYS + 1)
    world.backdate(jobs["almost_old"], RETENTION_DAYS - 1)

    # An old job whose orchestration never started: a row and a memo, no history at all.
    never = Job(uuid.uuid4().hex, "RTNEVER")
    world.table.create_entity({
        "PartitionKey": OWNER, "RowKey": f"job_{never.job_id}", "JobId": never.job_id,
        "Ticker": never.ticker, "Status": "failed", "Stage": "failed",
        "CreatedAt": datetime.now(UTC) - timedelta(days=RETENTION_DAYS + 5),
    })
    world.container.upload_blob(memo_blob(never.ticker, never.job_id), b"# memo")
    # An Idempotency-Key row naming the old job, and a quota row of an hour long gone.
    idem_key = f"idem_{uuid.uuid4().hex}"
    world.table.create_entity({"PartitionKey": OWNER, "RowKey": idem_key,
                               "JobId": jobs["old"].job_id, "BodyHash": "x"})
    old_hour = quota_row_key(datetime.now(UTC) - timedelta(days=RETENTION_DAYS + 2))
    world.table.create_entity({"PartitionKey": OWNER, "RowKey": old_hour, "Count": 3})
    this_hour = quota_row_key(datetime.now(UTC))

    before = {role: (world.blobs(job), world.rows(job)) for role, job in jobs.items()}
    for role, (blobs, rows) in before.items():
        assert {"memo.md", "evidence.json"} <= {b.rsplit("/", 1)[1] for b in blobs}, role
        assert sum(r.startswith(("job_", "log_")) for r in rows) == 2, role
        assert history_exists(world.host, jobs[role].job_id), role

    leased = world.container.get_blob_client(memo_blob(jobs["old_leased"].ticker,
                                                        jobs["old_leased"].job_id))
    lease = BlobLeaseClient(leased)
    lease.acquire(lease_duration=-1)
    client = RefusingClient(durable_client(world.host), refused={jobs["old_refused"].job_id})
    cutoff = retention_cutoff(datetime.now(UTC), get_settings().retention_days)
    try:
        report: RetentionReport = one_loop.run(
            sweep(world.table, world.container, client, cutoff))
    finally:
        lease.break_lease(lease_break_period=0)

    # Removed: everything of the old job and of the never-started one.
    for job in (jobs["old"], never):
        assert world.blobs(job) == [] and world.rows(job) == [], job
        assert world.view.job_row(job.job_id) is None
        assert not history_exists(world.host, job.job_id)
        assert job.job_id not in world.view.instances()
    assert not world.view._rows("analyses", "RowKey eq @k", k=idem_key)
    assert not world.view._rows("analyses", "RowKey eq @k", k=old_hour)
    assert world.view._rows("analyses", "PartitionKey eq @o and RowKey eq @k",
                            o=OWNER, k=this_hour)

    # Kept: the newer jobs, whole.
    for role in ("recent", "almost_old"):
        assert (world.blobs(jobs[role]), world.rows(jobs[role])) == before[role], role
        assert history_exists(world.host, jobs[role].job_id), role
        assert jobs[role].job_id not in client.purged

    # Reported, and kept for the next sweep: the leased memo and the refused purge.
    failures = {f.item: f for f in report.failures}
    leased_failure = failures[jobs["old_leased"].job_id]
    assert leased_failure.step == "blobs" and "LeaseIdMissing" in leased_failure.error
    assert world.view.job_row(jobs["old_leased"].job_id) is not None
    assert leased.exists()
    refused_failure = failures[jobs["old_refused"].job_id]
    assert refused_failure.step == "history" and refused_failure.error == "RuntimeError"
    refused = jobs["old_refused"]
    assert (world.blobs(refused), world.rows(refused)) == before["old_refused"]
    assert history_exists(world.host, refused.job_id)

    assert report.cutoff == cutoff and report.expired >= 4
    assert report.jobs_removed >= 2 and report.histories_purged >= 2
    assert report.blobs_deleted >= len(before["old"][0]) + 1
    assert report.rows_deleted >= 2 + 1 + 1  # old: job + log row + idem row; never: job row
    assert report.quota_rows_deleted >= 1

    # The next sweep, with nothing in the way, removes what was left.
    again = one_loop.run(sweep(world.table, world.container, durable_client(world.host), cutoff))
    mine = {jobs["old_leased"].job_id, jobs["old_refused"].job_id}
    assert not [f for f in again.failures if f.item in mine]
    for job_id in mine:
        assert world.view.job_row(job_id) is None and not history_exists(world.host, job_id)
    for role in ("old_leased", "old_refused"):
        assert world.blobs(jobs[role]) == [] and world.rows(jobs[role]) == []
    for role in ("recent", "almost_old"):
        assert world.view.job_row(jobs[role].job_id) is not None
