"""A test app with one orchestrator per host feature, started through generic routes.

It runs in the host's language-worker processes; the tests steer and observe its activities
(gates, attempt counters, a barrier, who ran when) through a `tests.control.Board`.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from tests.control import Board

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

FAN_OUT = 4  # equals maxConcurrentActivityFunctions in host.json
BARRIER_SECONDS = 10.0
GATE_TIMEOUT = 30.0


def board() -> Board:
    return Board.from_environment()


def caller_modules() -> dict[str, Any]:
    """Who called this function: the modules on the stack, and the process."""
    names = [frame.frame.f_globals.get("__name__", "?") for frame in inspect.stack()]
    return {"pid": os.getpid(), "modules": sorted(set(names))}


# ---- HTTP: the durable client binding in use ------------------------------------------------


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


@app.route(route="status/{instance_id}", methods=["GET"])
@app.durable_client_input(client_name="client")
async def status(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    found = await client.get_status(
        req.route_params["instance_id"], show_history=True, show_history_output=True
    )
    if not found:
        return func.HttpResponse(status_code=404)
    body = {
        "runtimeStatus": found.runtime_status.value if found.runtime_status else None,
        "input": found.input_,
        "output": found.output,
        "customStatus": found.custom_status,
        "historyEvents": getattr(found, "historyEvents", None),
    }
    return func.HttpResponse(json.dumps(body), mimetype="application/json")


@app.route(route="terminate/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def terminate(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    await client.terminate(req.route_params["instance_id"], req.params.get("reason", "stopped"))
    return func.HttpResponse(status_code=202)


@app.route(route="purge/{instance_id}", methods=["DELETE"])
@app.durable_client_input(client_name="client")
async def purge(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    result = await client.purge_instance_history(req.route_params["instance_id"])
    return func.HttpResponse(json.dumps({"deleted": result.instances_deleted}))


@app.route(route="hello/{name}", methods=["GET"])
def hello(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"hello {req.route_params['name']}")


@app.route(route="hello/world", methods=["GET"])
def hello_world(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("the literal route", headers={"X-Route": "literal"})


@app.route(route="echo", methods=["POST", "PUT"])
async def echo(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    body = {
        "function": context.function_name,
        "method": req.method,
        "params": dict(req.params),
        "header": req.headers.get("x-probe"),
        "headers": dict(req.headers),
        "body": req.get_body().decode(),
    }
    return func.HttpResponse(json.dumps(body), status_code=201, mimetype="application/json")


@app.route(route="stack", methods=["GET"])
def http_stack(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(caller_modules()), mimetype="application/json")


@app.route(route="nothing", methods=["GET"])
def nothing(req: func.HttpRequest):  # type: ignore[no-untyped-def] - the runtime refuses "-> None" on an http output
    return None


# ---- orchestrators ---------------------------------------------------------------------------


@app.orchestration_trigger(context_name="context")
def sequence(context: df.DurableOrchestrationContext) -> Any:
    results = []
    for word in context.get_input():
        results.append((yield context.call_activity("shout", word)))
    return results


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    tasks = [context.call_activity("meet", [context.instance_id, i]) for i in range(FAN_OUT)]
    return (yield context.task_all(tasks))


@app.orchestration_trigger(context_name="context")
def fan_out_wide(context: df.DurableOrchestrationContext) -> Any:
    width = context.get_input()
    tasks = [context.call_activity("busy", [context.instance_id, i]) for i in range(width)]
    return (yield context.task_all(tasks))


@app.orchestration_trigger(context_name="context")
def retrying(context: df.DurableOrchestrationContext) -> Any:
    settings = context.get_input()
    options = df.RetryOptions(50, settings["max_attempts"])
    payload = {"key": context.instance_id, "fail_times": settings["fail_times"]}
    return (yield context.call_activity_with_retry("flaky", options, payload))


@app.orchestration_trigger(context_name="context")
def slow_retry(context: df.DurableOrchestrationContext) -> Any:
    options = df.RetryOptions(1500, 3)
    payload = {"key": context.instance_id, "fail_times": 1}
    first = yield context.call_activity_with_retry("flaky", options, payload)
    then = yield context.call_activity("shout", "after")
    return [first, then]


@app.orchestration_trigger(context_name="context")
def retry_fan_out(context: df.DurableOrchestrationContext) -> Any:
    """Retried and plain activities completing together, then one more step: the sequence ids
    the host gives retries must match the SDK's or this never finishes."""
    width = context.get_input()
    options = df.RetryOptions(20, 4)
    tasks = []
    for i in range(width):
        if i % 2:
            payload = {"key": f"{context.instance_id}-{i}", "fail_times": i % 3}
            tasks.append(context.call_activity_with_retry("flaky", options, payload))
        else:
            tasks.append(context.call_activity("shout", f"w{i}"))
    results = yield context.task_all(tasks)
    first = yield context.task_any(
        [
            context.call_activity_with_retry(
                "flaky", options, {"key": f"{context.instance_id}-last", "fail_times": 1}
            ),
            context.create_timer(context.current_utc_datetime + timedelta(seconds=30)),
        ]
    )
    return {"results": results, "last": first.result}


