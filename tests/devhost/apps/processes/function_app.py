"""Activities that say where and when they ran, fail, or kill their process: for the tests of
activity worker processes (`DevHost(..., activity_processes=N)`)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.route(route="start/{name}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    body = req.get_body()
    instance_id = await client.start_new(
        req.route_params["name"], None, json.loads(body) if body else None
    )
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def fan_out(context: df.DurableOrchestrationContext) -> Any:
    """`count` calls of `where` side by side, each holding its thread for `seconds`."""
    spec = context.get_input()
    calls = [context.call_activity("where", spec["seconds"]) for _ in range(spec["count"])]
    return (yield context.task_all(calls))


@app.orchestration_trigger(context_name="context")
def survive(context: df.DurableOrchestrationContext) -> Any:
    """A call whose process dies, then one that must still run."""
    outcomes: list[Any] = []
    for name in ("exit_process", "fail", "where"):
        try:
            outcomes.append((yield context.call_activity(name, 0)))
        except Exception as exc:  # noqa: BLE001 - the failure is what the test reads
            outcomes.append({"failed": str(exc)})
    return outcomes


@app.activity_trigger(input_name="seconds")
def where(seconds: float) -> dict[str, Any]:
    started = time.time()
    time.sleep(seconds)
    return {
        "pid": os.getpid(),
        "thread": threading.current_thread().name,
        "started": started,
        "ended": time.time(),
        "setting": os.environ.get("DEVHOST_TEST_SETTING"),
    }


@app.activity_trigger(input_name="code")
def exit_process(code: int) -> None:
    os._exit(3)


@app.activity_trigger(input_name="code")
def fail(code: int) -> None:
    raise ValueError("this activity always fails")
