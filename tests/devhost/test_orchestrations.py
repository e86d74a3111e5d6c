"""Orchestrations run through the host: each test checks the result and the recorded history."""

from __future__ import annotations

import json
import time
from datetime import datetime

from devhost.host import DevHost
from tests.control import Board
from tests.devhost.apps.basics.function_app import FAN_OUT
from tests.devhost.helpers import Api, of_type, types, wait_until


def most_at_once(runs: list[dict[str, float]]) -> int:
    return max(sum(1 for r in runs if r["started"] <= s["started"] < r["ended"]) for s in runs)


def test_sequential_activities_run_one_after_another(api: Api) -> None:
    links = api.start("sequence", ["a", "b", "c"])
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == ["A", "B", "C"]
    history = status["historyEvents"]
    assert types(history) == ["ExecutionStarted"] + ["TaskCompleted"] * 3 + ["ExecutionCompleted"]
    done = of_type(history, "TaskCompleted")
    assert [e["FunctionName"] for e in done] == ["shout"] * 3
    assert [e["Result"] for e in done] == ["A", "B", "C"]
    for previous, following in zip(done, done[1:], strict=False):
        assert following["ScheduledTime"] >= previous["Timestamp"]  # scheduled after the last
    assert history[-1]["OrchestrationStatus"] == "Completed"
    assert history[-1]["Result"] == ["A", "B", "C"]


def test_fan_out_runs_its_activities_at_the_same_time(api: Api) -> None:
    links = api.start("fan_out")
    status = api.wait_done(links)

    # The activities meet at a barrier that only opens when all of them wait at once.
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == list(range(FAN_OUT))
    done = of_type(status["historyEvents"], "TaskCompleted")
    assert sorted(e["Result"] for e in done) == list(range(FAN_OUT))
    assert {e["FunctionName"] for e in done} == {"meet"}
    assert len({e["ScheduledTime"] for e in done}) == 1  # all scheduled by one episode


def test_activity_concurrency_is_capped_by_host_json(api: Api, board: Board) -> None:
    links = api.start("fan_out_wide", 12)
    status = api.wait_done(links)

    assert status["output"] == list(range(12))
    assert len(of_type(status["historyEvents"], "TaskCompleted")) == 12
    runs = board.records(f"busy-{links['id']}")
    assert len(runs) == 12
    assert most_at_once(runs) == FAN_OUT  # maxConcurrentActivityFunctions = 4