@app.orchestration_trigger(context_name="context")
def retry_interleaved(context: df.DurableOrchestrationContext) -> Any:
    """Each plain completion schedules new work while retried activities fail next to it: the
    episodes that carry both are where the host's retry ids could drift from the SDK's."""
    options = df.RetryOptions(20, 5)
    retried = [
        context.call_activity_with_retry(
            "flaky", options, {"key": f"{context.instance_id}-{k}", "fail_times": 3}
        )
        for k in range(3)
    ]
    pending = [*retried, context.call_activity("shout", "s0"), context.call_activity("shout", "t0")]
    spawned, plain = 0, []
    while pending:
        winner = yield context.task_any(pending)
        pending.remove(winner)
        if winner not in retried:
            plain.append(winner.result)
            if spawned < context.get_input():
                spawned += 1
                pending.append(context.call_activity("shout", f"s{spawned}"))
    return {"retried": [t.result for t in retried], "plain": sorted(plain)}


@app.orchestration_trigger(context_name="context")
def caught_failure(context: df.DurableOrchestrationContext) -> Any:
    try:
        yield context.call_activity("explode", "E_BAD_INPUT")
    except Exception as error:  # noqa: BLE001 - the point of the test
        recovered = yield context.call_activity("shout", "recovered")
        return {"caught": str(error), "then": recovered}
    return "no error reached the orchestrator"


@app.orchestration_trigger(context_name="context")
def orchestrator_raises(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("shout", "before")
    raise ValueError("E_ORCH: the orchestrator gave up")


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Any:
    start = context.current_utc_datetime
    fire_at = start + timedelta(seconds=context.get_input())
    yield context.create_timer(fire_at)
    return {"started": start.isoformat(), "woke": context.current_utc_datetime.isoformat()}


@app.orchestration_trigger(context_name="context")
def cancelled_timer(context: df.DurableOrchestrationContext) -> Any:
    """Race two deadlines against fast work, cancel both, then wait past the first one."""
    start = context.current_utc_datetime
    short = context.create_timer(start + timedelta(seconds=0.8))
    long = context.create_timer(start + timedelta(seconds=60))
    work = context.call_activity("shout", "fast")
    winner = yield context.task_any([work, short, long])
    if winner is not work:
        return "a deadline won"
    short.cancel()
    long.cancel()
    yield context.create_timer(start + timedelta(seconds=1.4))
    return work.result


@app.orchestration_trigger(context_name="context")
def with_status(context: df.DurableOrchestrationContext) -> Any:
    context.set_custom_status({"stage": "waiting", "key": context.instance_id})
    released = yield context.call_activity("wait_gate", context.instance_id)
    context.set_custom_status({"stage": "done"})
    return released


@app.orchestration_trigger(context_name="context")
def waits_forever(context: df.DurableOrchestrationContext) -> Any:
    yield context.call_activity("wait_gate", context.instance_id)
    return "released"


@app.orchestration_trigger(context_name="context")
def structured_output(context: df.DurableOrchestrationContext) -> Any:
    greeting = yield context.call_activity("greeting", None)
    return {
        "echo": context.get_input(),
        "values": [1, 2.5, None, True, "ünïcode"],
        "greeting": greeting,
        "instance": context.instance_id,
    }


@app.orchestration_trigger(context_name="context")
def stacks(context: df.DurableOrchestrationContext) -> Any:
    activity = yield context.call_activity("activity_stack", None)
    return {"orchestrator": caller_modules(), "activity": activity}


@app.orchestration_trigger(context_name="context")
def replay_flags(context: df.DurableOrchestrationContext) -> Any:
    """`is_replaying` before each step: the last episode replays the first two."""
    flags = [context.is_replaying]
    yield context.call_activity("shout", "one")
    flags.append(context.is_replaying)
    yield context.call_activity("shout", "two")
    flags.append(context.is_replaying)
    return flags


@app.orchestration_trigger(context_name="context")
def long_sleeper(context: df.DurableOrchestrationContext) -> Any:
    """A timer further out than the Azure Storage provider's 6-day limit."""
    yield context.create_timer(context.current_utc_datetime + timedelta(days=context.get_input()))
    return "woke"


# ---- activities ------------------------------------------------------------------------------


@app.activity_trigger(input_name="unused")
def activity_stack(unused: str) -> dict:
    return caller_modules()



@app.activity_trigger(input_name="word")
def shout(word: str) -> str:
    return word.upper()


@app.activity_trigger(input_name="call")
def meet(call: list) -> int:
    key, index = call
    # Releases only when FAN_OUT activities run at the same time.
    board().barrier(key, FAN_OUT, BARRIER_SECONDS)
    return int(index)


@app.activity_trigger(input_name="call")
def busy(call: list) -> int:
    key, index = call
    started = time.time()
    time.sleep(0.1)
    board().record(f"busy-{key}", {"started": started, "ended": time.time()})
    return int(index)


@app.activity_trigger(input_name="payload")
def flaky(payload: dict) -> dict:
    count = board().increment(f"attempts-{payload['key']}")
    if count <= payload["fail_times"]:
        raise RuntimeError(f"E_FLAKY: attempt {count} failed")
    return {"attempts": count}


@app.activity_trigger(input_name="code")
def explode(code: str) -> None:
    raise ValueError(f"{code}: the activity refused")


@app.activity_trigger(input_name="key")
def wait_gate(key: str) -> str:
    shared = board()
    shared.put(f"waiting-{key}", True)
    released = shared.wait_gate(key, GATE_TIMEOUT)
    shared.put(f"finished-{key}", True)
    if not released:
        raise TimeoutError(f"gate {key} was never opened")
    return f"released {key}"


@app.activity_trigger(input_name="unused")
def greeting(unused: str) -> str:
    return os.environ.get("DEVHOST_TEST_GREETING") or ""
