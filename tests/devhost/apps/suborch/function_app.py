"""Parents and children for the sub-orchestration tests.

Children report what they did through activities that write to a `tests.control.Board`, so
the tests see the children's own start and end times and count side effects. The same file is
served by `python -m devhost serve` in the kill-and-restart test.
"""

from __future__ import annotations

import json
import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from tests.control import Board

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

GATE_SECONDS = 60.0


def board() -> Board:
    return Board.from_environment()


@app.route(route="start/{name}/{instance_id?}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"],
        req.route_params.get("instance_id"),
        json.loads(body) if body else None,
    )
    return client.create_check_status_response(req, instance_id)


# ---- parents ---------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def bounded_fan_out(context: df.DurableOrchestrationContext) -> Any:
    """`count` children, never more than `limit` at once: a new one starts when one ends."""
    settings = context.get_input()
    in_flight: list[Any] = []
    results = []
    for number in range(settings["count"]):
        if len(in_flight) == settings["limit"]:
            done = yield context.task_any(in_flight)
            in_flight.remove(done)
            results.append(done.result)
        in_flight.append(context.call_sub_orchestrator("timed_child", number))
    while in_flight:
        done = yield context.task_any(in_flight)
        in_flight.remove(done)
        results.append(done.result)
    return sorted(results)


@app.orchestration_trigger(context_name="context")
def catching_parent(context: df.DurableOrchestrationContext) -> Any:
    try:
        yield context.call_sub_orchestrator("failing_child", context.get_input())
    except Exception as error:
        return {"caught": str(error)}
    return {"caught": None}


@app.orchestration_trigger(context_name="context")
def retrying_parent(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(100, 3)
    return (yield context.call_sub_orchestrator_with_retry("flaky_child", options, "x"))


@app.orchestration_trigger(context_name="context")
def gathering_parent(context: df.DurableOrchestrationContext) -> Any:
    """Children under ids of the caller's choosing (None: generated), all at once."""
    ids = context.get_input()
    tasks = [
        context.call_sub_orchestrator("gated_child", number, child_id)
        for number, child_id in enumerate(ids)
    ]
    return (yield context.task_all(tasks))


@app.orchestration_trigger(context_name="context")
def tolerant_parent(context: df.DurableOrchestrationContext) -> Any:
    """One gated child; its failure (or termination) becomes the output."""
    try:
        return (yield context.call_sub_orchestrator("gated_child", 7, context.get_input()))
    except Exception as error:
        return {"caught": str(error)}


@app.orchestration_trigger(context_name="context")
def self_named_child(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_sub_orchestrator("echo_child", "x", context.instance_id))


@app.orchestration_trigger(context_name="context")
def drifting_name(context: df.DurableOrchestrationContext) -> Any:
    # Non-deterministic on purpose: the name changes between replays.
    first = board().increment(f"drift-{context.instance_id}") == 1
    yield context.call_sub_orchestrator("echo_child" if first else "other_child", "x")
    return (yield context.call_activity("echo", "after"))


@app.orchestration_trigger(context_name="context")
def drifting_id(context: df.DurableOrchestrationContext) -> Any:
    # Non-deterministic on purpose: the child's instance id changes between replays.
    replay = board().increment(f"drift-{context.instance_id}")
    yield context.call_sub_orchestrator("echo_child", "x", f"{context.instance_id}-kid-{replay}")
    return (yield context.call_activity("echo", "after"))


# ---- children --------------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def timed_child(context: df.DurableOrchestrationContext) -> Any:
    number = context.get_input()
    yield context.call_activity("mark", {"number": number, "at": "start"})
    yield context.call_activity("pause", 0.4)
    yield context.call_activity("mark", {"number": number, "at": "end"})
    return number * 10


@app.orchestration_trigger(context_name="context")
def failing_child(context: df.DurableOrchestrationContext) -> Any:
    said = yield context.call_activity("echo", context.get_input())
    raise ValueError(f"child gave up on {said}")


@app.orchestration_trigger(context_name="context")
def flaky_child(context: df.DurableOrchestrationContext) -> Any:
    attempt = yield context.call_activity(
        "attempt", {"id": context.instance_id, "parent": context.parent_instance_id}
    )
    if attempt == 1:
        raise ValueError("attempt 1 fails")
    return f"ok on attempt {attempt}"


@app.orchestration_trigger(context_name="context")
def gated_child(context: df.DurableOrchestrationContext) -> Any:
    number = context.get_input()
    return (yield context.call_activity("gated_work", number))


@app.orchestration_trigger(context_name="context")
def echo_child(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("echo", context.get_input()))


@app.orchestration_trigger(context_name="context")
def other_child(context: df.DurableOrchestrationContext) -> Any:
    return (yield context.call_activity("echo", "other"))


# ---- activities ------------------------------------------------------------------------------


@app.activity_trigger(input_name="mark")
def mark(mark: dict) -> float:
    moment = time.time()
    board().record("marks", {**mark, "time": moment})
    return moment


@app.activity_trigger(input_name="seconds")
def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@app.activity_trigger(input_name="value")
def echo(value: str) -> str:
    return value


@app.activity_trigger(input_name="who")
def attempt(who: dict) -> int:
    control = board()
    control.record("attempts", who)
    return control.increment("flaky-attempts")


@app.activity_trigger(input_name="number")
def gated_work(number: int) -> int:
    """Numbers listed under `gated` wait for the gate `release-<number>`; runs are counted."""
    control = board()
    control.increment(f"ran-{number}")
    if number in (control.get("gated") or []) and not control.wait_gate(
        f"release-{number}", GATE_SECONDS
    ):
        raise TimeoutError(f"gate release-{number} never opened")
    control.increment(f"finished-{number}")
    return number * 100
