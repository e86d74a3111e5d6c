"""The host-overhead orchestrator: n calls of one trivial activity, one after another.

`bench_chain` stays a plain generator function (registered on the blueprint, not replaced by
it), so `bench.sdk_replay` can hand it to the SDK's replay engine in the bench process too."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

CHAIN_ORCHESTRATOR = "bench_chain"
NOOP_ACTIVITY = "bench_noop"

bp = df.Blueprint()


def bench_chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    steps = int(context.get_input()["steps"])
    for step in range(steps):
        yield context.call_activity(
            NOOP_ACTIVITY, {"instance": context.instance_id, "step": step}
        )
    return steps


bp.orchestration_trigger(context_name="context", orchestration=CHAIN_ORCHESTRATOR)(bench_chain)
