"""Timer triggers for the devhost tests: every second; once a minute from an app setting, on
startup too, starting an orchestration through its durable client. Each run is recorded on the
test's Board with what the runtime handed the function."""

from __future__ import annotations

import os
import time
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from tests.control import Board

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def _run(timer: func.TimerRequest) -> dict[str, Any]:
    return {
        "past_due": timer.past_due,
        "schedule": timer.schedule,
        "status": timer.schedule_status,
        "at": time.time(),
        "pid": os.getpid(),
    }


@app.timer_trigger(schedule="* * * * * *", arg_name="timer")
def every_second(timer: func.TimerRequest) -> None:
    Board.from_environment().record("every_second", _run(timer))


@app.timer_trigger(schedule="%MINUTELY_SCHEDULE%", arg_name="timer", run_on_startup=True)
@app.durable_client_input(client_name="client")
async def minutely(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    run = _run(timer)
    run["instance"] = await client.start_new("from_timer", None, {"past_due": timer.past_due})
    Board.from_environment().record("minutely", run)


@app.orchestration_trigger(context_name="context")
def from_timer(context: df.DurableOrchestrationContext) -> Any:
    return context.get_input()
