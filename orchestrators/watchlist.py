"""A watchlist's eternal orchestration: one instance per watchlist (`watch-` + a hash of owner
and name), one generation per wait.

Each generation waits for the schedule's next time (computed from the context's clock, so
replay sees the same time) raced with the `watchlist` event (`run_now`, `update` with a new
schedule, `stop`). A due time or `run_now` runs the watchlist: admit the run as a batch (over
the owner's hourly quota it is recorded `skipped`), run the batch orchestration as a
sub-orchestration, record the run with what changed, and notify its webhook (an activity with
its own retries and a bounded time; its failure never fails or holds up the run). Then it
continues as new with a state of a few ids, so its history never grows with the runs.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from typing import Any

import azure.durable_functions as df

from orchestrators.context import now
from shared import names
from shared.contracts import BatchOutput
from shared.domain.models import JobStatus
from shared.domain.watchlists import RunStatus, Trigger, schedule_of
from shared.watch_contracts import (
    AdmitRun,
    AdmittedRun,
    NotifyRun,
    RecordedRun,
    RecordRun,
    WatchSignal,
    WatchState,
)

bp = df.Blueprint()

Steps = Generator[Any, Any, Any]

# The webhook activity already retries deliveries itself; Durable retries it for storage errors.
_NOTIFY_ATTEMPTS = 2
_ENDED: dict[str, RunStatus] = {
    JobStatus.COMPLETED.value: "completed",
    JobStatus.FAILED.value: "failed",
    JobStatus.CANCELLED.value: "cancelled",
}


def _signal(result: Any) -> WatchSignal:
    data = json.loads(result) if isinstance(result, str) else result
    try:
        return WatchSignal.model_validate(data)
    except ValueError:
        return WatchSignal(action="run_now")  # a bare event wakes it, as "run now"


def run_watchlist(
    context: df.DurableOrchestrationContext, state: WatchState, trigger: Trigger
) -> Steps:
    """One run; the batch id it ran, or None (skipped, or the watchlist is gone: False)."""
    retry = df.RetryOptions(state.retry.first_retry_ms, state.retry.max_attempts)
    run_id = str(context.new_uuid()).replace("-", "")
    admit = AdmitRun(
        owner=state.owner, name=state.name, run_id=run_id, trigger=trigger, at=now(context)
    )
    answer = yield context.call_activity_with_retry(
        names.ADMIT_WATCH_RUN, retry, admit.model_dump(mode="json")
    )
    admitted = AdmittedRun.model_validate(answer)
    if admitted.outcome == "gone":
        return False
    if admitted.outcome == "skipped" or admitted.batch is None:
        return None
    status: RunStatus
    reason = None
    try:
        output = yield context.call_sub_orchestrator(
            names.BATCH_ORCHESTRATOR, admitted.batch.model_dump(mode="json"), run_id
        )
        ended = BatchOutput.model_validate(output)
        status = _ENDED.get(ended.status.value, "failed")
        reason = ended.error.message if ended.error else None
    except Exception as exc:  # the batch orchestration failed or was terminated
        status, reason = "failed", str(exc)[:200]
    done = RecordRun(
        owner=state.owner, name=state.name, run_id=run_id, status=status, at=now(context),
        reason=reason,
    )
    recorded = RecordedRun.model_validate(
        (yield context.call_activity_with_retry(
            names.RECORD_WATCH_RUN, retry, done.model_dump(mode="json")
        ))
    )
    if recorded.notify:
        notify = NotifyRun(owner=state.owner, name=state.name, run_id=run_id)
        try:
            yield context.call_activity_with_retry(
                names.NOTIFY_WATCH_RUN,
                df.RetryOptions(state.retry.first_retry_ms, _NOTIFY_ATTEMPTS),
                notify.model_dump(mode="json"),
            )
        except Exception:  # recorded by the activity when it could; never fails the run
            pass
    return run_id


@bp.orchestration_trigger(context_name="context", orchestration=names.WATCHLIST_ORCHESTRATOR)
def watchlist_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    state = WatchState.model_validate(context.get_input())
    due = schedule_of(state.schedule).next_after(now(context))
    context.set_custom_status({"next_run_at": due.isoformat(), "generation": state.generation})
    timer = context.create_timer(due)
    event = context.wait_for_external_event(names.WATCHLIST_EVENT)
    winner = yield context.task_any([timer, event])
    trigger: Trigger = "schedule"
    if winner is not timer:
        timer.cancel()
        signal = _signal(event.result)
        if signal.action == "stop":
            return {"stopped": True, "generation": state.generation}
        if signal.action == "update":
            schedule = signal.schedule or state.schedule
            following = state.model_copy(
                update={"schedule": schedule, "generation": state.generation + 1}
            )
            context.continue_as_new(following.model_dump(mode="json"))
            return None
        trigger = "run_now"
    ran = yield from run_watchlist(context, state, trigger)
    if ran is False:  # the watchlist was deleted
        return {"stopped": True, "generation": state.generation}
    following = state.model_copy(
        update={"generation": state.generation + 1, "last_batch_id": ran or state.last_batch_id}
    )
    context.continue_as_new(following.model_dump(mode="json"))
    return None
