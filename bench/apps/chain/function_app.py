"""A bench app for the host's own overhead: `bench.chain`'s orchestrator, its trivial activity
and a starter route (`POST /api/chain/{instance_id}`, body `{"steps": n}`).

The activity does no I/O; it notes when it ran (this process's monotonic clock), so the gap
between two activities is one orchestration step: the completion delivered, one episode
replayed through the SDK, one checkpoint written, the next activity dispatched.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from bench import chain

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(chain.bp)

_lock = threading.Lock()
RAN_AT: dict[str, list[float]] = defaultdict(list)


def ran_at(instance_id: str) -> list[float]:
    with _lock:
        return list(RAN_AT[instance_id])


@app.activity_trigger(input_name="payload", activity=chain.NOOP_ACTIVITY)
def bench_noop(payload: dict[str, Any]) -> int:
    with _lock:
        RAN_AT[str(payload["instance"])].append(time.monotonic())
    return int(payload["step"])


@app.route(route="chain/{instance_id}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_chain(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new(
        chain.CHAIN_ORCHESTRATOR, req.route_params["instance_id"], req.get_json()
    )
    return func.HttpResponse(instance_id, status_code=202)
