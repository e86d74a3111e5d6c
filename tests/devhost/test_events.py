"""`continue_as_new` and external events on devhost, as the Durable extension runs them (sources
in `devhost.events` and `devhost.generations`): generations with fresh histories, waits raced
with timers, the management API's and the SDK client's answers, events carried to the next
generation."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.control import Board
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import Api, of_type, types, wait_until

APP = "tests.devhost.apps.events.function_app:app"


@pytest.fixture(scope="module")
def events_board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return Board(tmp_path_factory.mktemp("events-board"))


@pytest.fixture(scope="module")
def events_host(
    tmp_path_factory: pytest.TempPathFactory, azurite: Azurite, events_board: Board
) -> Iterator[DevHost]:
    root = app_root(tmp_path_factory.mktemp("events"), APPS / "events", {})
    with running_host(APP, root, azurite, events_board) as host:
        yield host


@pytest.fixture
def api(events_host: DevHost) -> Api:
    return Api(events_host.base_url)


def raise_url(links: dict[str, Any], name: str) -> str:
    return str(links["sendEventPostUri"]).replace("{eventName}", name)


def raise_event(links: dict[str, Any], name: str, data: Any) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    return requests.post(raise_url(links, name), data=json.dumps(data), headers=headers, timeout=30)


def raise_through_client(api: Api, instance_id: str, name: str, data: Any) -> str | None:
    answer = requests.post(f"{api.base_url}/api/raise/{instance_id}/{name}", json=data, timeout=30)
    assert answer.status_code == 200, answer.text
    raised: str | None = answer.json()["raised"]
    return raised


def test_five_generations_each_start_from_a_fresh_history(api: Api, events_board: Board) -> None:
    links = api.start("generations", {"gen": 0, "last": 4, "trail": []})
    instance_id = links["id"]
    for gen in range(5):

        def noted(gen: int = gen) -> dict[str, Any] | None:
            body: dict[str, Any] = api.status(
                links, showHistory="true", showHistoryOutput="true"
            ).json()
            done = of_type(body.get("historyEvents") or [], "TaskCompleted")
            return body if done and done[0]["Result"]["gen"] == gen else None

        status = wait_until(noted, what=f"generation {gen} to note its input")
        history = status["historyEvents"]
        # The status shows the latest generation only: its input (the SDK's JSON text, as the
        # extension shows a Python orchestrator's input), one start, one activity.
        assert status["runtimeStatus"] == "Running"
        carried = json.loads(status["input"])
        assert carried["gen"] == gen
        assert carried["trail"] == [f"{instance_id}:{n}" for n in range(gen)]
        assert types(history) == ["ExecutionStarted", "TaskCompleted"], history
        assert raise_event(links, "next", None).status_code == 202
    final = api.wait_done(links)
    assert final["runtimeStatus"] == "Completed"
    assert final["output"]["trail"] == [f"{instance_id}:{n}" for n in range(4)]
    assert types(final["historyEvents"]) == [
        "ExecutionStarted",
        "TaskCompleted",
        "EventRaised",
        "ExecutionCompleted",
    ]
    noted = [r["gen"] for r in events_board.records("note") if isinstance(r, dict)]
    assert noted == [0, 1, 2, 3, 4]  # each generation ran its activity once


def test_an_event_wakes_a_wait_raced_with_a_timer(api: Api) -> None:
    by_api = api.start("event_or_timer", 60)
    api.wait_status(by_api, lambda s: "TimerCreated" in types(s.get("historyEvents") or []))
    assert raise_event(by_api, "approve", {"by": "ann"}).status_code == 202
    done = api.wait_done(by_api)
    assert done["output"] == {"event": {"by": "ann"}}
    assert "TimerFired" not in types(done["historyEvents"])

    # The SDK's client sends json.dumps(data) as JSON: the orchestrator gets the JSON text.
    by_client = api.start("event_or_timer", 60)
    api.wait_status(by_client, lambda s: "TimerCreated" in types(s.get("historyEvents") or []))
    assert raise_through_client(api, by_client["id"], "approve", {"by": "bo"}) is None
    assert api.wait_done(by_client)["output"] == {"event": '{"by": "bo"}'}


def test_without_an_event_the_timer_wins(api: Api) -> None:
    done = api.wait_done(api.start("event_or_timer", 1))
    assert done["output"] == {"timeout": True}
    assert types(done["historyEvents"]).count("TimerFired") == 1


def test_events_of_one_name_are_delivered_in_the_order_raised(api: Api) -> None:
    links = api.start("collector", 3)
    for item in ("first", "second", "third"):
        assert raise_event(links, "item", item).status_code == 202
    assert api.wait_done(links)["output"] == ["first", "second", "third"]


def test_raising_to_unknown_and_finished_instances_answers_as_the_extension(api: Api) -> None:
    finished = api.start("event_or_timer", 0)
    api.wait_done(finished)
    unknown = {"sendEventPostUri": raise_url(finished, "x").replace(finished["id"], "nobody")}
    # HttpApiHandler.HandleRaiseEventRequestAsync: 404 unknown, 410 finished, no body.
    gone = raise_event(unknown, "x", 1)
    assert (gone.status_code, gone.content) == (404, b"")
    assert raise_event(finished, "approve", 1).status_code == 410
    # The SDK client turns them into bare Exceptions with these texts.
    assert raise_through_client(api, "nobody", "x", 1) == "No instance with ID nobody found."
    assert (
        raise_through_client(api, finished["id"], "approve", 1)
        == f"Instance with ID {finished['id']} is gone: either completed or failed"
    )
    # A running instance: JSON only.
    running = api.start("event_or_timer", 60)
    not_json = requests.post(
        raise_url(running, "approve"),
        data="yes",
        headers={"Content-Type": "text/plain"},
        timeout=10,
    )
    assert not_json.status_code == 400
    assert not_json.json() == {"Message": "Only application/json request content is supported"}
    bad_json = requests.post(
        raise_url(running, "approve"),
        data="{",
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert (bad_json.status_code, bad_json.json()["Message"]) == (400, "Invalid JSON content")
    assert requests.post(running["terminatePostUri"].replace("{text}", "x"), timeout=10).ok


def test_an_event_raised_just_before_continue_as_new_reaches_the_next_generation(
    api: Api, events_board: Board
) -> None:
    links = api.start("carrier", 0)
    wait_until(
        lambda: links["id"] in events_board.records("continuing"),
        what="generation 0 to stall before continue_as_new",
    )
    answers: list[int] = []
    raising = threading.Thread(
        target=lambda: answers.append(raise_event(links, "ping", {"n": 1}).status_code)
    )
    raising.start()  # answered once stored: here, by the next generation's first checkpoint
    time.sleep(0.5)
    assert not answers  # generation 0 has not continued yet: the raise waits to be stored
    events_board.open_gate("continue")
    raising.join(20)
    assert answers == [202]
    done = api.wait_done(links)
    assert done["runtimeStatus"] == "Completed"
    assert done["input"] == "1"
    assert done["output"] == {"n": 1}
    assert types(done["historyEvents"]) == ["ExecutionStarted", "EventRaised", "ExecutionCompleted"]
