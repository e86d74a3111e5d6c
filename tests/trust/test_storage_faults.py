"""Storage outages, injected by a TCP proxy in front of the app's storage only.

The host's own checkpoints go straight to Azurite (DEVHOST_STORAGE), so orchestrations keep
running while the app's Blob and Table calls fail. What storage really holds is read through a
direct client. The rule under test: a job that says `completed` always has its memo and its
log entry; an outage ends a job `failed` with `storage_failed`, or the job completes once
storage is back.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite, connection_string
from devhost.host import DevHost
from shared import names
from tests.trust.support import (
    StorageView,
    durable_status,
    follow,
    function_events,
    get,
    make_app_root,
    running_host,
    submit,
    wait_until,
)
from tests.trust.tcp_proxy import TcpProxy

HUB = "TrustFaults"
ATTEMPTS = 2


class Outage:
    """One proxy per storage service the app uses (Blob and Table), switched together."""

    def __init__(self, azurite: Azurite) -> None:
        self.blob = TcpProxy(azurite.blob_port, lifetime=240)
        self.table = TcpProxy(azurite.table_port, lifetime=240)
        self.queue_port = azurite.queue_port

    def start(self) -> Outage:
        self.blob.start()
        self.table.start()
        return self

    def stop(self) -> None:
        self.blob.stop()
        self.table.stop()

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob.port, self.queue_port, self.table.port)

    def down(self) -> None:
        self.blob.down()
        self.table.down()

    def up(self) -> None:
        self.blob.up()
        self.table.up()


@pytest.fixture(scope="module")
def outage(azurite: Azurite) -> Iterator[Outage]:
    proxies = Outage(azurite).start()
    yield proxies
    proxies.stop()


@pytest.fixture
def storage_up(outage: Outage) -> Iterator[Outage]:
    """Every test starts and ends with storage reachable."""
    outage.up()
    yield outage
    outage.up()


@pytest.fixture(scope="module")
def host(
    azurite: Azurite, outage: Outage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevHost]:
    root = make_app_root(tmp_path_factory.mktemp("faults"), HUB)
    with running_host(
        root,
        outage.connection_string,
        azurite.connection_string,
        SIMULATED_LATENCY_MS="200",  # time to arm a trigger after the 202
        ACTIVITY_MAX_ATTEMPTS=str(ATTEMPTS),
    ) as running:
        yield running


@pytest.fixture(scope="module")
def view(azurite: Azurite) -> StorageView:
    return StorageView(azurite.connection_string, HUB)


def test_submit_while_storage_is_down_is_503_and_starts_nothing(
    host: DevHost, storage_up: Outage, view: StorageView
) -> None:
    instances, rows = view.instances(), len(view.analyses_rows())
    storage_up.down()

    answer = submit(host, "DOWN")

    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "storage_failed"
    assert view.instances() == instances  # no orchestration was started
    assert len(view.analyses_rows()) == rows


def test_health_is_503_while_storage_is_down(host: DevHost, storage_up: Outage) -> None:
    url = f"{host.base_url}/api/health"
    assert get(host, url).status_code == 200
    storage_up.down()
    down = get(host, url)
    assert down.status_code == 503
    assert down.json()["status"] == "unhealthy"
    assert down.json()["checks"]["storage"]["ok"] is False
    storage_up.up()
    assert get(host, url).status_code == 200


def test_a_short_outage_while_writing_the_memo_ends_completed_with_everything_stored(
    host: DevHost, storage_up: Outage, view: StorageView
) -> None:
    answer = submit(host, "BLIP")
    assert answer.status_code == 202
    job_id = answer.json()["id"]
    decision = f"PUT /devstoreaccount1/reports/BLIP/{job_id}/work/decision.json".encode()
    fired = storage_up.blob.down_on(decision)  # the strategist's write never arrives
    assert fired.wait(30), "the decision was never written"
    storage_up.table.down()
    time.sleep(0.3)
    storage_up.up()

    job = follow(host, answer.json()["statusQueryGetUri"])

    assert job["status"] == "completed", job
    assert view.memo("BLIP", job_id)
    assert len(view.log_entries(job_id)) == 1
    assert get(host, answer.json()["reportUri"]).status_code == 200
    view.assert_no_false_success()


def test_an_outage_through_every_persist_attempt_fails_the_job_with_storage_failed(
    host: DevHost, storage_up: Outage, view: StorageView
) -> None:
    answer = submit(host, "GONE")
    assert answer.status_code == 202
    job_id = answer.json()["id"]
    memo = f"PUT /devstoreaccount1/reports/GONE/{job_id}/memo.md".encode()
    fired = storage_up.blob.down_on(memo)
    assert fired.wait(30), "persist never wrote the memo"
    storage_up.table.down()
    # Storage stays away until persist has failed every attempt, then comes back so that the
    # orchestrator's fail_job can record the failure.
    wait_until(
        lambda: function_events(durable_status(host, job_id), names.PERSIST_REPORT, "TaskFailed")
        >= ATTEMPTS,
        timeout=40,
        what="persist_report to fail every attempt",
    )
    storage_up.up()

    job = follow(host, answer.json()["statusQueryGetUri"])

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "storage_failed" and job["error"]["stage"] == "persisting"
    row = view.job_row(job_id)
    assert row is not None and row["Status"] == "failed" and row["ErrorCode"] == "storage_failed"
    assert view.memo("GONE", job_id) is None and view.log_entries(job_id) == []
    report = get(host, answer.json()["reportUri"])
    assert report.status_code == 409
    view.assert_no_false_success()
