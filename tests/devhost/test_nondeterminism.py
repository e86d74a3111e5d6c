"""A replay that schedules different work than its history fails the instance, naming the action."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import Api, of_type, types

CLOCKS = "tests.devhost.apps.nondeterministic.function_app:app"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, azurite: Azurite) -> Iterator[Api]:
    root: Path = app_root(tmp_path_factory.mktemp("clocks"), APPS / "nondeterministic")
    host: DevHost
    with running_host(CLOCKS, root, azurite) as host:
        yield Api(host.base_url)


def test_a_clock_read_in_an_activity_input_is_caught(api: Api) -> None:
    status = api.wait_done(api.start("clock_in_input"))

    assert status["runtimeStatus"] == "Failed"
    history = status["historyEvents"]
    assert types(history) == ["ExecutionStarted", "TaskCompleted", "ExecutionCompleted"]
    recorded = of_type(history, "TaskCompleted")[0]["Result"]  # echo returns its input
    message = status["output"]
    prefix = "Orchestrator function 'clock_in_input' failed: Non-deterministic orchestrator: "
    assert message.startswith(prefix + "action #1 was CallActivity 'echo' with input ")
    assert f"with input {json.dumps(recorded)} in history, replay produced " in message
    replayed = message.split("replay produced CallActivity 'echo' with input ", 1)[1]
    assert json.loads(replayed) != recorded  # the replay read a later clock
    assert history[-1]["OrchestrationStatus"] == "Failed"
    assert history[-1]["Result"] == message


def test_a_clock_read_in_a_timer_is_caught(api: Api) -> None:
    status = api.wait_done(api.start("clock_in_timer"))

    assert status["runtimeStatus"] == "Failed"
    history = status["historyEvents"]
    assert types(history) == [
        "ExecutionStarted",
        "TimerCreated",
        "TimerFired",
        "ExecutionCompleted",
    ]
    fire_at = of_type(history, "TimerCreated")[0]["FireAt"]
    assert (
        f"Non-deterministic orchestrator: action #1 was CreateTimer firing at {fire_at} in "
        "history, replay produced CreateTimer firing at "
    ) in status["output"]
    assert not status["output"].endswith(fire_at)


def test_the_replay_safe_clock_is_not_flagged(api: Api) -> None:
    status = api.wait_done(api.start("replay_safe_clock"))

    assert status["runtimeStatus"] == "Completed", status["output"]
    first, second = status["output"]
    assert second == "second"
    assert types(status["historyEvents"]).count("TaskCompleted") == 2
    assert of_type(status["historyEvents"], "TaskCompleted")[0]["Result"] == first
