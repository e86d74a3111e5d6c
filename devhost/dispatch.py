"""Scheduled work in motion: activities invoked through the language workers, timers on the
event loop.

At most `maxConcurrentActivityFunctions` activities are in the workers at once, across all of
them; the rest wait here, first come first served. Outcomes come back through
`deliver(instance, task_id, event)`, which decides whether they still matter. Everything here
runs on the host's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from devhost import history as events
from devhost import observe
from devhost.history import Event, parse_timestamp, utcnow
from devhost.instance import Instance, Task
from devhost.invocations import (
    ActivityOutcome,
    activity_lost,
    activity_outcome,
    activity_request,
    unknown_activity,
)
from devhost.registry import ActivityFunction
from devhost.worker_pool import NoWorkers, WorkerExited

log = logging.getLogger(__name__)

# A timer sleeps at most this long before it looks at the wall clock again: a fire time weeks
# ahead (the SDK splits long timers into 3-day ones, but a timer under 6 days is one timer) costs
# one wake-up an hour, and a host whose clock jumped or slept fires it when UTC says so.
MAX_TIMER_SLEEP_SECONDS = 3600.0

Deliver = Callable[[Instance, int, Event], None]
Invoke = Callable[[Any], Awaitable[Any]]


class Dispatcher:
    def __init__(
        self,
        activities: dict[str, ActivityFunction],
        invoke: Invoke,
        deliver: Deliver,
        concurrency: int,
        client_json: str,
        observer: observe.Observer | None = None,
    ) -> None:
        self._activities = activities
        self._invoke = invoke
        self._deliver = deliver
        self._gate = asyncio.Semaphore(concurrency)
        self._client_json = client_json
        self._observer = observer
        self._running: set[asyncio.Task[None]] = set()
        self.activities_started = 0

    def dispatch(self, instance: Instance, task: Task) -> None:
        if task.kind == "timer":
            if not task.cancelled:
                self._arm(instance, task)
            return
        loop = asyncio.get_running_loop()
        function = self._activities.get(task.name or "")
        if function is None:
            outcome = unknown_activity(task.name or "", list(self._activities))
            loop.call_soon(self._outcome, instance, task.task_id, outcome)
            return
        self.activities_started += 1
        running = loop.create_task(self._run(function, instance, task))
        self._running.add(running)
        running.add_done_callback(self._running.discard)

    async def _run(self, function: ActivityFunction, instance: Instance, task: Task) -> None:
        async with self._gate:
            request = activity_request(function, task.input, self._client_json)
            # Here, not in the worker pool: only the dispatcher knows the instance; and inside
            # the activity slot, so the observer times the invocation, not the queue for it.
            observed = observe.invocation(
                self._observer, "activity", function.name, instance.instance_id
            )
            try:
                with observed:
                    response = await self._invoke(request)
                outcome = activity_outcome(function, response)
            except WorkerExited as exc:
                outcome = activity_lost(f"{exc} while running this call")
            except NoWorkers as exc:
                outcome = activity_lost(str(exc))
        if not outcome.failed:
            log.debug("instance %s: activity %s done", instance.instance_id, function.name)
        else:
            log.info("instance %s: %s", instance.instance_id, outcome.reason)
        self._outcome(instance, task.task_id, outcome)

    async def close(self) -> None:
        """Stop waiting for activities in flight (their outcomes would be dropped anyway)."""
        for running in list(self._running):
            running.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    def cancel(self, instance: Instance, task: Task) -> None:
        handle = instance.timers.pop(task.task_id, None)
        if handle is not None:
            handle.cancel()

    @staticmethod
    def disarm(instance: Instance) -> None:
        for handle in instance.timers.values():
            handle.cancel()
        instance.timers.clear()

    def _outcome(self, instance: Instance, task_id: int, outcome: ActivityOutcome) -> None:
        now = utcnow()
        if outcome.failed:
            event = events.task_failed(now, task_id, outcome.reason, outcome.details)
        else:
            event = events.task_completed(now, task_id, outcome.result)
        self._deliver(instance, task_id, event)

    def _arm(self, instance: Instance, task: Task) -> None:
        assert task.fire_at is not None
        delay = (parse_timestamp(task.fire_at) - utcnow()).total_seconds()
        loop = asyncio.get_running_loop()
        instance.timers[task.task_id] = loop.call_later(
            min(max(0.0, delay), MAX_TIMER_SLEEP_SECONDS), self._timer_due, instance, task
        )

    def _timer_due(self, instance: Instance, task: Task) -> None:
        instance.timers.pop(task.task_id, None)
        if task.cancelled:
            return
        assert task.fire_at is not None
        if parse_timestamp(task.fire_at) > utcnow():  # not due yet (a capped sleep, or drift)
            self._arm(instance, task)
            return
        self._deliver(
            instance, task.task_id, events.timer_fired(utcnow(), task.task_id, task.fire_at)
        )
