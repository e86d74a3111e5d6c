"""Sequence ids: the host numbers scheduled work exactly as the SDK does, without peeking in.

The SDK gives a task the next id when the orchestrator first yields it (a `task_all`/`task_any`
numbers its new children in order), and a `call_activity_with_retry` or
`call_sub_orchestrator_with_retry` (the same RetryAbleTask in the SDK's `models/Task.py`) takes
one more id for each retry timer (when an attempt fails) and each new attempt (when that timer
fires), while the SDK processes the event. DTFx numbers the same way, which is why
TaskCompleted can name its task by id.

The host mirrors this: in every episode it delivers first the events that make the SDK allocate
retry ids (they never resume user code, so nothing else is numbered in between), then the other
events. The ids handed out in the episode are therefore "retry ids in event order, then the new
actions in order", and any number of completions can share an episode.

A raised event shares no episode: it is delivered alone, and other events never wait behind it
in the same replay. The SDK stops reading the history once the orchestrator has returned or
continued as new, and DTFx hands the raised events it has not processed by then to the next
generation (see `devhost.generations`); with an event alone in its episode, whether the SDK saw
it is never in doubt.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from azure.durable_functions.models.history import HistoryEventType

from devhost import history as events
from devhost.history import FAILED_KINDS, Event, is_event_raised, timestamp
from devhost.instance import Instance, RetryGroup, Task
from devhost.replay import Action
from devhost.sub_orchestrations import child_input, new_child


def allocates(instance: Instance, event: Event) -> bool:
    """Whether the SDK gives out a retry id while processing this event."""
    kind = event["EventType"]
    if kind in FAILED_KINDS:
        task = instance.tasks.get(event["TaskScheduledId"])
        return task is not None and task.retry_group is not None
    if kind == HistoryEventType.TIMER_FIRED:
        task = instance.tasks.get(event["TimerId"])
        if task is None or task.retry_group is None:
            return False
        group = instance.retry_groups[task.retry_group]
        return group.attempts < group.max_attempts  # else the retried task fails for good
    return False


def take_batch(instance: Instance) -> list[Event]:
    """Take the episode's new events from the inbox: a raised event alone, or everything up to
    the next raised event, retry-allocating ones first."""
    inbox = instance.inbox
    if inbox and is_event_raised(inbox[0]):
        end = 1
    else:
        end = next((i for i, e in enumerate(inbox) if is_event_raised(e)), len(inbox))
    inbox, instance.inbox = inbox[:end], inbox[end:]
    first = [e for e in inbox if allocates(instance, e)]
    return first + [e for e in inbox if not allocates(instance, e)]


def retry_tasks(instance: Instance, batch: list[Event], now: datetime) -> list[Task]:
    """The retry timers and attempts the SDK numbers while processing `batch`, in its order."""
    tasks = []
    for event in batch:
        if not allocates(instance, event):
            continue
        if event["EventType"] in FAILED_KINDS:
            failed = instance.tasks[event["TaskScheduledId"]]
            assert failed.retry_group is not None
            group = instance.retry_groups[failed.retry_group]
            fire_at = timestamp(now + timedelta(milliseconds=group.first_retry_ms))
            task = Task(instance.next_id, "timer", fire_at=fire_at, retry_group=failed.retry_group)
        else:
            timer = instance.tasks[event["TimerId"]]
            assert timer.retry_group is not None
            group = instance.retry_groups[timer.retry_group]
            group.attempts += 1
            task = _work(instance, instance.next_id, group, timer.retry_group)
        instance.next_id += 1
        tasks.append(task)
    return tasks


def record(instance: Instance, task: Task, now: datetime) -> Task:
    """Keep `task` and write its TaskScheduled or TimerCreated event."""
    instance.tasks[task.task_id] = task
    if task.kind == "timer":
        assert task.fire_at is not None
        instance.history.append(events.timer_created(now, task.task_id, task.fire_at))
    elif task.kind == "suborch":
        assert task.name is not None and task.instance_id is not None
        instance.history.append(
            events.sub_orchestration_created(
                now, task.task_id, task.name, task.instance_id, child_input(task)
            )
        )
    else:
        assert task.name is not None
        instance.history.append(events.task_scheduled(now, task.task_id, task.name, task.input))
    return task


def schedule(instance: Instance, action: Action, now: datetime) -> Task:
    """Number a new action with the next id, as the SDK did when the orchestrator yielded it."""
    task_id = instance.next_id
    instance.next_id += 1
    instance.actions.append(action)
    instance.action_task_ids.append(task_id)
    if action.is_timer:
        timer = Task(task_id, "timer", fire_at=action.fire_at, cancelled=action.cancelled)
        return record(instance, timer, now)
    group = RetryGroup(
        name=action.name or "",
        input=action.input,
        first_retry_ms=action.first_retry_ms or 0,
        max_attempts=action.max_attempts or 1,
        kind="suborch" if action.is_sub_orchestration else "activity",
        instance_id=action.instance_id,
    )
    retry_group = task_id if action.is_retried else None
    if retry_group is not None:
        instance.retry_groups[task_id] = group
    return record(instance, _work(instance, task_id, group, retry_group), now)


def _work(instance: Instance, task_id: int, group: RetryGroup, retry_group: int | None) -> Task:
    """One attempt at an activity or a sub-orchestration (a child of its own per attempt)."""
    if group.kind == "suborch":
        return new_child(instance, task_id, group.name, group.input, group.instance_id, retry_group)
    return Task(task_id, "activity", name=group.name, input=group.input, retry_group=retry_group)


def newly_cancelled(instance: Instance, actions: list[Action]) -> list[Task]:
    """Timers the latest replay cancelled (`isCanceled`) that were still live; marks them."""
    cancelled = []
    for action, task_id in zip(actions, instance.action_task_ids, strict=False):
        task = instance.tasks[task_id]
        if action.is_timer and action.cancelled and not task.cancelled:
            task.cancelled = True
            cancelled.append(task)
    return cancelled
