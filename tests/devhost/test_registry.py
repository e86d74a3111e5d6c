"""What the host learns of an app: the runtime's function metadata, read as the host reads it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devhost import rpc_messages as rpc
from devhost.errors import ConfigError
from devhost.registry import index_metadata


def metadata(name: str, *bindings: dict[str, Any]) -> Any:
    """An RpcFunctionMetadata as the runtime builds it (raw bindings as JSON text)."""
    return rpc.RpcFunctionMetadata(
        name=name,
        function_id=f"id-{name}",
        raw_bindings=[json.dumps(b) for b in bindings],
    )


HTTP = metadata(
    "item",
    {"direction": "IN", "type": "httpTrigger", "name": "req", "methods": ["GET"],
     "authLevel": "ADMIN", "route": "items/{id}"},
    {"direction": "OUT", "type": "http", "name": "$return"},
)
ORCHESTRATOR = metadata(
    "flow", {"direction": "IN", "type": "orchestrationTrigger", "name": "context",
             "orchestration": "flow"}
)
ACTIVITY = metadata(
    "step_impl", {"direction": "IN", "type": "activityTrigger", "name": "value", "activity": "step"}
)
TIMER = metadata(
    "sweep",
    {"direction": "IN", "type": "durableClient", "name": "client"},
    {"direction": "IN", "type": "timerTrigger", "name": "timer", "schedule": "%CRON%",
     "runOnStartup": True},
)


def test_functions_are_indexed_by_kind_from_their_raw_bindings() -> None:
    index = index_metadata([HTTP, ORCHESTRATOR, ACTIVITY, TIMER])
    assert set(index.orchestrators) == {"flow"}
    assert set(index.activities) == {"step_impl", "step"}  # function name and trigger name
    assert index.activities["step"].function_id == "id-step_impl"
    (route,) = index.http
    assert (route.route, route.methods, route.request_arg, route.auth_level) == (
        "items/{id}", {"GET"}, "req", "ADMIN"
    )
    (timer,) = index.timers
    assert (timer.schedule, timer.run_on_startup, timer.use_monitor, timer.client_args) == (
        "%CRON%", True, True, ("client",)
    )


def test_a_route_without_route_or_auth_level_gets_the_hosts_defaults() -> None:
    bare = metadata("ping", {"direction": "IN", "type": "httpTrigger", "name": "req"})
    (route,) = index_metadata([bare]).http
    assert (route.route, route.methods, route.auth_level) == ("ping", None, "FUNCTION")


def test_a_binding_the_host_cannot_supply_is_refused_by_name() -> None:
    blob_input = metadata(
        "reader",
        {"direction": "IN", "type": "httpTrigger", "name": "req"},
        {"direction": "IN", "type": "blob", "name": "document", "path": "c/b"},
        {"direction": "OUT", "type": "http", "name": "$return"},
    )
    with pytest.raises(ConfigError, match="function reader: devhost cannot supply the blob "
                       "binding 'document' \\(in\\)"):
        index_metadata([blob_input])


def test_a_trigger_the_host_does_not_run_is_left_out(caplog: pytest.LogCaptureFixture) -> None:
    queue = metadata("q", {"direction": "IN", "type": "queueTrigger", "name": "msg"})
    index = index_metadata([queue, ACTIVITY])
    assert set(index.activities) == {"step_impl", "step"}
    assert "function q has a queueTrigger trigger, which devhost does not run" in caplog.text
