"""The status payload of the Durable HTTP API, built as the extension's DurableClient does.

Field names and the history rewrite (TaskScheduled folded into its outcome as `FunctionName` and
`ScheduledTime`, Orchestrator{Started,Completed} dropped, `EventId`/`IsPlayed` removed, outputs
only with `showHistoryOutput`) follow `DurableClient.GetDurableOrchestrationStatusAsync`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from azure.durable_functions.models.history import HistoryEventType

from devhost.history import Event, OrchestrationStatus


class RuntimeStatus(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    FAILED = "Failed"
    TERMINATED = "Terminated"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


@dataclass(frozen=True)
class StatusView:
    """What a status query needs; raw values are JSON text as the store keeps them."""

    name: str
    instance_id: str
    status: RuntimeStatus
    input_raw: str | None
    output_raw: str | None
    custom_status_raw: str | None
    created: datetime
    updated: datetime
    history: list[Event] | None = None


def parse_token(raw: str | None) -> Any:
    """The extension's ParseToJToken: JSON when it parses, else the raw string."""
    if raw is None:
        return None
    text = raw.strip()
    if not text:
        return ""
    try:
        return json.loads(text)
    except ValueError:
        return raw


def status_time(moment: datetime) -> str:
    """.NET's ToString("s") + "Z": seconds precision, UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# An outcome is folded into the event that scheduled it (activities and sub-orchestrations each
# have their own ids' namespace in the extension's eventMapper: DurableClient.cs L957-990).
SCHEDULING = {
    HistoryEventType.TASK_SCHEDULED: "task",
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_CREATED: "sub",
}
OUTCOMES = {
    HistoryEventType.TASK_COMPLETED: "task",
    HistoryEventType.TASK_FAILED: "task",
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED: "sub",
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_FAILED: "sub",
}
SUCCESSES = (
    HistoryEventType.TASK_COMPLETED,
    HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
)


def history_events(history: list[Event], show_output: bool) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [dict(event) for event in history]
    scheduled: dict[tuple[str, int], int] = {}
    drop: set[int] = set()
    for index, row in enumerate(rows):
        kind = HistoryEventType(row["EventType"])
        row["EventType"] = _pascal(kind.name)
        if kind in SCHEDULING:
            scheduled[(SCHEDULING[kind], row["EventId"])] = index
            row.pop("Version", None)
            row.pop("Input", None)
        elif kind in OUTCOMES:
            source = scheduled.get((OUTCOMES[kind], row.get("TaskScheduledId", -1)))
            if source is not None:
                row["ScheduledTime"] = rows[source]["Timestamp"]
                row["FunctionName"] = rows[source]["Name"]
                drop.add(source)
            row.pop("TaskScheduledId", None)
            if kind in SUCCESSES:
                if show_output:
                    row["Result"] = parse_token(row.get("Result"))
                else:
                    row.pop("Result", None)
        elif kind == HistoryEventType.EXECUTION_STARTED:
            row["FunctionName"] = row.pop("Name", None)
            for key in ("OrchestrationInstance", "ParentInstance", "Version", "Tags", "Input"):
                row.pop(key, None)
        elif kind == HistoryEventType.EXECUTION_COMPLETED:
            row["OrchestrationStatus"] = _pascal(
                OrchestrationStatus(row["OrchestrationStatus"]).name
            )
            if show_output:
                row["Result"] = parse_token(row.get("Result"))
            else:
                row.pop("Result", None)
        elif kind in (HistoryEventType.EXECUTION_TERMINATED, HistoryEventType.EVENT_RAISED):
            row.pop("Input", None)
        elif kind == HistoryEventType.TIMER_FIRED:
            row.pop("TimerId", None)
        elif kind in (
            HistoryEventType.ORCHESTRATOR_STARTED,
            HistoryEventType.ORCHESTRATOR_COMPLETED,
        ):
            drop.add(index)
        row.pop("EventId", None)
        row.pop("IsPlayed", None)
    return [row for index, row in enumerate(rows) if index not in drop]


def _pascal(enum_name: str) -> str:
    return "".join(part.capitalize() for part in enum_name.split("_"))


def status_payload(
    view: StatusView, *, show_input: bool, show_history: bool, show_history_output: bool
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": view.name,
        "instanceId": view.instance_id,
        "runtimeStatus": view.status.value,
        "input": parse_token(view.input_raw) if show_input else None,
        "customStatus": parse_token(view.custom_status_raw),
        "output": parse_token(view.output_raw),
        "createdTime": status_time(view.created),
        "lastUpdatedTime": status_time(view.updated),
    }
    if show_history and view.status != RuntimeStatus.PENDING and view.history is not None:
        payload["historyEvents"] = history_events(view.history, show_history_output)
    return payload
