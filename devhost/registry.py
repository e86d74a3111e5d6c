"""The app's functions as the host knows them: from the runtime's function-metadata response.

The Functions host never imports the app: it asks the worker for the functions' metadata (name,
id, raw bindings as JSON) and routes triggers from that. devhost does the same, so what it serves
is exactly what the runtime indexed. A function with a binding devhost cannot supply stops the
start with a message naming it (the host would pass nothing and the call would fail later).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from devhost.errors import ConfigError

log = logging.getLogger(__name__)

CLIENT_BINDING = "durableClient"
HTTP_OUTPUT = "http"
DEFAULT_AUTH_LEVEL = "FUNCTION"


@dataclass(frozen=True)
class HttpFunction:
    name: str
    function_id: str
    route: str
    methods: frozenset[str] | None
    auth_level: str  # ANONYMOUS | FUNCTION | ADMIN
    request_arg: str
    client_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActivityFunction:
    name: str
    function_id: str
    input_arg: str
    client_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class OrchestratorFunction:
    name: str
    function_id: str
    context_arg: str


@dataclass(frozen=True)
class TimerFunction:
    name: str
    function_id: str
    timer_arg: str
    schedule: str  # as written: NCRONTAB, or %SETTING%
    run_on_startup: bool
    use_monitor: bool
    client_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class FunctionIndex:
    """Functions by kind; activities and orchestrators are keyed by the name callers use."""

    orchestrators: dict[str, OrchestratorFunction] = field(default_factory=dict)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    http: tuple[HttpFunction, ...] = ()
    timers: tuple[TimerFunction, ...] = ()


def _names(name: str, alias: Any) -> list[str]:
    """The function name plus the trigger's own name for it, when it gives a different one."""
    return [name] if not alias or alias == name else [name, str(alias)]


def _refuse(function: str, binding: dict[str, Any]) -> ConfigError:
    return ConfigError(
        f"function {function}: devhost cannot supply the {binding.get('type')} binding "
        f"'{binding.get('name')}' ({str(binding.get('direction', '')).lower()})"
    )


SUPPORTED_TRIGGERS = ("orchestrationTrigger", "activityTrigger", "httpTrigger", "timerTrigger")


def _trigger(name: str, bindings: list[dict[str, Any]]) -> dict[str, Any]:
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise ConfigError(f"function {name} has {len(triggers)} triggers; one is expected")
    return triggers[0]


def _clients(name: str, trigger: dict[str, Any], bindings: list[dict[str, Any]]) -> list[str]:
    """The durable client arguments; any other binding besides the trigger is refused."""
    clients = []
    for binding in bindings:
        if binding is trigger:
            continue
        kind, direction = binding.get("type"), str(binding.get("direction", "")).upper()
        if kind == CLIENT_BINDING and direction == "IN":
            clients.append(str(binding["name"]))
        elif not (kind == HTTP_OUTPUT and trigger["type"] == "httpTrigger"):
            raise _refuse(name, binding)
    return clients


def index_metadata(results: Iterable[Any]) -> FunctionIndex:
    """Build the index from RpcFunctionMetadata messages (their `raw_bindings` JSON)."""
    index = FunctionIndex()
    http: list[HttpFunction] = []
    timers: list[TimerFunction] = []
    for metadata in results:
        name, function_id = metadata.name, metadata.function_id
        bindings = [json.loads(raw) for raw in metadata.raw_bindings]
        trigger = _trigger(name, bindings)
        kind, arg = trigger["type"], str(trigger["name"])
        if kind not in SUPPORTED_TRIGGERS:
            log.warning("function %s has a %s trigger, which devhost does not run", name, kind)
            continue
        clients = _clients(name, trigger, bindings)
        if kind == "orchestrationTrigger":
            if clients:
                raise ConfigError(f"function {name}: an orchestrator takes no durable client")
            for alias in _names(name, trigger.get("orchestration")):
                index.orchestrators[alias] = OrchestratorFunction(alias, function_id, arg)
        elif kind == "activityTrigger":
            for alias in _names(name, trigger.get("activity")):
                index.activities[alias] = ActivityFunction(
                    alias, function_id, arg, tuple(clients)
                )
        elif kind == "httpTrigger":
            methods = trigger.get("methods")
            http.append(
                HttpFunction(
                    name=name,
                    function_id=function_id,
                    route=trigger.get("route") or name,
                    methods=frozenset(str(m).upper() for m in methods) if methods else None,
                    auth_level=str(trigger.get("authLevel") or DEFAULT_AUTH_LEVEL).upper(),
                    request_arg=arg,
                    client_args=tuple(clients),
                )
            )
        else:
            timers.append(
                TimerFunction(
                    name=name,
                    function_id=function_id,
                    timer_arg=arg,
                    schedule=str(trigger.get("schedule") or ""),
                    run_on_startup=bool(trigger.get("runOnStartup", False)),
                    use_monitor=bool(trigger.get("useMonitor", True)),
                    client_args=tuple(clients),
                )
            )
    log.info(
        "indexed %d orchestrator(s), %d activit(ies), %d HTTP and %d timer function(s)",
        len(index.orchestrators),
        len(index.activities),
        len(http),
        len(timers),
    )
    return FunctionIndex(index.orchestrators, index.activities, tuple(http), tuple(timers))
