"""The app's functions, indexed once per app object from `app.get_functions()`."""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from azure.functions.decorators.core import BindingDirection

from devhost.errors import ConfigError

log = logging.getLogger(__name__)

CONTEXT_PARAMETER = "context"


@dataclass(frozen=True)
class HttpFunction:
    """An HTTP-triggered function: where it listens and how to call it."""

    name: str
    route: str
    methods: frozenset[str] | None
    auth_level: str
    request_arg: str
    client_arg: str | None
    call: Callable[..., Any]
    is_async: bool
    wants_context: bool
    unsupported_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActivityFunction:
    name: str
    input_arg: str
    call: Callable[..., Any]
    is_async: bool
    wants_context: bool


@dataclass(frozen=True)
class OrchestratorFunction:
    name: str
    context_arg: str
    call: Callable[..., Any]


@dataclass(frozen=True)
class FunctionIndex:
    """Functions by kind; activities and orchestrators are keyed by the name callers use."""

    orchestrators: dict[str, OrchestratorFunction] = field(default_factory=dict)
    activities: dict[str, ActivityFunction] = field(default_factory=dict)
    http: tuple[HttpFunction, ...] = ()


_cache: weakref.WeakKeyDictionary[Any, FunctionIndex] = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def _takes_context(call: Callable[..., Any], bound: set[str]) -> bool:
    try:
        parameters = inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False
    return CONTEXT_PARAMETER in parameters and CONTEXT_PARAMETER not in bound


def _names(function: Any) -> list[str]:
    """The function name plus the trigger's own name for it, when it gives a different one."""
    name = function.get_function_name()
    trigger = function.get_trigger()
    alias = getattr(trigger, "activity", None) or getattr(trigger, "orchestration", None)
    return [name] if not alias or alias == name else [name, alias]


def _build(functions: list[Any]) -> FunctionIndex:
    index = FunctionIndex()
    http: list[HttpFunction] = []
    for function in functions:
        trigger = function.get_trigger()
        call = function.get_user_function()
        bindings = list(function.get_bindings())
        bound = {b.name for b in bindings}
        kind = trigger.type
        if kind == "orchestrationTrigger":
            for name in _names(function):
                index.orchestrators[name] = OrchestratorFunction(name, trigger.name, call)
        elif kind == "activityTrigger":
            for name in _names(function):
                index.activities[name] = ActivityFunction(
                    name=name,
                    input_arg=trigger.name,
                    call=call,
                    is_async=inspect.iscoroutinefunction(call),
                    wants_context=_takes_context(call, bound),
                )
        elif kind == "httpTrigger":
            client = next((b.name for b in bindings if b.type == "durableClient"), None)
            others = tuple(
                b.name
                for b in bindings
                if b.name not in (trigger.name, client, "$return")
                and b.direction == BindingDirection.IN
            )
            if others:
                log.warning(
                    "function %s: input bindings %s are not supplied by devhost (None is passed)",
                    function.get_function_name(),
                    ", ".join(others),
                )
            methods = getattr(trigger, "methods", None)
            level = getattr(trigger, "auth_level", None)
            http.append(
                HttpFunction(
                    name=function.get_function_name(),
                    route=getattr(trigger, "route", None) or function.get_function_name(),
                    methods=frozenset(str(getattr(m, "value", m)).upper() for m in methods)
                    if methods
                    else None,
                    auth_level=str(getattr(level, "value", level) or "FUNCTION"),
                    request_arg=trigger.name,
                    client_arg=client,
                    call=call,
                    is_async=inspect.iscoroutinefunction(call),
                    wants_context=_takes_context(call, bound),
                    unsupported_args=others,
                )
            )
        else:
            log.warning(
                "function %s has a %s trigger, which devhost does not run",
                function.get_function_name(),
                kind,
            )
    return FunctionIndex(index.orchestrators, index.activities, tuple(http))


def index_app(app: Any) -> FunctionIndex:
    """Index `app` (a `df.DFApp`) once per app object.

    `get_functions()` refuses a second call on the same app (it records the names it has seen
    in `app.functions_bindings`). The host calls it once and puts that record back as it was,
    so the app stays indexable by whoever else needs it (the worker, a snapshot tool), and the
    host does not mind if someone indexed it first.
    """
    with _cache_lock:
        cached = _cache.get(app)
        if cached is None:
            seen = getattr(app, "functions_bindings", None)
            app.functions_bindings = None
            try:
                functions = app.get_functions()
            except ValueError as exc:
                raise ConfigError(f"cannot index the app: {exc}") from exc
            finally:
                app.functions_bindings = seen
            cached = _build(functions)
            _cache[app] = cached
            log.info(
                "indexed %d orchestrator(s), %d activit(ies), %d HTTP function(s)",
                len(cached.orchestrators),
                len(cached.activities),
                len(cached.http),
            )
        return cached


def load_app(reference: str, root: Path) -> Any:
    """Import `module:attribute` with `root` first on sys.path, as the Python worker does."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"--app must look like module:attribute, not {reference!r}")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name} from {root}: {exc}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"{module_name} has no attribute {attribute}") from exc