def test_retry_succeeds_on_the_third_attempt(api: Api, board: Board) -> None:
    links = api.start("retrying", {"max_attempts": 5, "fail_times": 2})
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == {"attempts": 3}
    assert board.count(f"attempts-{links['id']}") == 3
    history = status["historyEvents"]
    assert types(history) == [
        "ExecutionStarted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    failures = of_type(history, "TaskFailed")
    assert "E_FLAKY: attempt 1 failed" in failures[0]["Reason"]
    assert "E_FLAKY: attempt 2 failed" in failures[1]["Reason"]
    created, fired = of_type(history, "TimerCreated"), of_type(history, "TimerFired")
    assert [t["FireAt"] for t in created] == [t["FireAt"] for t in fired]
    assert of_type(history, "TaskCompleted")[0]["Result"] == {"attempts": 3}


def test_retry_exhausted_fails_the_orchestration(api: Api, board: Board) -> None:
    links = api.start("retrying", {"max_attempts": 2, "fail_times": 10})
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Failed"
    assert status["output"].startswith("Orchestrator function 'retrying' failed:")
    assert "E_FLAKY: attempt 2 failed" in status["output"]
    assert board.count(f"attempts-{links['id']}") == 2
    # As the SDK counts retries: one more timer fires after the last attempt before the error.
    assert types(status["historyEvents"]) == [
        "ExecutionStarted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "ExecutionCompleted",
    ]
    assert status["historyEvents"][-1]["OrchestrationStatus"] == "Failed"


def test_a_caught_activity_failure_reaches_the_orchestrator(api: Api) -> None:
    links = api.start("caught_failure")
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Completed"
    caught = status["output"]["caught"]
    assert "Activity function 'explode' failed:  ValueError: E_BAD_INPUT: the activity refused" in (
        caught
    )
    assert status["output"]["then"] == "RECOVERED"
    history = status["historyEvents"]
    assert types(history) == [
        "ExecutionStarted",
        "TaskFailed",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    failed = of_type(history, "TaskFailed")[0]
    assert failed["FunctionName"] == "explode"
    assert "E_BAD_INPUT" in failed["Reason"]
    # Details: the extension's wrapping exception, the worker's RpcException (with the Python
    # traceback) inside it.
    details = json.loads(failed["Details"])
    assert details["Message"] == " ValueError: E_BAD_INPUT: the activity refused"
    inner = details["InnerException"]["Message"]
    assert inner.startswith("Result: Failure\nException: ValueError: E_BAD_INPUT")
    assert 'in explode\n    raise ValueError(f"{code}: the activity refused")' in inner


def test_a_timer_delays_the_orchestration(api: Api) -> None:
    began = time.monotonic()
    links = api.start("sleeper", 0.5)
    status = api.wait_done(links)

    assert time.monotonic() - began >= 0.5
    assert status["runtimeStatus"] == "Completed"
    started = datetime.fromisoformat(status["output"]["started"])
    woke = datetime.fromisoformat(status["output"]["woke"])
    assert (woke - started).total_seconds() >= 0.5
    history = status["historyEvents"]
    assert types(history) == [
        "ExecutionStarted",
        "TimerCreated",
        "TimerFired",
        "ExecutionCompleted",
    ]
    created, fired = of_type(history, "TimerCreated")[0], of_type(history, "TimerFired")[0]
    assert fired["FireAt"] == created["FireAt"]
    assert fired["Timestamp"] >= created["FireAt"]


def test_a_cancelled_timer_neither_fires_nor_keeps_the_instance_alive(api: Api) -> None:
    began = time.monotonic()
    links = api.start("cancelled_timer")
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == "FAST"
    assert time.monotonic() - began < 30  # the cancelled 60 s deadline did not hold it open
    history = status["historyEvents"]
    short, long, wait = of_type(history, "TimerCreated")
    fired = of_type(history, "TimerFired")
    # The 0.8 s deadline was cancelled; only the 1.4 s wait fired, after the deadline's time.
    assert [t["FireAt"] for t in fired] == [wait["FireAt"]]
    assert short["FireAt"] < wait["FireAt"] < long["FireAt"]


def test_custom_status_is_visible_while_running(api: Api, board: Board) -> None:
    links = api.start("with_status")
    running = api.wait_status(links, lambda s: s["customStatus"] is not None)
    assert running["runtimeStatus"] == "Running"
    assert running["customStatus"] == {"stage": "waiting", "key": links["id"]}

    board.open_gate(links["id"])
    status = api.wait_done(links)
    assert status["runtimeStatus"] == "Completed"
    assert status["customStatus"] == {"stage": "done"}
    assert status["output"] == f"released {links['id']}"
    assert of_type(status["historyEvents"], "TaskCompleted")[0]["FunctionName"] == "wait_gate"


def test_terminate_ends_the_instance_and_ignores_a_late_completion(
    board: Board, api: Api, basics_host: DevHost
) -> None:
    links = api.start("waits_forever")
    api.wait_status(links, lambda s: "TaskScheduled" in types(s.get("historyEvents") or []))
    dropped = basics_host.stats()["late_completions_dropped"]

    response = api.http.post(f"{api.base_url}/api/terminate/{links['id']}?reason=enough")
    assert response.status_code == 202
    status = api.wait_done(links)
    assert status["runtimeStatus"] == "Terminated"
    assert status["output"] == "enough"
    before = status["historyEvents"]
    assert types(before)[-2:] == ["ExecutionTerminated", "ExecutionCompleted"]
    assert before[-1]["OrchestrationStatus"] == "Terminated"

    board.open_gate(links["id"])  # the activity now completes, after the end
    wait_until(lambda: board.get(f"finished-{links['id']}"), 10)
    wait_until(lambda: basics_host.stats()["late_completions_dropped"] > dropped)
    after = api.wait_done(links)
    assert after["runtimeStatus"] == "Terminated"
    assert after["historyEvents"] == before
    assert "TaskCompleted" not in types(after["historyEvents"])


def test_output_and_input_cross_the_host_as_json(api: Api) -> None:
    payload = {"nested": {"k": [1, 2]}, "text": "ok"}
    links = api.start("structured_output", payload)
    status = api.wait_done(links)

    assert status["runtimeStatus"] == "Completed"
    assert status["output"] == {
        "echo": payload,
        "values": [1, 2.5, None, True, "ünïcode"],
        "greeting": "hello from local.settings.json",
        "instance": links["id"],
    }
    # The Python SDK posts the input JSON-encoded twice, so the host reports it as JSON text.
    assert isinstance(status["input"], str)
    assert json.loads(status["input"]) == payload
    assert status["historyEvents"][-1]["Result"] == status["output"]

    seen = api.http.get(f"{api.base_url}/api/status/{links['id']}").json()  # via the client
    assert seen["output"] == status["output"]
    assert json.loads(seen["input"]) == payload
    assert types(seen["historyEvents"]) == types(status["historyEvents"])


def test_retries_completing_alongside_other_work_keep_sequence_ids_in_step(api: Api) -> None:
    width = 12
    runs = [api.start("retry_fan_out", width) for _ in range(6)]
    for links in runs:
        status = api.wait_done(links, timeout=40)
        assert status["runtimeStatus"] == "Completed", status["output"]
        expected = [{"attempts": i % 3 + 1} if i % 2 else f"W{i}".upper() for i in range(width)]
        assert status["output"] == {"results": expected, "last": {"attempts": 2}}
        history = status["historyEvents"]
        failures = sum(i % 3 for i in range(width) if i % 2) + 1
        assert len(of_type(history, "TaskFailed")) == failures
        assert len(of_type(history, "TimerFired")) == failures  # the 30 s race timer never did
        assert len(of_type(history, "TaskCompleted")) == width + 1


def test_retry_ids_stay_in_step_when_new_work_is_scheduled_in_the_same_episode(
    api: Api,
) -> None:
    spawn = 15
    runs = [api.start("retry_interleaved", spawn) for _ in range(6)]
    for links in runs:
        status = api.wait_done(links, timeout=40)
        assert status["runtimeStatus"] == "Completed", status["output"]
        assert status["output"]["retried"] == [{"attempts": 4}] * 3
        expected = sorted(["S0", "T0"] + [f"S{i}" for i in range(1, spawn + 1)])
        assert status["output"]["plain"] == expected
        history = status["historyEvents"]
        assert len(of_type(history, "TaskFailed")) == 9
        assert len(of_type(history, "TimerFired")) == 9
        assert len(of_type(history, "TaskCompleted")) == 3 + 2 + spawn
