"""Starting an instance with a chosen id: one conditional write when the id is free, refused
while an instance with that id runs (500 with OrchestrationAlreadyExistsException, as the
extension answers: HttpApiHandler catches only JSON errors in the start handler, 2.13.7 and
v3.x, L446-449), a finished one replaced, and never a 202 without a checkpoint."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from azure.core.exceptions import ServiceRequestError

from devhost.host import DevHost
from devhost.store import CheckpointStore
from tests.control import Board
from tests.devhost.helpers import Api

ALREADY_EXISTS = "DurableTask.Core.Exceptions.OrchestrationAlreadyExistsException"


def start(host: DevHost, name: str, instance_id: str, payload: Any = None) -> requests.Response:
    return requests.post(
        f"{host.webhook_base}/orchestrators/{name}/{instance_id}?code={host.system_key}",
        json=json.dumps(payload),  # JSON text in a JSON string, as the Python SDK sends it
        timeout=10,
    )


def test_a_running_id_is_refused_and_a_finished_one_is_replaced(
    basics_host: DevHost, board: Board
) -> None:
    api = Api(basics_host.base_url)
    first = start(basics_host, "waits_forever", "reuse-1")
    assert first.status_code == 202
    try:
        again = start(basics_host, "sequence", "reuse-1", ["x"])
        assert again.status_code == 500
        body = again.json()
        assert body["Message"] == "Something went wrong while processing your request"
        assert body["ExceptionType"] == ALREADY_EXISTS
        assert body["ExceptionMessage"] in {
            f"An Orchestration instance with the status {status} already exists."
            for status in ("Pending", "Running")
        }
    finally:
        board.open_gate("reuse-1")
    assert api.wait_done(first.json())["runtimeStatus"] == "Completed"

    replaced = start(basics_host, "sequence", "reuse-1", ["y"])
    assert replaced.status_code == 202
    done = api.wait_done(replaced.json())
    assert (done["name"], done["output"]) == ("sequence", ["Y"])


def test_racing_starts_of_one_new_id_make_one_instance(
    basics_host: DevHost, board: Board
) -> None:
    racers = 8
    barrier = threading.Barrier(racers)

    def one(_: int) -> requests.Response:
        barrier.wait()
        return start(basics_host, "waits_forever", "race-1")

    try:
        with ThreadPoolExecutor(racers) as pool:
            answers = list(pool.map(one, range(racers)))
    finally:
        board.open_gate("race-1")
    codes = sorted(a.status_code for a in answers)
    assert codes == [202] + [500] * (racers - 1)
    refused = [a.json()["ExceptionType"] for a in answers if a.status_code == 500]
    assert refused == [ALREADY_EXISTS] * (racers - 1)
    winner = next(a for a in answers if a.status_code == 202).json()
    done = Api(basics_host.base_url).wait_done(winner)
    assert done["output"] == "released"
    assert [e["EventType"] for e in done["historyEvents"]].count("ExecutionStarted") == 1


def test_a_start_whose_checkpoint_fails_answers_500_and_leaves_nothing(
    basics_host: DevHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def unreachable(store: CheckpointStore, summary: Any) -> None:
        raise ServiceRequestError("injected: the table service is unreachable")

    monkeypatch.setattr(CheckpointStore, "_write_row", unreachable)
    failed = start(basics_host, "sequence", "broken-1", ["b"])
    assert failed.status_code == 500
    assert "checkpoint" in failed.json()["Message"]
    monkeypatch.undo()

    status = requests.get(
        f"{basics_host.webhook_base}/instances/broken-1?code={basics_host.system_key}", timeout=10
    )
    assert status.status_code == 404  # the half-written blob was removed, nothing runs
    retried = start(basics_host, "sequence", "broken-1", ["b"])
    assert retried.status_code == 202  # and the id is free again
