"""History events in the shape the Durable extension sends to out-of-process workers.

Every event carries `EventType`, `EventId` (-1 unless it schedules work), `IsPlayed` and an ISO
`Timestamp`; the SDK's `HistoryEvent` raises when one is missing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from azure.durable_functions.models.history import HistoryEventType

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

Event = dict[str, Any]


class OrchestrationStatus(IntEnum):
    """DurableTask.Core's OrchestrationStatus, as stored in ExecutionCompleted events."""

    RUNNING = 0
    COMPLETED = 1
    CONTINUED_AS_NEW = 2
    FAILED = 3
    CANCELED = 4
    TERMINATED = 5
    PENDING = 6
    SUSPENDED = 7


def utcnow() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event(kind: HistoryEventType, when: datetime, event_id: int = -1, **fields: Any) -> Event:
    event: Event = {
        "EventType": int(kind),
        "EventId": event_id,
        "IsPlayed": False,
        "Timestamp": timestamp(when),
    }
    event.update(fields)
    return event


def orchestrator_started(when: datetime) -> Event:
    return _event(HistoryEventType.ORCHESTRATOR_STARTED, when)


def orchestrator_completed(when: datetime) -> Event:
    return _event(HistoryEventType.ORCHESTRATOR_COMPLETED, when)


def execution_started(
    when: datetime,
    instance_id: str,
    execution_id: str,
    name: str,
    input_raw: str | None,
    parent: dict[str, Any] | None = None,
) -> Event:
    return _event(
        HistoryEventType.EXECUTION_STARTED,
        when,
        Name=name,
        Input=input_raw,
        Version="",
        OrchestrationInstance={"InstanceId": instance_id, "ExecutionId": execution_id},
        ParentInstance=parent,
        Tags=None,
    )


def parent_instance(name: str, instance_id: str, execution_id: str, task_id: int) -> dict[str, Any]:
    """DurableTask.Core's ParentInstance, as a child's ExecutionStarted carries it."""
    return {
        "Name": name,
        "Version": "",
        "TaskScheduleId": task_id,
        "OrchestrationInstance": {"InstanceId": instance_id, "ExecutionId": execution_id},
    }


def task_scheduled(when: datetime, task_id: int, name: str, input_json: str | None) -> Event:
    return _event(
        HistoryEventType.TASK_SCHEDULED, when, task_id, Name=name, Version="", Input=input_json
    )


def task_completed(when: datetime, scheduled_id: int, result_json: str | None) -> Event:
    return _event(
        HistoryEventType.TASK_COMPLETED, when, TaskScheduledId=scheduled_id, Result=result_json
    )


def task_failed(when: datetime, scheduled_id: int, reason: str, details: str | None) -> Event:
    return _event(
        HistoryEventType.TASK_FAILED,
        when,
        TaskScheduledId=scheduled_id,
        Reason=reason,
        Details=details,
    )


def sub_orchestration_created(
    when: datetime, task_id: int, name: str, instance_id: str, input_json: str | None
) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_CREATED,
        when,
        task_id,
        Name=name,
        Version="",
        InstanceId=instance_id,
        Input=input_json,
    )


def sub_orchestration_completed(when: datetime, scheduled_id: int, result: str | None) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        when,
        TaskScheduledId=scheduled_id,
        Result=result,
    )


def sub_orchestration_failed(
    when: datetime, scheduled_id: int, reason: str | None, details: str | None
) -> Event:
    return _event(
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
        when,
        TaskScheduledId=scheduled_id,
        Reason=reason,
        Details=details,
    )


def timer_created(when: datetime, timer_id: int, fire_at: str) -> Event:
    return _event(HistoryEventType.TIMER_CREATED, when, timer_id, FireAt=fire_at)


def timer_fired(when: datetime, timer_id: int, fire_at: str) -> Event:
    return _event(HistoryEventType.TIMER_FIRED, when, TimerId=timer_id, FireAt=fire_at)


def event_raised(when: datetime, name: str, input_json: str | None) -> Event:
    """DurableTask.Core's EventRaisedEvent: the event's data as JSON text in `Input`."""
    return _event(HistoryEventType.EVENT_RAISED, when, Name=name, Input=input_json)


def is_event_raised(event: Event) -> bool:
    return bool(event["EventType"] == HistoryEventType.EVENT_RAISED)


def execution_completed(when: datetime, status: OrchestrationStatus, result: str | None) -> Event:
    return _event(
        HistoryEventType.EXECUTION_COMPLETED,
        when,
        OrchestrationStatus=int(status),
        Result=result,
        FailureDetails=None,
    )


def execution_terminated(when: datetime, reason: str | None) -> Event:
    return _event(HistoryEventType.EXECUTION_TERMINATED, when, Input=reason)


OUTCOME_KINDS = frozenset(
    {
        HistoryEventType.TASK_COMPLETED,
        HistoryEventType.TASK_FAILED,
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
        HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
    }
)
FAILED_KINDS = frozenset(
    {HistoryEventType.TASK_FAILED, HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED}
)


def completed_task_ids(history: list[Event]) -> set[int]:
    """Ids of scheduled work (activities, timers, sub-orchestrations) whose outcome is already
    in the history."""
    done = set()
    for event in history:
        kind = event["EventType"]
        if kind in OUTCOME_KINDS:
            done.add(int(event["TaskScheduledId"]))
        elif kind == HistoryEventType.TIMER_FIRED:
            done.add(int(event["TimerId"]))
    return done
