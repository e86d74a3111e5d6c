"""InvocationRequests the host builds for each trigger, and what it reads from the responses.

The values are the ones the Functions host and the Durable extension hand an out-of-process
worker: the orchestration context and an activity's input as JSON text in `TypedData.string`,
the durable client binding as its JSON text, a timer's `TimerInfo` as `TypedData.json`, an HTTP
request as `RpcHttp`. What comes back is the runtime's own encoding (`azure.functions`
converters ran in the worker): an activity's result as JSON text, the orchestrator's state, an
HTTP response as `RpcHttp`, or a failure whose message is `<ExceptionType>: <text>`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from devhost import rpc_messages as rpc
from devhost.registry import ActivityFunction, OrchestratorFunction

NULL_JSON = "null"


def _binding(name: str, data: Any) -> Any:
    return rpc.ParameterBinding(name=name, data=data)


def _request(function_id: str, inputs: Iterable[Any], **extra: Any) -> Any:
    return rpc.InvocationRequest(
        invocation_id=str(uuid.uuid4()),
        function_id=function_id,
        input_data=list(inputs),
        **extra,
    )


def client_bindings(args: Iterable[str], client_json: str) -> list[Any]:
    return [_binding(arg, rpc.TypedData(string=client_json)) for arg in args]


def succeeded(response: Any) -> bool:
    return bool(response.result.status == rpc.StatusResult.Success)


def failure_message(response: Any) -> str:
    """The runtime's `<ExceptionType>: <message>` for a failed invocation."""
    return str(response.result.exception.message or "the function failed without a message")


def typed_value(data: Any) -> str | None:
    """JSON or plain text carried by a TypedData (None when nothing is set)."""
    kind = data.WhichOneof("data")
    if kind in ("json", "string"):
        return str(getattr(data, kind))
    if kind is None:
        return None
    if kind in ("int", "double"):
        return json.dumps(getattr(data, kind))
    if kind == "bytes":
        return bytes(data.bytes).decode("utf-8", errors="replace")
    raise ValueError(f"unexpected TypedData kind {kind}")


# ---- activities ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActivityOutcome:
    """A finished activity: `result` (JSON text) or a failure's reason and details."""

    result: str | None = None
    failed: bool = False
    reason: str = ""
    details: str | None = None


def activity_request(function: ActivityFunction, input_json: str | None, client_json: str) -> Any:
    inputs = [_binding(function.input_arg, rpc.TypedData(string=input_json or NULL_JSON))]
    clients = client_bindings(function.client_args, client_json)
    return _request(function.function_id, inputs + clients)


def activity_outcome(function: ActivityFunction, response: Any) -> ActivityOutcome:
    if succeeded(response):
        value = typed_value(response.return_value)
        return ActivityOutcome(result=NULL_JSON if value is None else value)
    return activity_failed(function.name, failure_message(response), response.result.exception)


def activity_failed(name: str, message: str, exception: Any) -> ActivityOutcome:
    """TaskFailed as the extension writes it (TaskActivityShim, 2.13.7 and v3.x): the host's
    RpcException text is `Result: Failure\nException: <message>\nStack: <trace>`, the
    extension keeps what follows "\nException:" (so a leading space) and reports
    `Activity function '<name>' failed: <that>`; Details is the wrapping exception's JSON."""
    stack = str(exception.stack_trace or "")
    friendly = " " + message
    details = {
        "$type": "System.Exception, System.Private.CoreLib",
        "ClassName": "System.Exception",
        "Message": friendly,
        "InnerException": {
            "$type": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException, "
            "Microsoft.Azure.WebJobs.Script",
            "ClassName": "Microsoft.Azure.WebJobs.Script.Workers.Rpc.RpcException",
            "Message": f"Result: Failure\nException: {message}\nStack: {stack}",
            "RemoteStackTrace": stack,
        },
    }
    return ActivityOutcome(
        failed=True,
        reason=f"Activity function '{name}' failed: {friendly}",
        details=json.dumps(details),
    )


def activity_lost(reason: str) -> ActivityOutcome:
    """The call never got an answer from a worker (it exited, or none was running)."""
    details = {"$type": "System.Exception, System.Private.CoreLib", "Message": reason}
    return ActivityOutcome(failed=True, reason=reason, details=json.dumps(details))


def unknown_activity(name: str, known: Iterable[str]) -> ActivityOutcome:
    listed = ", ".join(f"'{n}'" for n in sorted(known))
    return ActivityOutcome(
        failed=True,
        reason=(
            f"The function '{name}' doesn't exist, is disabled, or is not an activity function. "
            f"Additional info: The following are the known activity functions: {listed}."
        ),
    )


# ---- orchestrators ---------------------------------------------------------------------------


def orchestrator_request(function: OrchestratorFunction, context_json: str) -> Any:
    inputs = [_binding(function.context_arg, rpc.TypedData(string=context_json))]
    return _request(function.function_id, inputs)


# ---- timers ----------------------------------------------------------------------------------


def timer_request(
    function_id: str, timer_arg: str, timer_info: dict[str, Any], clients: list[Any]
) -> Any:
    inputs = [_binding(timer_arg, rpc.TypedData(json=json.dumps(timer_info)))]
    return _request(function_id, inputs + clients)
