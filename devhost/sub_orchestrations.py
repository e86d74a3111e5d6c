"""Sub-orchestrations, as the Durable extension runs them on DurableTask.Core (DTFx) and its
Azure Storage provider. Sources (Azure/durabletask at 5217032, unless named otherwise):

- Child id when the orchestrator gives none: `{parent execution id}:{sequence id}`
  (TaskOrchestrationContext.cs L185-199, CreateSubOrchestrationInstanceCore). With retry, every
  attempt is a new CreateSubOrchestrationInstance call (OrchestrationContext.cs L273-279,
  RetryInterceptor.cs L52-91), so generated ids differ per attempt and a given id is reused.
- Parent history: SubOrchestrationInstanceCreated (EventId = the action's id, Name, InstanceId,
  Input); the child's ExecutionStarted carries ParentInstance {Name, Version, TaskScheduleId,
  OrchestrationInstance} and a new execution id (TaskOrchestrationDispatcher.cs L1268-1308).
- The child's end reaches the parent as SubOrchestrationInstanceCompleted(TaskScheduledId, Result)
  or, for Failed *and Terminated*, SubOrchestrationInstanceFailed(TaskScheduledId, Reason =
  the child's result, Details) (TaskOrchestrationDispatcher.cs L1088-1118); a terminated child's
  result is the termination reason (TaskOrchestrationContext.cs L603-606). For a failed child
  the extension's Details is `Message: <error>, StackTrace: <its .NET stack>`
  (OutOfProcOrchestrationShim.cs L85-90, extension a7c6d69); devhost sends no Details.
- An id already in use: the start message is keyed by its new execution id, whose history load
  comes back empty but with the sentinel row's ETag (AzureTableTrackingStore.cs L151-213,
  OrchestrationSessionManager.cs L419-494), so the new execution overwrites the old one, running
  or not, and the old execution's later messages are dropped (TaskOrchestrationDispatcher.cs
  L944-960). The old execution's own parent never hears from it again. A start message seen twice
  for the same execution is dropped as a duplicate (TaskOrchestrationDispatcher.cs L929-942):
  devhost's re-dispatch after a crash recognises its child by execution id in the same way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from devhost import history as events
from devhost.errors import StorageError
from devhost.history import Event, completed_task_ids, utcnow
from devhost.instance import Instance, Task
from devhost.replay import Action
from devhost.status import RuntimeStatus
from devhost.store import Summary

if TYPE_CHECKING:
    from devhost.engine import Engine

log = logging.getLogger(__name__)

START_ATTEMPTS = 3


def refuse_child(parent: Instance, action: Action) -> str | None:
    """The extension refuses these ids (DurableOrchestrationContext.CallDurableTaskFunctionAsync,
    azure-functions-durable-extension a7c6d69, L593-606). Its out-of-process shim swallows the
    ArgumentException and never schedules the child, so on Azure the parent waits for ever;
    devhost fails the parent with the extension's message instead of overwriting an instance."""
    given = action.instance_id
    if not action.is_sub_orchestration or not given:
        return None
    if given.lower() in (parent.instance_id.lower(), (parent.parent_instance_id or "").lower()):
        return (
            "The instance ID of a sub-orchestration must be different than the instance ID of a "
            "parent orchestration."
        )
    if given.startswith("@"):
        return "instanceId (Parameter 'Orchestration instance ids must not start with @')"
    return None


def child_instance_id(parent: Instance, task_id: int, given: str | None) -> str:
    return given if given else f"{parent.execution_id}:{task_id}"


def new_child(
    parent: Instance,
    task_id: int,
    name: str,
    input_json: str | None,
    given_id: str | None,
    retry_group: int | None,
) -> Task:
    """One sub-orchestration attempt; its execution id is chosen now and checkpointed with the
    parent, as DTFx puts it in the start message it sends with the parent's checkpoint."""
    return Task(
        task_id,
        "suborch",
        name=name,
        input=input_json,
        retry_group=retry_group,
        instance_id=child_instance_id(parent, task_id, given_id),
        execution_id=uuid.uuid4().hex,
    )


def child_input(task: Task) -> str | None:
    """The child's input as DTFx stores it: the SDK's JSON text, serialised once more by
    TaskOrchestrationContext.cs L192 (the action's input reaches DTFx as a string)."""
    return None if task.input is None else json.dumps(task.input)


def outcome_event(child: Instance) -> Event:
    """What the parent receives when `child` has finished."""
    assert child.parent is not None
    task_id = int(child.parent["TaskScheduleId"])
    if child.status == RuntimeStatus.COMPLETED:
        return events.sub_orchestration_completed(utcnow(), task_id, child.output_raw)
    return events.sub_orchestration_failed(utcnow(), task_id, child.output_raw, None)


