"""Eternal orchestrations and external events for the devhost tests: generations that continue
as new, waits raced with timers, a timer that must fire once across a kill. Activities and
orchestrators report to the test's `tests.control.Board`. The same file is served by
`python -m devhost serve` in the kill-and-restart test."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from tests.control import Board

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)

STALL_SECONDS = 15.0


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


@app.route(route="raise/{instance_id}/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def raise_through_client(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The SDK client's `raise_event`; answers what it raised, if anything."""
    try:
        await client.raise_event(
            req.route_params["instance_id"], req.route_params["name"], json.loads(req.get_body())
        )
    except Exception as error:  # the SDK raises a bare Exception; the test reads its text
        return func.HttpResponse(json.dumps({"raised": str(error)}), status_code=200)
    return func.HttpResponse(json.dumps({"raised": None}), status_code=200)


@app.activity_trigger(input_name="value")
def note(value: Any) -> Any:
    board().record("note", value)
    return value


@app.activity_trigger(input_name="label")
def effect(label: str) -> int:
    return board().increment(f"effect-{label}")


@app.orchestration_trigger(context_name="context")
def generations(context: df.DurableOrchestrationContext) -> Any:
    """Generation n notes its input, waits for `next`, and continues as new with n + 1 and the
    trail of generations so far, until `last`."""
    state = context.get_input()
    yield context.call_activity("note", state)
    yield context.wait_for_external_event("next")
    if state["gen"] == state["last"]:
        return state
    trail = [*state["trail"], context.instance_id + f":{state['gen']}"]
    context.continue_as_new({"gen": state["gen"] + 1, "last": state["last"], "trail": trail})
    return None


@app.orchestration_trigger(context_name="context")
def event_or_timer(context: df.DurableOrchestrationContext) -> Any:
    timer = context.create_timer(
        context.current_utc_datetime + timedelta(seconds=context.get_input())
    )
    approval = context.wait_for_external_event("approve")
    winner = yield context.task_any([approval, timer])
    if winner == approval:
        timer.cancel()
        return {"event": approval.result}
    return {"timeout": True}


@app.orchestration_trigger(context_name="context")
def collector(context: df.DurableOrchestrationContext) -> Any:
    items = []
    for _ in range(context.get_input()):
        items.append((yield context.wait_for_external_event("item")))
    return items


@app.orchestration_trigger(context_name="context")
def carrier(context: df.DurableOrchestrationContext) -> Any:
    """Generation 0 stalls in the episode that continues as new (until the test opens the
    `continue` gate), so an event can be raised just before the next generation starts;
    generation 1 waits for that event."""
    if context.get_input() == 0:
        yield context.call_activity("note", "carrier-0")
        if not context.is_replaying:
            board().record("continuing", context.instance_id)
            board().wait_gate("continue", STALL_SECONDS)
        context.continue_as_new(1)
        return None
    return (yield context.wait_for_external_event("ping"))


@app.orchestration_trigger(context_name="context")
def sleeper(context: df.DurableOrchestrationContext) -> Any:
    """A timer `seconds` ahead, then one side effect counted on the board."""
    settings = context.get_input()
    yield context.create_timer(
        context.current_utc_datetime + timedelta(seconds=settings["seconds"])
    )
    return (yield context.call_activity("effect", settings["label"]))
