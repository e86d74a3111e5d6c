"""Timer triggers, as the WebJobs timer extension runs them (TimerListener, ScheduleMonitor).

Per timer function: the schedule (`%SETTING%` resolved from the app settings) is parsed by
`devhost.ncrontab`. With the schedule monitor on (`useMonitor`, default true, but forced off for
schedules that fire more than once a minute), the last and next occurrences are kept in blob
`azure-webjobs-hosts/timers/{host id}/Host.Functions.{name}/status`, and at start:
- no status yet: it is written, nothing runs;
- the stored `Next` is not what the stored `Last` implies: the schedule changed; `Next` is
  rewritten, nothing runs;
- else, when `Next` has passed, one run at once with `IsPastDue` true;
- otherwise `runOnStartup` gives one run at once, `IsPastDue` false.
Then each occurrence runs in turn; runs never overlap and nothing queues: an overrunning run is
followed by one immediate catch-up and the missed occurrences are skipped. After every run
(failed ones too) the status is written, best effort. The worker receives `TimerInfo` as JSON:
`{"Schedule": {"AdjustForDST": ...}, "ScheduleStatus": {"Last", "Next", "LastUpdated"} | null,
"IsPastDue": ...}`, dates with an offset (`+00:00`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient

from devhost.errors import ConfigError
from devhost.invocations import client_bindings, failure_message, succeeded, timer_request
from devhost.keys import host_id
from devhost.ncrontab import ConstantSchedule, Schedule, parse_schedule
from devhost.registry import TimerFunction
from devhost.worker_pool import NoWorkers, WorkerExited

log = logging.getLogger(__name__)

MONITOR_CONTAINER = "azure-webjobs-hosts"
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # .NET's default(DateTime)
_SETTING = re.compile(r"%([^%]+)%")

Invoke = Callable[[Any], Awaitable[Any]]


def resolve_schedule(text: str) -> str:
    """Replace every `%Name%` with that app setting, as the timer's name resolver does."""

    def setting(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            raise ConfigError(f"the timer schedule refers to app setting {match.group(1)}, unset")
        return value

    if text.count("%") % 2:
        raise ConfigError(f"the timer schedule {text!r} has an unclosed %")
    return _SETTING.sub(setting, text)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse(text: str | None) -> datetime:
    if not text:
        return NEVER
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class ScheduleStatus:
    last: datetime
    next: datetime
    last_updated: datetime

    def to_json(self) -> dict[str, str]:
        return {
            "Last": _iso(self.last),
            "Next": _iso(self.next),
            "LastUpdated": _iso(self.last_updated),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleStatus:
        return cls(
            _parse(data.get("Last")), _parse(data.get("Next")), _parse(data.get("LastUpdated"))
        )


def uses_monitor(function: TimerFunction, schedule: Schedule, now: datetime) -> bool:
    """useMonitor, forced off for schedules that fire more than once within a minute."""
    if not function.use_monitor:
        return False
    if isinstance(schedule, ConstantSchedule):
        return schedule.interval >= timedelta(minutes=1)
    first = schedule.next_after(now)
    return schedule.next_after(first) - first >= timedelta(minutes=1)


class _Monitor:
    """The status blob of one timer."""

    def __init__(self, blobs: BlobServiceClient, hub: str, function: str) -> None:
        name = f"timers/{host_id(hub)}/Host.Functions.{function}/status"
        self._blob = blobs.get_blob_client(MONITOR_CONTAINER, name)
        self._blobs = blobs

    async def read(self) -> ScheduleStatus | None:
        try:
            stream = await self._blob.download_blob()
            return ScheduleStatus.from_json(json.loads(await stream.readall()))
        except ResourceNotFoundError:
            return None

    async def write(self, status: ScheduleStatus) -> None:
        try:
            try:
                await self._blobs.create_container(MONITOR_CONTAINER)
            except ResourceExistsError:
                pass
            await self._blob.upload_blob(json.dumps(status.to_json()), overwrite=True)
        except AzureError as exc:  # best effort, as in the extension
            log.warning("timer status not written: %s", exc)


class _Timer:
    def __init__(
        self,
        function: TimerFunction,
        schedule: Schedule,
        monitor: _Monitor | None,
        invoke: Invoke,
        client_json: str,
    ) -> None:
        self.function = function
        self.schedule = schedule
        self.monitor = monitor
        self.invoke = invoke
        self.client_json = client_json
        self.status: ScheduleStatus | None = None
        self.runs = 0

    async def past_due_at_start(self, now: datetime) -> bool:
        """ScheduleMonitor.CheckPastDueAsync."""
        if self.monitor is None:
            return False
        status = await self.monitor.read()
        if status is None:
            self.status = ScheduleStatus(NEVER, self.schedule.next_after(now), now)
            await self.monitor.write(self.status)
            return False
        self.status = status
        if status.last != NEVER:
            expected = self.schedule.next_after(status.last)
        elif status.last_updated != NEVER:
            expected = self.schedule.next_after(status.last_updated)
        else:
            expected = self.schedule.next_after(now)
        if status.next != expected:  # the schedule changed
            status.next = expected if expected >= now else self.schedule.next_after(now)
            status.last_updated = now
            await self.monitor.write(status)
            return False
        return now > status.next

    async def run(self) -> None:
        now = datetime.now(UTC)
        if await self.past_due_at_start(now):
            started = await self._invoke(past_due=True)
        elif self.function.run_on_startup:
            started = await self._invoke(past_due=False)
        else:
            started = now
        while True:
            due = self.schedule.next_after(started)
            delay = (due - datetime.now(UTC)).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            started = await self._invoke(past_due=False)

    async def _invoke(self, past_due: bool) -> datetime:
        """One run; returns when it started (the next occurrence is computed from there)."""
        started = datetime.now(UTC)
        info = {
            "Schedule": {"AdjustForDST": self.schedule.adjust_for_dst},
            "ScheduleStatus": self.status.to_json() if self.status is not None else None,
            "IsPastDue": past_due,
        }
        clients = client_bindings(self.function.client_args, self.client_json)
        request = timer_request(self.function.function_id, self.function.timer_arg, info, clients)
        try:
            response = await self.invoke(request)
            if not succeeded(response):
                log.error("timer %s failed: %s", self.function.name, failure_message(response))
        except (WorkerExited, NoWorkers) as exc:
            log.error("timer %s: %s", self.function.name, exc)
        self.runs += 1
        if self.monitor is not None:
            self.status = ScheduleStatus(started, self.schedule.next_after(started), started)
            await self.monitor.write(self.status)
        return started


class TimerScheduler:
    """Runs every timer function of the app until `stop`."""

    def __init__(
        self,
        functions: tuple[TimerFunction, ...],
        invoke: Invoke,
        blobs: BlobServiceClient,
        hub: str,
        client_json: str,
    ) -> None:
        now = datetime.now(UTC)
        self._timers = []
        for function in functions:
            schedule = parse_schedule(resolve_schedule(function.schedule))
            monitored = uses_monitor(function, schedule, now)
            monitor = _Monitor(blobs, hub, function.name) if monitored else None
            self._timers.append(_Timer(function, schedule, monitor, invoke, client_json))
        self._tasks: list[asyncio.Task[None]] = []

    def runs(self, name: str) -> int:
        return sum(t.runs for t in self._timers if t.function.name == name)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for timer in self._timers:
            name = f"timer {timer.function.name}"
            self._tasks.append(loop.create_task(self._guard(timer), name=name))

    @staticmethod
    async def _guard(timer: _Timer) -> None:
        try:
            await timer.run()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("timer %s stopped", timer.function.name)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
