"""DELETE /api/analyses/{id} over HTTP while a step is running.

The app here is the real API, orchestrator and activities, except that write_memo and
persist_report wait at a gate the test opens (then run the real step), so a cancel can arrive
while the memo is being written or persisted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func
import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from activities import job_stage, market_data, news_research, quant_analyst
from activities.persist import persist
from activities.strategist import decide
from api import analyses, reports
from devhost.azurite import Azurite
from devhost.host import DevHost
from orchestrators import analysis
from shared import names
from shared.artifacts import ArtifactStore, memo_blob
from shared.evidence import MemoInput, PersistInput
from shared.jobs import JobStore
from shared.models import JobStatus
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from tests.app_env import app_folder, app_settings
from tests.e2e.test_analysis_http import follow

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoCancel"

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (
    analyses.bp, reports.bp, analysis.bp, job_stage.bp, market_data.bp, news_research.bp,
    quant_analyst.bp,
):
    app.register_functions(blueprint)


@dataclass
class Gate:
    """Holds one step of one ticker until opened; says when the step entered and left."""

    entered: threading.Event = field(default_factory=threading.Event)
    opened: threading.Event = field(default_factory=threading.Event)
    left: threading.Event = field(default_factory=threading.Event)
    result: dict[str, Any] | None = None


GATES: dict[tuple[str, str], Gate] = {}


def _through(step: str, ticker: str, run: Any) -> dict[str, Any]:
    gate = GATES.get((step, ticker))
    if gate is None:
        return dict(run())
    gate.entered.set()
    gate.opened.wait(30)
    try:
        gate.result = dict(run())
        return gate.result
    finally:
        gate.left.set()


@app.activity_trigger(input_name="payload", activity=names.WRITE_MEMO)
def write_memo(payload: dict[str, Any]) -> dict[str, Any]:
    request = MemoInput.model_validate(payload)
    return _through("memo", request.ticker, lambda: decide(request).model_dump(mode="json"))


@app.activity_trigger(input_name="payload", activity=names.PERSIST_REPORT)
def persist_report(payload: dict[str, Any]) -> dict[str, Any]:
    request = PersistInput.model_validate(payload)
    return _through("persist", request.ticker, lambda: persist(request).model_dump(mode="json"))


@pytest.fixture(scope="module")
def gated_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    root = app_folder(tmp_path_factory.mktemp("cancel_app"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string):
            with DevHost(app, root=root, port=0) as running:
                yield running


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


def cancel_while(host: DevHost, step: str, ticker: str, stage: str) -> tuple[str, Gate]:
    """Submit, hold `step` until the job shows `stage` and the step is running, cancel."""
    gate = GATES[(step, ticker)] = Gate()
    answer = requests.post(f"{host.base_url}/api/analyses", json={"ticker": ticker}, timeout=10)
    job_id = answer.json()["id"]
    url = answer.json()["statusQueryGetUri"]
    assert gate.entered.wait(30)
    assert requests.get(url, timeout=10).json()["stage"] == stage

    cancelled = requests.delete(url, timeout=10)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["stage"] == "cancelled"
    wait_for(lambda: runtime_status(host, job_id) == "Terminated")
    gate.opened.set()  # the step that was running goes on, and finishes
    assert gate.left.wait(30)
    time.sleep(0.3)  # time for anything its completion might wrongly set off
    return job_id, gate


def assert_no_report(host: DevHost, azurite: Azurite, ticker: str, job_id: str) -> None:
    url = f"{host.base_url}/api/analyses/{job_id}"
    job = requests.get(url, timeout=10).json()
    assert job["status"] == "cancelled" and job["stage"] == "cancelled"
    assert "verdict" not in job
    for params in ({}, {"link": "sas"}):
        report = requests.get(f"{url}/report", params=params, timeout=10)
        assert report.status_code == 409
        assert report.json()["error"] == {
            "code": "not_completed", "message": report.json()["error"]["message"],
            "status": "cancelled"}
    assert log_rows(azurite, ticker) == []
    stored = blobs(azurite, ticker, job_id)
    assert f"{ticker}/{job_id}/memo.md" not in stored
    assert f"{ticker}/{job_id}/evidence.json" not in stored
    again = requests.delete(url, timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"
    assert again.json()["error"]["status"] == "cancelled"


def test_cancel_while_the_memo_is_being_written(gated_host: DevHost, azurite: Azurite) -> None:
    job_id, gate = cancel_while(gated_host, "memo", "CNCL", "writing_memo")
    assert gate.result is not None  # the strategist did finish; its answer is dropped
    assert_no_report(gated_host, azurite, "CNCL", job_id)
    assert runtime_status(gated_host, job_id) == "Terminated"


def test_cancel_while_persisting_never_completes_the_job(
    gated_host: DevHost, azurite: Azurite
) -> None:
    job_id, gate = cancel_while(gated_host, "persist", "CNCLP", "persisting")
    assert gate.result is not None and gate.result["job_status"] == "cancelled"
    assert_no_report(gated_host, azurite, "CNCLP", job_id)


def test_a_finished_job_is_not_cancellable(gated_host: DevHost) -> None:
    api = f"{gated_host.base_url}/api/analyses"
    answer = requests.post(api, json={"ticker": "DONE"}, timeout=10).json()
    job, _ = follow(answer["statusQueryGetUri"])
    assert job["status"] == "completed"
    refused = requests.delete(answer["statusQueryGetUri"], timeout=10)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_cancellable"
    assert refused.json()["error"]["status"] == "completed"
    assert requests.get(answer["reportUri"], timeout=10).status_code == 200
    unknown = requests.delete(f"{api}/{'0' * 32}", timeout=10)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_the_completing_transaction_refuses_a_cancelled_job(gated_host: DevHost) -> None:
    """The last guard, for a cancel landing between persist's check and its transaction."""
    gate = GATES[("memo", "GUARD")] = Gate()
    answer = requests.post(f"{gated_host.base_url}/api/analyses", json={"ticker": "GUARD"},
                           timeout=10).json()
    assert gate.entered.wait(30)
    store = JobStore()
    running = store.get("anonymous", answer["id"])
    assert running is not None and running.status is JobStatus.RUNNING
    assert requests.delete(answer["statusQueryGetUri"], timeout=10).status_code == 202
    completed = running.model_copy(update={"status": JobStatus.COMPLETED})
    log = {"PartitionKey": "anonymous", "RowKey": f"log_GUARD_x_{answer['id']}", "JobId": "x"}
    ended = store.complete(completed, log)
    assert ended is not None and ended.status is JobStatus.CANCELLED
    assert store.log_entries("anonymous", "GUARD") == []
    gate.opened.set()
    assert gate.left.wait(30)
    final = store.get("anonymous", answer["id"])
    assert final is not None and final.status is JobStatus.CANCELLED
    # Even with a memo in storage (a step that wrote it just before the cancel), none is served.
    ArtifactStore().write_once(memo_blob("GUARD", answer["id"]), b"# GUARD", "text/markdown")
    for params in ({}, {"link": "sas"}):
        report = requests.get(answer["reportUri"], params=params, timeout=10)
        assert report.status_code == 409 and report.json()["error"]["status"] == "cancelled"
