"""Sub-orchestrations as the Durable extension runs them: children are instances of their own,
their ends reach the parent as SubOrchestrationInstanceCompleted/Failed, ids are generated as
DTFx does (`{parent execution id}:{sequence id}`), retries make new children, and replays that
change a child's name or id fail the parent (see `devhost.sub_orchestrations` for the sources).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.store import container_name
from tests.control import Board
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import Api, of_type, types, wait_until

APP = "tests.devhost.apps.suborch.function_app:app"
HUB = "DevhostSubOrch"


class Host:
    def __init__(self, api: Api, board: Board, azurite: Azurite) -> None:
        self.api = api
        self.board = board
        self.blobs = BlobServiceClient.from_connection_string(azurite.connection_string)

    def checkpoint(self, instance_id: str) -> dict[str, Any]:
        blob = self.blobs.get_blob_client(container_name(HUB), f"{instance_id}.json")
        document: dict[str, Any] = json.loads(blob.download_blob().readall())
        return document

    def links(self, instance_id: str, parent: dict[str, Any]) -> dict[str, Any]:
        """Management links of another instance, built like the parent's."""
        url = parent["statusQueryGetUri"].replace(
            f"/instances/{parent['id']}?",
            f"/instances/{requests.utils.quote(instance_id, safe='')}?",
        )
        return {"id": instance_id, "statusQueryGetUri": url}

    def wait_running(self, links: dict[str, Any]) -> dict[str, Any]:
        def running() -> dict[str, Any] | None:
            response = self.api.status(links)
            body: dict[str, Any] = response.json() if response.status_code == 202 else {}
            return body if body.get("runtimeStatus") == "Running" else None

        return wait_until(running, what=f"{links['id']} to run")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Host]:
    root: Path = app_root(tmp_path_factory.mktemp("suborch"), APPS / "suborch")
    board = Board(root / "board")
    with running_host(APP, root, azurite, board) as running:
        yield Host(Api(running.base_url), board, azurite)


def test_a_parent_keeps_at_most_three_children_running(host: Host) -> None:
    links = host.api.start("bounded_fan_out", {"count": 10, "limit": 3})
    status = host.api.wait_done(links)

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [n * 10 for n in range(10)]
    # The children's own start and end marks: never more than 3 between a start and its end.
    marks = host.board.records("marks")
    starts = {m["number"]: m["time"] for m in marks if m["at"] == "start"}
    ends = {m["number"]: m["time"] for m in marks if m["at"] == "end"}
    assert sorted(starts) == sorted(ends) == list(range(10))
    moments = sorted([(t, 1) for t in starts.values()] + [(t, -1) for t in ends.values()])
    running = peak = 0
    for _, step in moments:
        running += step
        peak = max(peak, running)
    assert peak == 3, moments
    history = status["historyEvents"]
    done = of_type(history, "SubOrchestrationInstanceCompleted")
    assert len(done) == 10
    assert {e["FunctionName"] for e in done} == {"timed_child"}


def test_a_failing_child_is_caught_by_its_parent(host: Host) -> None:
    status = host.api.wait_done(host.api.start("catching_parent", "the pie"))

    assert status["runtimeStatus"] == "Completed", status["output"]
    caught = status["output"]["caught"]
    assert "Orchestrator function 'failing_child' failed: child gave up on the pie" in caught
    failed = of_type(status["historyEvents"], "SubOrchestrationInstanceFailed")
    assert len(failed) == 1
    assert failed[0]["FunctionName"] == "failing_child"
    assert failed[0]["Reason"].startswith("Orchestrator function 'failing_child' failed: ")


def test_a_child_retried_after_a_failure_gives_its_result(host: Host) -> None:
    links = host.api.start("retrying_parent")
    status = host.api.wait_done(links)

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == "ok on attempt 2"
    execution = host.checkpoint(links["id"])["executionId"]
    attempts = host.board.records("attempts")
    # Attempt 1 is sequence id 0, its retry timer 1, attempt 2 id 2: a new child each time,
    # named `{parent execution id}:{sequence id}` as DTFx names them.
    assert attempts == [
        {"id": f"{execution}:0", "parent": links["id"]},
        {"id": f"{execution}:2", "parent": links["id"]},
    ]
    assert types(status["historyEvents"]) == [
        "ExecutionStarted",
        "SubOrchestrationInstanceFailed",
        "TimerCreated",
        "TimerFired",
        "SubOrchestrationInstanceCompleted",
        "ExecutionCompleted",
    ]
    first = host.api.status(host.links(f"{execution}:0", links)).json()
    assert first["runtimeStatus"] == "Failed"
    assert host.api.status(host.links(f"{execution}:2", links)).json()["output"] == (
        "ok on attempt 2"
    )


