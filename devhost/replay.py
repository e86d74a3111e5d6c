"""One orchestrator episode through the SDK's own replay engine, and what came out of it.

History events go in as the context JSON the extension sends; the SDK answers with its state
(`isDone`, `actions`, `output`, `customStatus`) or raises with `$OutOfProcData$:<state>`. Actions
are flattened (compound `task_all`/`task_any` wrappers removed) into the order in which the SDK
gives out sequence ids, so action #k is the k-th id-bearing task the orchestrator ever scheduled.

Two actions are not work to schedule and are taken out of that list. WaitForExternalEvent: the
SDK keys its task by the event's name and gives it no sequence id (DurableOrchestrationContext.
wait_for_external_event, `_generate_task(action, id_=name)`); nothing reaches the history until an
EventRaised arrives, and the extension's shim awaits it without a DTFx id either. ContinueAsNew:
the SDK adds no action after it (`_add_to_actions`), so it ends the list; its input (the SDK's
JSON text) is `EpisodeResult.continue_as_new`.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from azure.durable_functions.models.actions.ActionType import ActionType

from devhost.history import Event
from devhost.invocations import failure_message, orchestrator_request, succeeded, typed_value
from devhost.registry import OrchestratorFunction

OUT_OF_PROC_LABEL = "\n\n$OutOfProcData$:"
# Replay schema V2, and V3 for SDKs that know it (long timers split by the SDK); the timer
# limits of the Azure Storage backend.
UPPER_SCHEMA_VERSION = 1
UPPER_SCHEMA_VERSION_NEW = 2
MAXIMUM_SHORT_TIMER_DURATION = "6.00:00:00"
LONG_RUNNING_TIMER_INTERVAL_DURATION = "3.00:00:00"
HTTP_ASYNC_SLEEP_MS = 30000  # the extension's spelling of the field is kept below
COMPOUND = (ActionType.WHEN_ALL, ActionType.WHEN_ANY)
NOT_WORK = (ActionType.WAIT_FOR_EXTERNAL_EVENT, ActionType.CONTINUE_AS_NEW)
SUB_ORCHESTRATIONS = (ActionType.CALL_SUB_ORCHESTRATOR, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY)
RETRIED = (ActionType.CALL_ACTIVITY_WITH_RETRY, ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY)
SUPPORTED = (
    ActionType.CALL_ACTIVITY,
    ActionType.CALL_ACTIVITY_WITH_RETRY,
    ActionType.CREATE_TIMER,
    *SUB_ORCHESTRATIONS,
)
KIND_NAMES = {
    ActionType.CALL_ACTIVITY: "CallActivity",
    ActionType.CALL_ACTIVITY_WITH_RETRY: "CallActivityWithRetry",
    ActionType.CALL_SUB_ORCHESTRATOR: "CallSubOrchestrator",
    ActionType.CALL_SUB_ORCHESTRATOR_WITH_RETRY: "CallSubOrchestratorWithRetry",
    ActionType.CONTINUE_AS_NEW: "ContinueAsNew",
    ActionType.CREATE_TIMER: "CreateTimer",
    ActionType.WAIT_FOR_EXTERNAL_EVENT: "WaitForExternalEvent",
    ActionType.CALL_ENTITY: "CallEntity",
    ActionType.CALL_HTTP: "CallHttp",
    ActionType.SIGNAL_ENTITY: "SignalEntity",
}
_SHOWN = 200
Invoke = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Action:
    """One scheduled unit of work, as compared between replays."""

    kind: int
    name: str | None = None
    input: str | None = None
    fire_at: str | None = None
    cancelled: bool = False
    first_retry_ms: int | None = None
    max_attempts: int | None = None
    instance_id: str | None = None  # a sub-orchestration's, when the orchestrator gave one

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(ActionType(self.kind), f"action type {self.kind}")

    @property
    def supported(self) -> bool:
        return self.kind in SUPPORTED

    @property
    def is_timer(self) -> bool:
        return self.kind == ActionType.CREATE_TIMER

    @property
    def is_sub_orchestration(self) -> bool:
        return self.kind in SUB_ORCHESTRATIONS

    @property
    def is_retried(self) -> bool:
        return self.kind in RETRIED

    def same_work(self, other: Action) -> bool:
        """Type, name, input and a sub-orchestration's instance id; for timers fireAt
        (cancelling one is not a divergence)."""
        if self.is_timer or other.is_timer:
            return self.kind == other.kind and self.fire_at == other.fire_at
        return (self.kind, self.name, self.input, self.instance_id) == (
            other.kind,
            other.name,
            other.input,
            other.instance_id,
        )

    def describe(self) -> str:
        if self.is_timer:
            return f"CreateTimer firing at {self.fire_at}"
        text = self.input if self.input is not None else "null"
        if len(text) > _SHOWN:
            text = text[:_SHOWN] + "..."
        label = f"{self.kind_name} '{self.name}'" if self.name else self.kind_name
        if self.is_sub_orchestration:
            label += f" (instance id {self.instance_id or 'generated'})"
        return f"{label} with input {text}"

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None and v is not False}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Action:
        return cls(**data)


@dataclass(frozen=True)
class EpisodeResult:
    actions: list[Action]
    done: bool = False
    output_json: str | None = None
    error: str | None = None
    custom_status_json: str | None = None
    continue_as_new: str | None = None  # the next generation's input, as the SDK's JSON text


def context_json(
    instance_id: str,
    history: list[Event],
    input_raw: str | None,
    replaying: bool,
    parent_instance_id: str | None = None,
) -> str:
    """The orchestration trigger payload; `input` is the input's JSON text, as the host sends."""
    orchestration_input = None if input_raw is None else json.loads(input_raw)
    return json.dumps(
        {
            "history": history,
            "input": orchestration_input,
            "instanceId": instance_id,
            "isReplaying": replaying,
            "parentInstanceId": parent_instance_id,
            "upperSchemaVersion": UPPER_SCHEMA_VERSION,
            "upperSchemaVersionNew": UPPER_SCHEMA_VERSION_NEW,
            "maximumShortTimerDuration": MAXIMUM_SHORT_TIMER_DURATION,
            "longRunningTimerIntervalDuration": LONG_RUNNING_TIMER_INTERVAL_DURATION,
            "defaultHttpAsyncRequestSleepTimeMillseconds": HTTP_ASYNC_SLEEP_MS,
        }
    )


