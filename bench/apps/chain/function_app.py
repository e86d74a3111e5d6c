"""A bench app for the host's own overhead: an orchestrator that calls a trivial activity n
times, one after another, and a starter route (`POST /api/chain/{instance_id}`, body
`{"steps": n}`).

It runs in the host's language workers (`bench.apps.chain.function_app:app`). The activity does
no I/O; it returns when it ran (`time.monotonic()`, one clock for every process on Linux), so
the bench reads the moments from the instance's history and the gap between two activities is
one orchestration step: the completion back to the host, one episode replayed in a worker, one
checkpoint written, the next activity sent to a worker.
"""

from __future__ import annotations

import time
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

CHAIN_ORCHESTRATOR = "bench_chain"
NOOP_ACTIVITY = "bench_noop"

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context", orchestration=CHAIN_ORCHESTRATOR)
def bench_chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    steps = int(context.get_input()["steps"])
    for step in range(steps):
        yield context.call_activity(
            NOOP_ACTIVITY, {"instance": context.instance_id, "step": step}
        )
    return steps


@app.activity_trigger(input_name="payload", activity=NOOP_ACTIVITY)
def bench_noop(payload: dict) -> float:
    return time.monotonic()


@app.route(route="chain/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_chain(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new(
        CHAIN_ORCHESTRATOR, req.route_params["instance_id"], req.get_json()
    )
    return func.HttpResponse(instance_id, status_code=202)
