"""A chain with a slow step, for the kill-and-restart test; run by `python -m devhost serve`.

Every activity run appends a line to `runs.log` in the folder named by DEVHOST_SIDE_EFFECTS, so
the test can count executions across host processes. `slow` waits for a `release` file.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _side_effects() -> Path:
    return Path(os.environ["DEVHOST_SIDE_EFFECTS"])


def _record(line: str) -> None:
    with open(_side_effects() / "runs.log", "a", encoding="utf-8") as log:
        log.write(line + "\n")


@app.route(route="chain", methods=["POST"])
@app.durable_client_input(client_name="client")
async def start_chain(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    instance_id = await client.start_new("chain", None, json.loads(req.get_body()))
    return client.create_check_status_response(req, instance_id)


@app.orchestration_trigger(context_name="context")
def chain(context: df.DurableOrchestrationContext) -> Any:
    words = context.get_input()
    results = []
    for word in words[:2]:
        results.append((yield context.call_activity("step", word)))
    results.append((yield context.call_activity("slow", words[2])))
    results.append((yield context.call_activity("step", words[3])))
    return results


@app.activity_trigger(input_name="word")
def step(word: str) -> str:
    _record(f"step {word}")
    return word.upper()


@app.activity_trigger(input_name="word")
def slow(word: str) -> str:
    _record(f"slow {word} started")
    release = _side_effects() / "release"
    deadline = time.monotonic() + 60
    while not release.exists():
        if time.monotonic() > deadline:
            raise TimeoutError("never released")
        time.sleep(0.02)
    _record(f"slow {word} finished")
    return word.upper()
