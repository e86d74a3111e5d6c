"""One orchestration instance: its history, the work it scheduled, and its checkpoint form."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devhost.history import Event, completed_task_ids, is_event_raised, parse_timestamp, timestamp
from devhost.replay import Action
from devhost.status import RuntimeStatus, StatusView

DOCUMENT_VERSION = 1


@dataclass
class RetryGroup:
    """A `call_activity_with_retry` or `call_sub_orchestrator_with_retry`: attempts so far,
    counted as the SDK's RetryAbleTask does. `instance_id` is the child id the parent gave (None:
    each attempt gets a generated one)."""

    name: str
    input: str | None
    first_retry_ms: int
    max_attempts: int
    attempts: int = 1
    kind: str = "activity"
    instance_id: str | None = None


@dataclass
class Task:
    """An activity attempt, a timer or a sub-orchestration, by the sequence id the SDK gave it.
    A sub-orchestration also has its child's instance id and execution id (chosen when it is
    scheduled, so a re-dispatch after a crash recognises a child it already created)."""

    task_id: int
    kind: str  # "activity" | "timer" | "suborch"
    name: str | None = None
    input: str | None = None
    fire_at: str | None = None
    retry_group: int | None = None
    cancelled: bool = False
    instance_id: str | None = None
    execution_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v is not False}


@dataclass
class Instance:
    instance_id: str
    execution_id: str
    name: str
    input_raw: str | None
    status: RuntimeStatus
    created: datetime
    updated: datetime
    output_raw: str | None = None
    custom_status_raw: str | None = None
    parent: dict[str, Any] | None = None  # ParentInstance of a sub-orchestration
    # The execution id of the first generation when this one continued as new: what a parent
    # knows its child by (None: this is the first generation).
    first_execution_id: str | None = None
    history: list[Event] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    action_task_ids: list[int] = field(default_factory=list)
    tasks: dict[int, Task] = field(default_factory=dict)
    retry_groups: dict[int, RetryGroup] = field(default_factory=dict)
    next_id: int = 0
    # In memory only: undelivered events, outcomes already queued, timers armed.
    inbox: list[Event] = field(default_factory=list)
    delivered: set[int] = field(default_factory=set)
    timers: dict[int, asyncio.TimerHandle] = field(default_factory=dict)
    # Raised events waiting for the checkpoint that stores them (see `devhost.events`).
    unsaved: list[asyncio.Future[bool]] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    draining: bool = False
    paused: bool = False  # a replay was lost with its worker; it runs again shortly

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    @property
    def lineage(self) -> str:
        """The execution id this instance was started with, kept across `continue_as_new`."""
        return self.first_execution_id or self.execution_id

    @property
    def parent_instance_id(self) -> str | None:
        return None if self.parent is None else self.parent["OrchestrationInstance"]["InstanceId"]

    def view(self, with_history: bool) -> StatusView:
        return StatusView(
            name=self.name,
            instance_id=self.instance_id,
            status=self.status,
            input_raw=self.input_raw,
            output_raw=self.output_raw,
            custom_status_raw=self.custom_status_raw,
            created=self.created,
            updated=self.updated,
            history=list(self.history) if with_history else None,
        )

    def open_tasks(self) -> list[Task]:
        """Scheduled work whose outcome is not in the history yet (to re-dispatch on resume)."""
        done = completed_task_ids(self.history)
        return [t for t in self.tasks.values() if t.task_id not in done]

    def to_document(self, pending_start: Event | None) -> dict[str, Any]:
        return {
            "version": DOCUMENT_VERSION,
            "instanceId": self.instance_id,
            "executionId": self.execution_id,
            "name": self.name,
            "input": self.input_raw,
            "runtimeStatus": self.status.value,
            "createdTime": timestamp(self.created),
            "lastUpdatedTime": timestamp(self.updated),
            "output": self.output_raw,
            "customStatus": self.custom_status_raw,
            "parent": self.parent,
            "history": self.history,
            "actions": [a.to_json() for a in self.actions],
            "actionTaskIds": self.action_task_ids,
            "tasks": [t.to_json() for t in self.tasks.values()],
            "retryGroups": {str(k): v.__dict__ for k, v in self.retry_groups.items()},
            "nextId": self.next_id,
            "pendingStart": pending_start,
            # Raised events not in the history yet; a raise is acknowledged once they are here.
            "pendingEvents": [e for e in self.inbox if is_event_raised(e)],
            "firstExecutionId": self.first_execution_id,
        }

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Instance:
        instance = cls(
            instance_id=doc["instanceId"],
            execution_id=doc["executionId"],
            name=doc["name"],
            input_raw=doc.get("input"),
            status=RuntimeStatus(doc["runtimeStatus"]),
            created=parse_timestamp(doc["createdTime"]),
            updated=parse_timestamp(doc["lastUpdatedTime"]),
            output_raw=doc.get("output"),
            custom_status_raw=doc.get("customStatus"),
            parent=doc.get("parent"),
            history=list(doc.get("history") or []),
            actions=[Action.from_json(a) for a in doc.get("actions") or []],
            action_task_ids=list(doc.get("actionTaskIds") or []),
            tasks={t["task_id"]: Task(**t) for t in doc.get("tasks") or []},
            retry_groups={
                int(k): RetryGroup(**v) for k, v in (doc.get("retryGroups") or {}).items()
            },
            next_id=int(doc.get("nextId") or 0),
            first_execution_id=doc.get("firstExecutionId"),
        )
        if doc.get("pendingStart"):
            instance.inbox.append(doc["pendingStart"])
        instance.inbox.extend(doc.get("pendingEvents") or [])
        return instance
