"""Runs orchestration instances: episodes through the SDK's replay engine, a checkpoint after
every episode, then the episode's new work handed to the dispatcher.

Everything here runs on the host's event loop; replays and activities are invocations in the
language workers (at most `maxConcurrentOrchestratorFunctions` replays at once), and a
checkpoint's JSON is encoded on a small thread pool. Each instance has its own lock, held for a
whole episode; nothing is serialised across instances. Completions that arrive
while an episode runs wait in the instance's inbox and share the next episode.

An episode: take the inbox (see `sequencing`), replay `history + [OrchestratorStarted, *new]`
(if the worker running the replay dies, the episode is put back and runs again),
compare the replay's actions with the ones recorded (a difference fails the instance as
non-deterministic), number and record the new actions, checkpoint, and only then dispatch; so a
crash can re-run an activity whose start was recorded, never lose one.

Checkpoints of running instances go through a gate of `CHECKPOINT_WRITES` concurrent writes.
Completions arrive in batches (equal-length activities end together), and a batch of writes
sent at once queues at the storage account ahead of whatever comes next, such as a client's
start. The first checkpoint of a new instance (the client is waiting on it) skips the gate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import uuid
from concurrent.futures import Executor
from datetime import datetime
from enum import Enum
from typing import Any

from azure.durable_functions.models.history import HistoryEventType

from devhost import events as raised
from devhost import generations, heap, observe, sequencing
from devhost import history as events
from devhost.dispatch import Dispatcher, Invoke
from devhost.errors import InstanceExists, InvalidInstanceId, UnknownFunction
from devhost.history import Event, OrchestrationStatus, utcnow
from devhost.instance import Instance, Task
from devhost.registry import FunctionIndex, OrchestratorFunction
from devhost.replay import EpisodeResult, context_json, find_divergence, run_episode
from devhost.status import RuntimeStatus, StatusView
from devhost.store import CheckpointStore, Summary
from devhost.sub_orchestrations import Children, refuse_child
from devhost.worker_pool import NoWorkers, WorkerExited

log = logging.getLogger(__name__)

_BAD_ID = re.compile(r"[/\\#?\x00-\x1f\x7f-\x9f]")
MAX_INSTANCE_ID = 256
# Enough to keep a storage account busy; few enough that a client's start waits behind at most
# this many checkpoint writes, not a whole batch.
CHECKPOINT_WRITES = 4
PLAYED_KINDS = frozenset(
    {
        HistoryEventType.EXECUTION_STARTED,
        HistoryEventType.TASK_COMPLETED,
        HistoryEventType.TASK_FAILED,
        HistoryEventType.TIMER_FIRED,
        HistoryEventType.EVENT_RAISED,
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        HistoryEventType.EXECUTION_TERMINATED,
    }
)
# How long an episode whose worker died waits before it runs again (a new worker is starting).
REPLAY_RETRY_SECONDS = 0.5


class TerminateOutcome(Enum):
    ACCEPTED = "accepted"
    NOT_FOUND = "not_found"
    GONE = "gone"


class PurgeOutcome(Enum):
    PURGED = "purged"
    NOT_FOUND = "not_found"


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


def _exists(status: RuntimeStatus) -> InstanceExists:
    """DurableTask.AzureStorage's OrchestrationAlreadyExistsException message."""
    return InstanceExists(
        f"An Orchestration instance with the status {status.value} already exists."
    )


def validate_instance_id(instance_id: str) -> None:
    if not instance_id or instance_id.startswith("@") or _BAD_ID.search(instance_id):
        raise InvalidInstanceId(
            "Orchestration instance ids must not be empty, start with @, or contain /, \\, #, ?, "
            "or control characters."
        )
    if len(instance_id) > MAX_INSTANCE_ID:
        raise InvalidInstanceId(
            f"Instance ID lengths must not exceed {MAX_INSTANCE_ID} characters."
        )


