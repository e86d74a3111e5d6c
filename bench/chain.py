"""The host-overhead orchestrator: n calls of one trivial activity, one after another."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

CHAIN_ORCHESTRATOR = "bench_chain"
NOOP_ACTIVITY = "bench_noop"

bp = df.Blueprint()


@bp.orchestration_trigger(context_name="context", orchestration=CHAIN_ORCHESTRATOR)
def bench_chain(context: df.DurableOrchestrationContext) -> Generator[Any, Any, int]:
    steps = int(context.get_input()["steps"])
    for step in range(steps):
        yield context.call_activity(
            NOOP_ACTIVITY, {"instance": context.instance_id, "step": step}
        )
    return steps