def test_children_are_instances_of_their_own(host: Host) -> None:
    host.board.put("gated", [1])
    links = host.api.start("gathering_parent", ["named-kid", None])
    execution_id = wait_until(lambda: host.checkpoint(links["id"]).get("executionId"))
    generated = f"{execution_id}:1"  # the second child, sequence id 1
    named, unnamed = host.links("named-kid", links), host.links(generated, links)

    running = host.wait_running(unnamed)
    assert (running["name"], running["input"]) == ("gated_child", "1")
    created = of_type(
        host.api.wait_status(links, lambda s: len(s.get("historyEvents", [])) >= 3)[
            "historyEvents"
        ],
        "SubOrchestrationInstanceCreated",
    )
    assert [(e["Name"], e["InstanceId"]) for e in created] == [
        ("gated_child", "named-kid"),
        ("gated_child", generated),
    ]
    host.board.open_gate("release-1")
    status = host.api.wait_done(links)

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [0, 100]
    assert types(status["historyEvents"]).count("SubOrchestrationInstanceCompleted") == 2
    child = host.api.wait_done(named)
    assert (child["name"], child["output"], child["input"]) == ("gated_child", 0, "0")
    assert types(child["historyEvents"]) == [
        "ExecutionStarted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert host.checkpoint(generated)["parent"] == {
        "Name": "gathering_parent",
        "Version": "",
        "TaskScheduleId": 1,
        "OrchestrationInstance": {"InstanceId": links["id"], "ExecutionId": execution_id},
    }
    assert host.api.http.delete(named["statusQueryGetUri"], timeout=10).json() == {
        "instancesDeleted": 1
    }
    assert host.api.status(named).status_code == 404


def test_a_terminated_child_fails_its_parent_task_with_the_reason(host: Host) -> None:
    host.board.put("gated", [7])
    links = host.api.start("tolerant_parent", "doomed-kid")
    child = host.links("doomed-kid", links)
    host.wait_running(child)
    terminate = child["statusQueryGetUri"].replace("?", "/terminate?reason=enough&", 1)
    assert host.api.http.post(terminate, timeout=10).status_code == 202
    status = host.api.wait_done(links)
    host.board.open_gate("release-7")

    assert status["runtimeStatus"] == "Completed", status["output"]
    # DTFx sends Failed for a terminated child, the reason as its Reason, no details.
    assert status["output"] == {"caught": "enough \n None"}
    failed = of_type(status["historyEvents"], "SubOrchestrationInstanceFailed")
    assert [(e["FunctionName"], e["Reason"]) for e in failed] == [("gated_child", "enough")]
    assert host.api.status(child).json()["runtimeStatus"] == "Terminated"


def test_a_child_started_under_a_running_instance_id_replaces_it(host: Host) -> None:
    host.board.put("gated", [0, 3])
    holder = host.api.start("gated_child", 3, "taken-kid")
    host.wait_running(holder)
    wait_until(lambda: host.board.count("ran-3") == 1, what="the holder's activity")

    links = host.api.start("tolerant_parent", "taken-kid")
    host.board.open_gate("release-3")  # the old execution's activity ends: dropped
    host.board.open_gate("release-0")
    status = host.api.wait_done(links)

    # As on Azure Storage: the new execution overwrote the running one, which never finishes.
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == 700
    taken = host.api.wait_done(holder)
    assert (taken["input"], taken["output"]) == ("7", 700)
    assert types(taken["historyEvents"]).count("ExecutionStarted") == 1


@pytest.mark.parametrize(
    ("parent", "recorded", "replayed"),
    [
        (
            "drifting_name",
            "CallSubOrchestrator 'echo_child' (instance id generated)",
            "CallSubOrchestrator 'other_child' (instance id generated)",
        ),
        (
            "drifting_id",
            "CallSubOrchestrator 'echo_child' (instance id {id}-kid-1)",
            "CallSubOrchestrator 'echo_child' (instance id {id}-kid-2)",
        ),
    ],
)
def test_a_replay_that_changes_a_child_fails_the_parent(
    host: Host, parent: str, recorded: str, replayed: str
) -> None:
    links = host.api.start(parent)
    status = host.api.wait_done(links)

    assert status["runtimeStatus"] == "Failed"
    recorded, replayed = (text.format(id=links["id"]) for text in (recorded, replayed))
    assert status["output"] == (
        f"Orchestrator function '{parent}' failed: Non-deterministic orchestrator: action #1 was "
        f'{recorded} with input "x" in history, replay produced {replayed} with input "x"'
    )
    assert types(status["historyEvents"]) == [
        "ExecutionStarted",
        "SubOrchestrationInstanceCompleted",
        "ExecutionCompleted",
    ]


def test_a_child_under_its_parents_id_is_refused(host: Host) -> None:
    links = host.api.start("self_named_child")
    status = host.api.wait_done(links)

    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == (
        "Orchestrator function 'self_named_child' failed: The instance ID of a sub-orchestration "
        "must be different than the instance ID of a parent orchestration. (action #1)"
    )
    assert types(status["historyEvents"]) == ["ExecutionStarted", "ExecutionCompleted"]
