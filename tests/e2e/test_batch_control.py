"""Batches under control: the hourly quota counts a batch whole, DELETE stops a running batch
and its children, cancelling one child leaves its batch running, and with a model provider a
batch costs exactly its children's calls plus one.

The cancel tests run the gated app (tests/e2e/apps/gated: the real app, with write_memo and
persist_report passing a gate the test opens), so children can be held mid-memo.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import REPORTS_CONTAINER
from tests.app_env import app_folder, app_settings, keyed
from tests.control import CONTROL_SETTING, Board
from tests.e2e.conftest import StorageCounts
from tests.e2e.step_gates import StepGates
from tests.e2e.test_batches import follow_batch, submit_batch
from tests.e2e.test_trust_callers import keyed_as, new_owner
from tests.standins.openai_server import OpenAIStandIn
from tests.trust.agents import agents

GATED_APP = "tests.e2e.apps.gated.function_app:app"


def wait_for(predicate: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


def runtime_status(host: DevHost, instance_id: str) -> str | None:
    answer = requests.get(
        f"{host.webhook_base}/instances/{instance_id}", params={"code": host.system_key},
        timeout=10,
    )
    return None if answer.status_code == 404 else str(answer.json()["runtimeStatus"])


def reports(azurite: Azurite, prefix: str) -> list[str]:
    container = BlobServiceClient.from_connection_string(
        azurite.connection_string).get_container_client(REPORTS_CONTAINER)
    return [b.name for b in container.list_blobs(name_starts_with=prefix)]


@pytest.fixture
def quota_host(azurite: Azurite, tmp_path: Path) -> Iterator[DevHost]:
    """Function-scoped: its settings (AUTH_MODE above all) end with its test."""
    root = app_folder(tmp_path, "StockMemoBatchQuota")
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(
            patch, azurite.connection_string, AUTH_MODE="easyauth", ANALYSES_PER_HOUR="5"
        ):
            with DevHost("function_app:app", root=root, port=0) as host:
                yield host


def test_a_batch_counts_whole_against_the_hourly_quota(
    quota_host: DevHost, counts: StorageCounts
) -> None:
    owner = new_owner()  # a caller of its own: the quota is per caller and clock hour
    before = counts.snapshot()
    six = submit_batch(quota_host, {"tickers": ["QA", "QB", "QC", "QD", "QE", "QF"]}, **owner)
    assert six.status_code == 429, six.text
    assert six.json()["error"]["code"] == "quota_exceeded"
    assert int(six.headers["Retry-After"]) > 0
    assert counts.snapshot() == before

    five = submit_batch(quota_host, {"tickers": ["QA", "QB", "QC", "QD", "QE"]}, **owner)
    assert five.status_code == 202, five.text
    batch = follow_batch(quota_host, five.json()["statusQueryGetUri"], headers=owner)
    assert batch["status"] == "completed" and batch["counts"]["completed"] == 5
    one_more = requests.post(
        f"{quota_host.base_url}/api/analyses", json={"ticker": "QG"},
        headers=keyed_as(quota_host, owner), timeout=10,
    )
    assert one_more.status_code == 429


@pytest.fixture(scope="module")
def gated(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[DevHost, StepGates]]:
    root = app_folder(tmp_path_factory.mktemp("batch_cancel"), "StockMemoBatchCancel")
    board = Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(patch, azurite.connection_string, BATCH_CONCURRENCY="2"):
            with DevHost(GATED_APP, root=root, port=0) as host:
                yield host, StepGates(board)


def test_cancelling_a_running_batch_stops_it_and_its_children(
    gated: tuple[DevHost, StepGates], azurite: Azurite
) -> None:
    host, gates = gated
    tickers = ["CXA", "CXB", "CXC"]
    for ticker in tickers:
        gates.arm("memo", ticker)
    api = keyed(host)
    answer = submit_batch(host, {"tickers": tickers})
    assert answer.status_code == 202, answer.text
    batch_id, url = answer.json()["id"], answer.json()["statusQueryGetUri"]
    # BATCH_CONCURRENCY=2: the first two children are held writing their memos, the third waits.
    wait_for(lambda: gates.entered("memo", "CXA") and gates.entered("memo", "CXB"))
    running = api.get(url, timeout=10).json()
    assert running["status"] == "running"
    assert [i["status"] for i in running["items"]] == ["running", "running", "queued"]

    cancelled = api.delete(url, timeout=10)
    assert cancelled.status_code == 202, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    ids = {item["ticker"]: item["id"] for item in cancelled.json()["items"]}
    wait_for(lambda: runtime_status(host, batch_id) == "Terminated")
    for ticker in ("CXA", "CXB"):
        wait_for(lambda t=ticker: runtime_status(host, ids[t]) == "Terminated")
        gates.open("memo", ticker)
        wait_for(lambda t=ticker: gates.left("memo", t))
    time.sleep(1.0)  # time for anything a late step might wrongly set off

    batch = api.get(url, timeout=10).json()
    assert batch["status"] == "cancelled"
    assert [i["status"] for i in batch["items"]] == ["cancelled"] * 3
    for ticker in tickers:
        job = api.get(f"{host.base_url}/api/analyses/{ids[ticker]}", timeout=10).json()
        assert job["status"] == "cancelled", job
        assert reports(azurite, f"{ticker}/{ids[ticker]}/memo.md") == []
    assert runtime_status(host, ids["CXC"]) is None  # never started
    assert not gates.entered("memo", "CXC")
    assert reports(azurite, f"batches/{batch_id}/") == []
    assert api.get(f"{url}/report", timeout=10).json()["error"]["code"] == "not_completed"
    again = api.delete(url, timeout=10)
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"


def test_cancelling_one_child_leaves_its_batch_running(
    gated: tuple[DevHost, StepGates]
) -> None:
    host, gates = gated
    gates.arm("memo", "ONEA")
    api = keyed(host)
    answer = submit_batch(host, {"tickers": ["ONEA", "ONEB"]})
    url = answer.json()["statusQueryGetUri"]
    wait_for(lambda: gates.entered("memo", "ONEA"))
    child = next(i for i in api.get(url, timeout=10).json()["items"] if i["ticker"] == "ONEA")
    child_url = f"{host.base_url}/api/analyses/{child['id']}"
    assert api.delete(child_url, timeout=10).status_code == 202
    gates.open("memo", "ONEA")

    batch = follow_batch(host, url)
    assert batch["status"] == "completed", batch
    statuses = {i["ticker"]: i["status"] for i in batch["items"]}
    assert statuses == {"ONEA": "cancelled", "ONEB": "completed"}
    report = api.get(batch["report_url"], timeout=10)
    assert report.status_code == 200 and "ONEA" in report.text


def test_a_batch_costs_its_childrens_calls_plus_one(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = app_folder(tmp_path, "StockMemoBatchLlm")
    with OpenAIStandIn(default=agents) as llm, pytest.MonkeyPatch.context() as patch:
        model = f"gpt-batch-{uuid.uuid4().hex[:8]}"  # no cached answers from other tests
        with app_settings(
            patch, azurite.connection_string, LLM_PROVIDER="openai",
            OPENAI_API_KEY=llm.api_key, OPENAI_BASE_URL=llm.openai_base_url, OPENAI_MODEL=model,
        ):
            with DevHost("function_app:app", root=root, port=0) as host:
                answer = submit_batch(host, {"tickers": ["LLMA", "LLMB", "LLMC"]})
                assert answer.status_code == 202, answer.text
                batch = follow_batch(host, answer.json()["statusQueryGetUri"])
                api = keyed(host)
                jobs = [
                    api.get(f"{host.base_url}/api/analyses/{i['id']}", timeout=10).json()
                    for i in batch["items"]
                ]
        calls = llm.calls
    assert batch["status"] == "completed", batch
    assert calls == 2 * 3 + 1
    assert all(job["grounding"] == "grounded" for job in jobs), jobs
    assert sum(job["usage"]["llm_calls"] for job in jobs) == 6
    container = BlobServiceClient.from_connection_string(
        azurite.connection_string).get_container_client(REPORTS_CONTAINER)
    stored = json.loads(
        container.download_blob(f"batches/{batch['id']}/comparison.json").readall()
    )
    assert stored["summary"]["grounding"] == "grounded"
    assert stored["summary"]["usage"]["llm_calls"] == 1
    assert batch["usage"] == stored["summary"]["usage"]