class Engine:
    def __init__(
        self,
        index: FunctionIndex,
        store: CheckpointStore,
        invoke: Invoke,
        *,
        max_activities: int,
        max_orchestrators: int,
        client_json: str,
        encode_pool: Executor,
        observer: observe.Observer | None = None,
    ) -> None:
        self._index = index
        self._store = store
        self._invoke = invoke
        self._encoder = encode_pool
        self._observer = observer
        self._replays = asyncio.Semaphore(max_orchestrators)
        self._dispatcher = Dispatcher(
            index.activities, invoke, self._deliver, max_activities, client_json, observer
        )
        self._instances: dict[str, Instance] = {}
        self._children = Children(self)
        self._drains: set[asyncio.Task[None]] = set()
        self._closing = False
        self._checkpoint_gate = asyncio.Semaphore(CHECKPOINT_WRITES)
        self._counts = {"episodes": 0, "checkpoints": 0, "late_completions_dropped": 0}

    @property
    def stats(self) -> dict[str, int]:
        return {**self._counts, "activities_started": self._dispatcher.activities_started}

    async def start_new(self, name: str, instance_id: str | None, input_raw: str | None) -> str:
        if name not in self._index.orchestrators:
            raise UnknownFunction(
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: The following are the known orchestrator functions: "
                + ", ".join(f"'{n}'" for n in sorted(self._index.orchestrators))
                + "."
            )
        if instance_id:
            validate_instance_id(instance_id)
            known = self._instances.get(instance_id)
            if known is not None and not known.is_terminal:
                raise _exists(known.status)
        instance_id = instance_id or uuid.uuid4().hex
        now = utcnow()
        instance = Instance(
            instance_id=instance_id,
            execution_id=uuid.uuid4().hex,
            name=name,
            input_raw=input_raw,
            status=RuntimeStatus.PENDING,
            created=now,
            updated=now,
        )
        started = events.execution_started(now, instance_id, instance.execution_id, name, input_raw)
        instance.inbox.append(started)
        async with instance.lock:
            await self._first_checkpoint(instance, started)
            self._instances[instance_id] = instance
        log.info("instance %s: started %s", instance_id, name)
        self._kick(instance)
        return instance_id

    async def _first_checkpoint(self, instance: Instance, started: Event) -> None:
        """Write a new instance: one conditional create when the id is free; when it is taken,
        replace the stored instance only if that one has finished. Raises StorageError if the
        instance could not be written, so no start is ever acknowledged without a checkpoint."""
        self._counts["checkpoints"] += 1
        data = _encode(instance.to_document(started))  # small: the input and no history
        summary = Summary(
            instance.instance_id, instance.name, instance.status, instance.created, instance.updated
        )
        if await self._store.create(data, summary):
            return
        document = await self._store.load(instance.instance_id)
        if document is not None and not RuntimeStatus(document["runtimeStatus"]).is_terminal:
            raise _exists(RuntimeStatus(document["runtimeStatus"]))
        await self._store.save(data, summary, status_changed=True)

    async def status(self, instance_id: str, with_history: bool) -> StatusView | None:
        """From memory while the instance runs here, else from the store."""
        instance = self._instances.get(instance_id)
        if instance is not None:
            return instance.view(with_history)
        document = await self._store.load(instance_id)
        if document is None:
            return None
        return Instance.from_document(document).view(with_history)

    async def raise_event(
        self, instance_id: str, name: str, input_json: str | None
    ) -> raised.RaiseOutcome:
        return await raised.raise_event(self, instance_id, name, input_json)

    async def terminate(self, instance_id: str, reason: str | None) -> TerminateOutcome:
        instance = await self._owned(instance_id)
        if instance is None:
            return TerminateOutcome.NOT_FOUND
        async with instance.lock:
            if instance.is_terminal:
                return TerminateOutcome.GONE
            now = utcnow()
            mark = len(instance.history)
            instance.history.append(events.orchestrator_started(now))
            instance.history.extend(
                e for e in instance.inbox if e["EventType"] == HistoryEventType.EXECUTION_STARTED
            )
            instance.history.append(events.execution_terminated(now, reason))
            instance.history.append(
                events.execution_completed(now, OrchestrationStatus.TERMINATED, reason)
            )
            instance.history.append(events.orchestrator_completed(now))
            self._mark_played(instance, mark)
            instance.status = RuntimeStatus.TERMINATED
            instance.output_raw = reason
            instance.updated = now
            log.info("instance %s: terminated (%s)", instance_id, reason)
            await self._finish(instance)
        return TerminateOutcome.ACCEPTED

    async def purge(self, instance_id: str) -> PurgeOutcome:
        """Delete an instance whatever its status, as the Azure Storage provider does (see
        `devhost.management`): a running one stops here, and its late outcomes are dropped."""
        instance = self._instances.get(instance_id)
        if instance is not None:
            await self._evict(instance)
        found = await self._store.delete(instance_id)
        log.info("instance %s: purged", instance_id)
        return PurgeOutcome.PURGED if found or instance is not None else PurgeOutcome.NOT_FOUND

    async def _evict(self, instance: Instance) -> None:
        """Stop running `instance` here (purged, or replaced by a new execution); whatever it
        still had in flight is dropped when it comes back (see `_deliver`)."""
        async with instance.lock:
            if self._instances.get(instance.instance_id) is instance:
                del self._instances[instance.instance_id]
            instance.inbox.clear()
            self._dispatcher.disarm(instance)
            raised.settle(raised.take_unsaved(instance), stored=True)  # accepted, then gone

    async def recover(self) -> int:
        """Adopt every instance the store lists as Pending or Running; returns how many."""
        ids = await self._store.active_ids()
        gate = asyncio.Semaphore(16)

        async def adopt(instance_id: str) -> bool:
            async with gate:
                document = await self._store.load(instance_id)
            return document is not None and await self._adopt(document) is not None

        adopted = sum(await asyncio.gather(*(adopt(i) for i in ids)))
        if adopted:
            log.info("resumed %d in-flight instance(s)", adopted)
        return adopted

    async def close(self) -> None:
        self._closing = True
        for instance in self._instances.values():
            self._dispatcher.disarm(instance)
            raised.settle(raised.take_unsaved(instance), stored=False)
        await self._children.close()
        await self._dispatcher.close()
        if self._drains:
            await asyncio.wait(set(self._drains), timeout=10)

    async def _owned(self, instance_id: str) -> Instance | None:
        instance = self._instances.get(instance_id)
        if instance is not None:
            return instance
        document = await self._store.load(instance_id)
        if document is None:
            return None
        adopted = await self._adopt(document)
        return adopted if adopted is not None else Instance.from_document(document)

    async def _adopt(self, document: dict[str, Any]) -> Instance | None:
        """Run a stored, unfinished instance here: re-dispatch its open work, re-arm timers."""
        instance = Instance.from_document(document)
        known = self._instances.get(instance.instance_id)
        if known is not None:
            return known
        if instance.is_terminal:
            async with instance.lock:  # the row lagged behind the blob: bring it in line
                await self._checkpoint(instance, status_changed=True)
            return None
        self._instances[instance.instance_id] = instance
        reopened = instance.open_tasks()
        for task in reopened:
            self._dispatch(instance, task)
        log.info("instance %s: resumed with %d open task(s)", instance.instance_id, len(reopened))
        if instance.inbox:
            self._kick(instance)
        return instance

    def _kick(self, instance: Instance) -> None:
        if instance.draining or instance.paused or self._closing:
            return
        instance.draining = True
        drain = asyncio.get_running_loop().create_task(self._drain(instance))
        self._drains.add(drain)
        drain.add_done_callback(self._drains.discard)

    async def _drain(self, instance: Instance) -> None:
        try:
            async with instance.lock:
                while (
                    instance.inbox
                    and not instance.is_terminal
                    and not instance.paused
                    and not self._closing
                ):
                    await self._episode(instance)
                if instance.is_terminal:
                    instance.inbox.clear()
        except Exception:
            log.exception("instance %s: episode failed inside devhost", instance.instance_id)
        finally:
            instance.draining = False
        if instance.inbox and not instance.is_terminal and not self._closing:
            self._kick(instance)

    async def _episode(self, instance: Instance) -> None:
        self._counts["episodes"] += 1
        now = utcnow()
        before = instance.status
        mark = len(instance.history)
        batch = sequencing.take_batch(instance)
        new_events = [events.orchestrator_started(now), *batch]
        function = self._index.orchestrators.get(instance.name)
        scheduled: list[Task] = []
        if function is None:
            instance.history.extend(new_events)
            self._fail(
                instance,
                now,
                f"The function '{instance.name}' doesn't exist, is disabled, or is not an "
                "orchestrator function.",
            )
        else:
            try:
                result = await self._replay(function, instance, new_events)
            except (WorkerExited, NoWorkers) as exc:
                self._replay_later(instance, batch, exc)
                return
            retries = sequencing.retry_tasks(instance, batch, now)
            instance.history.extend(new_events)
            instance.status = RuntimeStatus.RUNNING
            scheduled = self._apply(instance, result, retries, now)
            if result.continue_as_new is not None and not instance.is_terminal:
                await generations.continue_as_new(self, instance, result.continue_as_new, now)
                for task in scheduled:  # sent with the old execution; their outcomes are dropped
                    if task.kind != "timer":
                        self._dispatch(instance, task)
                return
        instance.history.append(events.orchestrator_completed(now))
        self._mark_played(instance, mark)
        instance.updated = now
        if instance.is_terminal:
            await self._finish(instance)
            return
        await self._checkpoint(instance, status_changed=instance.status != before)
        for task in scheduled:
            self._dispatch(instance, task)

    def _dispatch(self, instance: Instance, task: Task) -> None:
        if task.kind == "suborch":
            self._children.spawn(instance, task)
        else:
            self._dispatcher.dispatch(instance, task)

    async def _replay(
        self, function: OrchestratorFunction, instance: Instance, new_events: list[Event]
    ) -> EpisodeResult:
        # The whole replay as the host runs it (the context JSON, the wait for a replay slot, the
        # invocation), and inside it the orchestrator's invocation in a worker.
        history = instance.history + new_events
        observer, instance_id = self._observer, instance.instance_id
        with observe.replay(observer, instance_id, len(history)):
            payload = context_json(
                instance_id,
                history,
                instance.input_raw,
                bool(instance.history),
                instance.parent_instance_id,
            )
            async with self._replays:
                with observe.invocation(observer, "orchestrator", function.name, instance_id):
                    return await run_episode(self._invoke, function, payload)

    def _replay_later(self, instance: Instance, batch: list[Event], exc: Exception) -> None:
        """The replay's worker died: the episode's events go back, and it runs again soon."""
        log.warning("instance %s: replay lost (%s); it runs again", instance.instance_id, exc)
        instance.inbox[:0] = batch
        instance.paused = True
        loop = asyncio.get_running_loop()
        loop.call_later(REPLAY_RETRY_SECONDS, self._kick_if_known, instance)

    def _kick_if_known(self, instance: Instance) -> None:
        instance.paused = False
        if self._instances.get(instance.instance_id) is instance and not instance.is_terminal:
            self._kick(instance)

    def _apply(
        self, instance: Instance, result: EpisodeResult, retries: list[Task], now: datetime
    ) -> list[Task]:
        """Fold one replay's answer into the instance; returns the work to dispatch."""
        divergence = find_divergence(instance.actions, result.actions)
        if divergence:
            self._fail(instance, now, divergence)
            return []
        new_actions = result.actions[len(instance.actions) :]
        for number, action in enumerate(new_actions, start=len(instance.actions) + 1):
            refusal = refuse_child(instance, action)
            if not action.supported or refusal:
                why = refusal or f"devhost does not support {action.kind_name}"
                self._fail(instance, now, f"{why} (action #{number})")
                return []
        scheduled = [sequencing.record(instance, task, now) for task in retries]
        scheduled += [sequencing.schedule(instance, action, now) for action in new_actions]
        for timer in sequencing.newly_cancelled(instance, result.actions):
            self._dispatcher.cancel(instance, timer)
        if result.custom_status_json is not None:
            instance.custom_status_raw = result.custom_status_json
        if result.error is not None:
            self._fail(instance, now, result.error)
        elif result.done and result.continue_as_new is None:
            instance.status = RuntimeStatus.COMPLETED
            instance.output_raw = result.output_json
            instance.history.append(
                events.execution_completed(now, OrchestrationStatus.COMPLETED, result.output_json)
            )
            log.info("instance %s: completed", instance.instance_id)
        return scheduled

    def _fail(self, instance: Instance, now: datetime, message: str) -> None:
        instance.status = RuntimeStatus.FAILED
        instance.output_raw = f"Orchestrator function '{instance.name}' failed: {message}"
        instance.history.append(
            events.execution_completed(now, OrchestrationStatus.FAILED, instance.output_raw)
        )
        log.warning("instance %s: failed: %s", instance.instance_id, message)

    @staticmethod
    def _mark_played(instance: Instance, start: int) -> None:
        """DTFx marks an event played once it has processed it, and Azure Storage keeps that:
        the incoming events of past episodes. OrchestratorStarted and the events written from
        actions (TaskScheduled, TimerCreated, ...) stay unplayed."""
        for event in instance.history[start:]:
            if event["EventType"] in PLAYED_KINDS:
                event["IsPlayed"] = True

    async def _checkpoint(self, instance: Instance, status_changed: bool) -> bool:
        self._counts["checkpoints"] += 1
        pending = None
        if not instance.history:  # Pending, or a new generation that has not run yet
            pending = next(
                (e for e in instance.inbox if e["EventType"] == HistoryEventType.EXECUTION_STARTED),
                None,
            )
        document = instance.to_document(pending)
        waiting = raised.take_unsaved(instance)  # raises whose events this document holds
        data = await asyncio.get_running_loop().run_in_executor(self._encoder, _encode, document)
        summary = Summary(
            instance.instance_id, instance.name, instance.status, instance.created, instance.updated
        )
        async with self._checkpoint_gate:
            # Inside the gate: the observer sees the write, not the queue for it.
            with observe.checkpoint(
                self._observer, instance.instance_id, len(data), instance.status.value
            ):
                saved = await self._store.save_with_retry(data, summary, status_changed)
        raised.settle(waiting, saved)
        return saved

    async def _finish(self, instance: Instance) -> None:
        """A terminal instance: stop its timers, checkpoint, and leave it to the store."""
        instance.inbox.clear()
        self._dispatcher.disarm(instance)
        if await self._checkpoint(instance, status_changed=True):
            if self._instances.get(instance.instance_id) is instance:
                del self._instances[instance.instance_id]
            self._children.finished(instance)  # only once its end is stored
        heap.freeze_once_warm()

    def _deliver(self, instance: Instance, task_id: int, event: Event) -> None:
        """Queue a completion; late ones (instance finished, purged, replaced) are dropped."""
        if self._closing:
            return
        if (
            instance.is_terminal
            or self._instances.get(instance.instance_id) is not instance
            or task_id in instance.delivered
        ):
            self._counts["late_completions_dropped"] += 1
            log.debug("instance %s: dropped the outcome of task %d", instance.instance_id, task_id)
            return
        instance.delivered.add(task_id)
        instance.inbox.append(event)
        self._kick(instance)
