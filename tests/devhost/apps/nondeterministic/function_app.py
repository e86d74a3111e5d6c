"""Orchestrators that read the clock (wrongly, and rightly) so replays differ, or do not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    instance_id = await client.start_new(req.route_params["name"])
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def clock_in_input(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.call_activity("echo", datetime.now().isoformat())  # non-deterministic
    second = yield context.call_activity("echo", "second")
    return [first, second]


@app.orchestration_trigger(context_name="context")
def clock_in_timer(context: df.DurableOrchestrationContext) -> Any:
    yield context.create_timer(datetime.now(UTC) + timedelta(milliseconds=200))  # wrong clock
    return (yield context.call_activity("echo", "after the timer"))


@app.orchestration_trigger(context_name="context")
def replay_safe_clock(context: df.DurableOrchestrationContext) -> Any:
    first = yield context.call_activity("echo", context.current_utc_datetime.isoformat())
    second = yield context.call_activity("echo", "second")
    return [first, second]


@app.activity_trigger(input_name="value")
def echo(value: str) -> str:
    return value
