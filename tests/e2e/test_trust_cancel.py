"""DELETE /api/analyses/{id} over HTTP while a step is running.

The app here (tests/e2e/apps/gated) is the real API, orchestrator and activities, except that
write_memo and persist_report wait at a gate the test opens (then run the real step), so a cancel
can arrive while the memo is being written or persisted. The gates live on a `Board`, since the
app runs in the host's worker processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.models import JobStatus
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.artifacts import ArtifactStore, memo_blob
from shared.store.jobs import JobStore
from tests.app_env import app_folder, app_settings, keyed
from tests.control import CONTROL_SETTING, Board
from tests.e2e.step_gates import StepGates
from tests.e2e.test_analysis_http import follow

HUB = "StockMemoCancel"
GATED_APP = "tests.e2e.apps.gated.function_app:app"


@dataclass
class GatedHost:
    """The gated app's host, and the gates its write_memo and persist_report pass."""

    host: DevHost
    gates: StepGates


@pytest.fixture(scope="module")
def gated(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatedHost]:
    root = app_folder(tmp_path_factory.mktemp("cancel_app"), HUB)
    board = Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(patch, azurite.connection_string):
            with DevHost(GATED_APP, root=root, port=0) as running:
                yield GatedHost(running, StepGates(board))


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


def runtime_status(host: DevHost, job_id: str) -> str:
    url = f"{host.webhook_base}/instances/{job_id}"
    return str(requests.get(url, params={"code": host.system_key}, timeout=10).json()[
        "runtimeStatus"])


def log_rows(azurite: Azurite, ticker: str) -> list[str]:
    table = TableServiceClient.from_connection_string(azurite.connection_string)
    prefix = f"log_{ticker}_"
    return [e["RowKey"] for e in table.get_table_client(ANALYSES_TABLE).query_entities(
        "PartitionKey eq 'anonymous' and RowKey ge @lo and RowKey lt @hi",
        parameters={"lo": prefix, "hi": prefix + "~"})]


def blobs(azurite: Azurite, ticker: str, job_id: str) -> set[str]:
    container = BlobServiceClient.from_connection_string(
        azurite.connection_string).get_container_client(REPORTS_CONTAINER)
    return {b.name for b in container.list_blobs(name_starts_with=f"{ticker}/{job_id}/")}


def cancel_while(gated: GatedHost, step: str, ticker: str, stage: str) -> str:
    """Submit, hold `step` until the job shows `stage` and the step is running, cancel."""
    host, gates = gated.host, gated.gates
    gates.arm(step, ticker)
    api = keyed(host)
    answer = api.post(f"{host.base_url}/api/analyses", json={"ticker": ticker}, timeout=10)
    job_id = answer.json()["id"]
    url = answer.json()["statusQueryGetUri"]
    wait_for(lambda: gates.entered(step, ticker))
    assert api.get(url, timeout=10).json()["stage"] == stage

    cancelled = api.delete(url, timeout=10)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["stage"] == "cancelled"
    wait_for(lambda: runtime_status(host, job_id) == "Terminated")
    gates.open(step, ticker)  # the step that was running goes on, and finishes
    wait_for(lambda: gates.left(step, ticker))
    time.sleep(0.3)  # time for anything its completion might wrongly set off
    return job_id


def assert_no_report(host: DevHost, azurite: Azurite, ticker: str, job_id: str) -> None:
    url = f"{host.base_url}/api/analyses/{job_id}"
    api = keyed(host)
    job = api.get(url, timeout=10).json()
    assert job["status"] == "cancelled" and job["stage"] == "cancelled"
    assert "verdict" not in job
    for params in ({}, {"link": "sas"}):
        report = api.get(f"{url}/report", params=params, timeout=10)
        assert report.status_code == 409
        assert report.json()["error"] == {
            "code": "not_completed", "message": report.json()["error"]["message"],
            "status": "cancelled"}
    assert log_rows(azurite, ticker) == []
    stored = blobs(azurite, ticker, job_id)
    assert f"{ticker}/{job_id}/memo.md" not in stored
    assert f"{ticker}/{job_id}/evidence.json" not in stored
    again = api.delete(url, timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"
    assert again.json()["error"]["status"] == "cancelled"


def test_cancel_while_the_memo_is_being_written(gated: GatedHost, azurite: Azurite) -> None:
    job_id = cancel_while(gated, "memo", "CNCL", "writing_memo")
    # the strategist did finish; its answer is dropped
    assert gated.gates.result("memo", "CNCL") is not None
    assert_no_report(gated.host, azurite, "CNCL", job_id)
    assert runtime_status(gated.host, job_id) == "Terminated"


def test_cancel_while_persisting_never_completes_the_job(
    gated: GatedHost, azurite: Azurite
) -> None:
    job_id = cancel_while(gated, "persist", "CNCLP", "persisting")
    result = gated.gates.result("persist", "CNCLP")
    assert result is not None and result["job_status"] == "cancelled"
    assert_no_report(gated.host, azurite, "CNCLP", job_id)


def test_a_finished_job_is_not_cancellable(gated: GatedHost) -> None:
    host = gated.host
    url = f"{host.base_url}/api/analyses"
    api = keyed(host)
    answer = api.post(url, json={"ticker": "DONE"}, timeout=10).json()
    job, _ = follow(host, answer["statusQueryGetUri"])
    assert job["status"] == "completed"
    refused = api.delete(answer["statusQueryGetUri"], timeout=10)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_cancellable"
    assert refused.json()["error"]["status"] == "completed"
    assert api.get(answer["reportUri"], timeout=10).status_code == 200
    unknown = api.delete(f"{url}/{'0' * 32}", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_the_completing_transaction_refuses_a_cancelled_job(gated: GatedHost) -> None:
    """The last guard, for a cancel landing between persist's check and its transaction."""
    host, gates = gated.host, gated.gates
    api = keyed(host)
    gates.arm("memo", "GUARD")
    answer = api.post(f"{host.base_url}/api/analyses", json={"ticker": "GUARD"},
                      timeout=10).json()
    wait_for(lambda: gates.entered("memo", "GUARD"))
    store = JobStore()
    running = store.get("anonymous", answer["id"])
    assert running is not None and running.status is JobStatus.RUNNING
    assert api.delete(answer["statusQueryGetUri"], timeout=10).status_code == 202
    completed = running.model_copy(update={"status": JobStatus.COMPLETED})
    log = {"PartitionKey": "anonymous", "RowKey": f"log_GUARD_x_{answer['id']}", "JobId": "x"}
    ended = store.complete(completed, log)
    assert ended is not None and ended.status is JobStatus.CANCELLED
    assert store.log_entries("anonymous", "GUARD") == []
    gates.open("memo", "GUARD")
    wait_for(lambda: gates.left("memo", "GUARD"))
    final = store.get("anonymous", answer["id"])
    assert final is not None and final.status is JobStatus.CANCELLED
    # Even with a memo in storage (a step that wrote it just before the cancel), none is served.
    ArtifactStore().write_once(memo_blob("GUARD", answer["id"]), b"# GUARD", "text/markdown")
    for params in ({}, {"link": "sas"}):
        report = api.get(answer["reportUri"], params=params, timeout=10)
        assert report.status_code == 409 and report.json()["error"]["status"] == "cancelled"