def _lineage(document: dict[str, Any]) -> str:
    """A stored child's first execution id: a child that continued as new is still the child
    its parent started (its ExecutionStarted keeps ParentInstance)."""
    return str(document.get("firstExecutionId") or document["executionId"])


class Children:
    """Starts children and reports their ends to their parents. It works on the engine's
    instance table, store and delivery, as the engine's own code does (a friend class)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._starts: set[asyncio.Task[None]] = set()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}  # per child id, with its users

    def spawn(self, parent: Instance, task: Task) -> None:
        self._run(self._start(parent, task))

    def _run(self, work: Coroutine[Any, Any, None]) -> None:
        running = asyncio.get_running_loop().create_task(work)
        self._starts.add(running)
        running.add_done_callback(self._starts.discard)

    async def close(self) -> None:
        for running in list(self._starts):
            running.cancel()
        await asyncio.gather(*self._starts, return_exceptions=True)

    async def _start(self, parent: Instance, task: Task) -> None:
        """One start at a time per child id, so two starts of one id cannot both win."""
        child_id = task.instance_id
        assert child_id is not None
        lock, users = self._locks.get(child_id, (asyncio.Lock(), 0))
        self._locks[child_id] = (lock, users + 1)
        try:
            async with lock:
                await self._start_retried(parent, task)
        finally:
            lock, users = self._locks[child_id]
            if users == 1:
                del self._locks[child_id]
            else:
                self._locks[child_id] = (lock, users - 1)

    async def _start_retried(self, parent: Instance, task: Task) -> None:
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                await self._start_once(parent, task)
                return
            except StorageError:
                if attempt == START_ATTEMPTS:
                    log.exception(
                        "instance %s: child %s not started; the parent's resume retries it",
                        parent.instance_id,
                        task.instance_id,
                    )
                    return
                await asyncio.sleep(0.2 * attempt)

    async def _start_once(self, parent: Instance, task: Task) -> None:
        engine = self._engine
        child_id, execution_id, name = task.instance_id, task.execution_id, task.name
        assert child_id is not None and execution_id is not None and name is not None
        if name not in engine._index.orchestrators:
            reason = (
                f"The function '{name}' doesn't exist, is disabled, or is not an orchestrator "
                "function. Additional info: The following are the known orchestrator functions: "
                + ", ".join(f"'{n}'" for n in sorted(engine._index.orchestrators))
                + "."
            )
            failed = events.sub_orchestration_failed(utcnow(), task.task_id, reason, None)
            engine._deliver(parent, task.task_id, failed)
            return
        known = engine._instances.get(child_id)
        if known is not None and known.lineage == execution_id:
            return  # created before, running here (perhaps a later generation of it)
        document = await engine._store.load(child_id)
        if document is not None and _lineage(document) == execution_id:
            # Created before a crash: it runs (recovery adopted it) or it ended unreported.
            if await engine._adopt(document) is None:
                self.finished(Instance.from_document(document))
            return
        if known is not None:
            log.info("instance %s: replaced by a sub-orchestration of %s", child_id, parent.name)
            await engine._evict(known)
        await self._create(parent, task)

    async def _create(self, parent: Instance, task: Task) -> None:
        engine = self._engine
        assert task.instance_id and task.execution_id and task.name
        now = utcnow()
        origin = events.parent_instance(
            parent.name, parent.instance_id, parent.execution_id, task.task_id
        )
        child = Instance(
            instance_id=task.instance_id,
            execution_id=task.execution_id,
            name=task.name,
            input_raw=child_input(task),
            status=RuntimeStatus.PENDING,
            created=now,
            updated=now,
            parent=origin,
        )
        started = events.execution_started(
            now, child.instance_id, child.execution_id, child.name, child.input_raw, origin
        )
        child.inbox.append(started)
        data = json.dumps(child.to_document(started)).encode()
        summary = Summary(child.instance_id, child.name, child.status, now, now)
        async with child.lock:
            if not await engine._store.create(data, summary):
                await engine._store.save(data, summary, status_changed=True)  # overwrite
            engine._instances[child.instance_id] = child
        log.info(
            "instance %s: started %s for %s", child.instance_id, child.name, parent.instance_id
        )
        engine._kick(child)

    def finished(self, child: Instance) -> None:
        """Tell `child`'s parent that it ended, if that parent still waits for this execution."""
        if child.parent is None:
            return
        engine = self._engine
        origin = child.parent["OrchestrationInstance"]
        parent = engine._instances.get(origin["InstanceId"])
        task_id = int(child.parent["TaskScheduleId"])
        if parent is None or parent.execution_id != origin["ExecutionId"]:
            return  # finished, purged or replaced; on resume it finds the child's outcome
        task = parent.tasks.get(task_id)
        if task is None or task.execution_id != child.lineage:
            return
        if task_id in completed_task_ids(parent.history):
            return
        engine._deliver(parent, task_id, outcome_event(child))