def flatten(actions: list[Any]) -> list[Action]:
    flat: list[Action] = []
    for item in actions:
        if isinstance(item, list):
            flat.extend(flatten(item))
            continue
        kind = int(item["actionType"])
        if kind in COMPOUND:
            flat.extend(flatten(item.get("compoundActions") or []))
            continue
        if kind in NOT_WORK:
            continue
        retry = item.get("retryOptions") or {}
        flat.append(
            Action(
                kind=kind,
                name=item.get("functionName") or item.get("name"),
                input=item.get("input"),
                fire_at=item.get("fireAt"),
                cancelled=bool(item.get("isCanceled", False)),
                first_retry_ms=retry.get("firstRetryIntervalInMilliseconds"),
                max_attempts=retry.get("maxNumberOfAttempts"),
                instance_id=item.get("instanceId") if kind in SUB_ORCHESTRATIONS else None,
            )
        )
    return flat


def continued_input(actions: list[Any]) -> str | None:
    """The input of a ContinueAsNew action among `actions`, or None when there is none."""
    for item in actions:
        if isinstance(item, list):
            found = continued_input(item)
        elif int(item["actionType"]) == ActionType.CONTINUE_AS_NEW:
            found = item.get("input", "null")
        else:
            continue
        if found is not None:
            return found
    return None


def _result(state: dict[str, Any], error: str | None = None) -> EpisodeResult:
    custom = state.get("customStatus")
    raw_actions = state.get("actions") or []
    return EpisodeResult(
        actions=flatten(raw_actions),
        done=bool(state.get("isDone")) and error is None,
        output_json=json.dumps(state["output"]) if "output" in state else None,
        error=error,
        custom_status_json=None if custom is None else json.dumps(custom),
        continue_as_new=None if error is not None else continued_input(raw_actions),
    )


async def run_episode(
    invoke: Invoke, function: OrchestratorFunction, payload: str
) -> EpisodeResult:
    """Invoke the orchestrator over `payload` (from `context_json`) and read its answer. The SDK
    reports a user error by raising with `$OutOfProcData$:<state>` in the message."""
    response = await invoke(orchestrator_request(function, payload))
    if succeeded(response):
        return _result(json.loads(typed_value(response.return_value) or "{}"))
    message = failure_message(response)
    text, label, data = message.rpartition(OUT_OF_PROC_LABEL)
    if label:
        state = json.loads(data)
        return _result(state, error=state.get("error") or text)
    return EpisodeResult(actions=[], error=message)


def find_divergence(recorded: list[Action], replayed: list[Action]) -> str | None:
    """Name the first action a replay changed, or None when the replay kept the history."""
    for number, (old, new) in enumerate(zip(recorded, replayed, strict=False), start=1):
        if not old.same_work(new):
            return (
                f"Non-deterministic orchestrator: action #{number} was {old.describe()} in "
                f"history, replay produced {new.describe()}"
            )
    if len(replayed) < len(recorded):
        number = len(replayed) + 1
        return (
            f"Non-deterministic orchestrator: action #{number} was "
            f"{recorded[number - 1].describe()} in history, replay produced no action #{number}"
        )
    return None
