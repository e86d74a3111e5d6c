"""Scheduled work in motion: activities through the runner (pool threads or worker processes),
timers on the event loop.

Outcomes come back to the loop through `deliver(instance, task_id, event)`, which decides whether
they still matter. Runs on the host's event loop (other threads only hand results back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial

from devhost import history as events
from devhost.activity_processes import RunActivity
from devhost.history import Event, parse_timestamp, utcnow
from devhost.instance import Instance, Task
from devhost.registry import ActivityFunction
from devhost.worker import ActivityOutcome, unknown_activity

log = logging.getLogger(__name__)

Deliver = Callable[[Instance, int, Event], None]


class Dispatcher:
    def __init__(
        self, activities: dict[str, ActivityFunction], run: RunActivity, deliver: Deliver
    ) -> None:
        self._activities = activities
        self._run = run
        self._deliver = deliver
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
        future = self._run(function, task.input, instance.instance_id)
        future.add_done_callback(partial(self._done, loop, instance, task.task_id))

    def cancel(self, instance: Instance, task: Task) -> None:
        handle = instance.timers.pop(task.task_id, None)
        if handle is not None:
            handle.cancel()

    @staticmethod
    def disarm(instance: Instance) -> None:
        for handle in instance.timers.values():
            handle.cancel()
        instance.timers.clear()

    def _done(
        self,
        loop: asyncio.AbstractEventLoop,
        instance: Instance,
        task_id: int,
        future: Future[ActivityOutcome],
    ) -> None:
        """On the runner's thread: hand the outcome to the loop."""
        if future.cancelled():
            return
        try:
            loop.call_soon_threadsafe(self._outcome, instance, task_id, future.result())
        except RuntimeError:
            log.debug(
                "instance %s: host stopped before task %d ended", instance.instance_id, task_id
            )

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
            max(0.0, delay), self._timer_due, instance, task
        )

    def _timer_due(self, instance: Instance, task: Task) -> None:
        instance.timers.pop(task.task_id, None)
        if task.cancelled:
            return
        assert task.fire_at is not None
        if parse_timestamp(task.fire_at) > utcnow():  # the loop's clock ran ahead of UTC
            self._arm(instance, task)
            return
        self._deliver(
            instance, task.task_id, events.timer_fired(utcnow(), task.task_id, task.fire_at)
        )
