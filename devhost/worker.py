"""Calling user functions the way the Python worker does: bindings as keyword arguments,
payloads through the `azure.functions` converters."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import traceback
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import _abc, meta
from azure.functions.durable_functions import (
    ActivityTriggerConverter,
    OrchestrationTriggerConverter,
)

from devhost.registry import CONTEXT_PARAMETER, ActivityFunction, OrchestratorFunction

log = logging.getLogger(__name__)


class _TraceContext(_abc.TraceContext):
    @property
    def trace_state(self) -> str:
        return ""

    @property
    def trace_parent(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(_abc.RetryContext):
    @property
    def retry_count(self) -> int:
        return 0

    @property
    def max_retry_count(self) -> int:
        return 0

    @property
    def exception(self) -> Any:
        return None


class InvocationContext(func.Context):
    """The `context` argument the worker passes to functions that ask for it."""

    _local = threading.local()

    def __init__(self, function_name: str, function_directory: str = "") -> None:
        self._invocation_id = str(uuid.uuid4())
        self._function_name = function_name
        self._function_directory = function_directory

    @property
    def invocation_id(self) -> str:
        return self._invocation_id

    @property
    def thread_local_storage(self) -> Any:
        return self._local

    @property
    def function_name(self) -> str:
        return self._function_name

    @property
    def function_directory(self) -> str:
        return self._function_directory

    @property
    def trace_context(self) -> _abc.TraceContext:
        return _TraceContext()

    @property
    def retry_context(self) -> _abc.RetryContext:
        return _RetryContext()


@dataclass(frozen=True)
class ActivityOutcome:
    """A completed activity: `result` (JSON text) or a failure's reason and details."""

    result: str | None = None
    failed: bool = False
    reason: str = ""
    details: str | None = None


def _failure_details(exc: BaseException) -> str:
    return json.dumps(
        {
            "$type": "System.Exception",
            "ClassName": type(exc).__name__,
            "Message": str(exc),
            "StackTraceString": "".join(traceback.format_exception(exc)),
        }
    )


def unknown_activity(name: str, known: list[str]) -> ActivityOutcome:
    listed = ", ".join(f"'{n}'" for n in sorted(known))
    return ActivityOutcome(
        failed=True,
        reason=(
            f"The function '{name}' doesn't exist, is disabled, or is not an activity function. "
            f"Additional info: The following are the known activity functions: {listed}."
        ),
    )


def run_activity(
    function: ActivityFunction, input_json: str | None, instance_id: str
) -> ActivityOutcome:
    """Run one activity on the calling thread (a pool thread of the configured size)."""
    try:
        datum = meta.Datum(input_json, "json")
        value = ActivityTriggerConverter.decode(datum, trigger_metadata=None)
        kwargs: dict[str, Any] = {function.input_arg: value}
        if function.wants_context:
            kwargs[CONTEXT_PARAMETER] = InvocationContext(function.name)
        result = function.call(**kwargs)
        if function.is_async:
            result = asyncio.run(result)
        encoded = ActivityTriggerConverter.encode(result, expected_type=None)
        return ActivityOutcome(result=str(encoded.value))
    except Exception as exc:  # noqa: BLE001 - any activity error becomes TaskFailed
        log.info(
            "instance %s: activity %s failed: %s: %s",
            instance_id,
            function.name,
            type(exc).__name__,
            exc,
        )
        return ActivityOutcome(
            failed=True,
            reason=f"Activity function '{function.name}' failed: {type(exc).__name__}: {exc}",
            details=_failure_details(exc),
        )


def run_orchestrator(function: OrchestratorFunction, context_json: str) -> str:
    """One orchestrator invocation: context JSON in, orchestrator state JSON out.

    Raises what the SDK raises; a user error carries `$OutOfProcData$:` and the state.
    """
    context = OrchestrationTriggerConverter.decode(
        meta.Datum(context_json, "string"), trigger_metadata=None
    )
    returned = function.call(**{function.context_arg: context})
    encoded = OrchestrationTriggerConverter.encode(returned, expected_type=None)
    return str(encoded.value)
