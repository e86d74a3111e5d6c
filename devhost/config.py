"""What `func start` reads from the app root: host.json and local.settings.json."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devhost.errors import ConfigError

log = logging.getLogger(__name__)

DEFAULT_HUB_NAME = "TestHubName"
DEFAULT_MAX_ACTIVITIES = 10
DEFAULT_MAX_ORCHESTRATORS = 10
DEFAULT_ROUTE_PREFIX = "api"


@dataclass(frozen=True)
class HostConfig:
    """The settings the host honours; everything else in host.json is ignored."""

    root: Path
    hub_name: str = DEFAULT_HUB_NAME
    max_concurrent_activities: int = DEFAULT_MAX_ACTIVITIES
    max_concurrent_orchestrators: int = DEFAULT_MAX_ORCHESTRATORS
    route_prefix: str = DEFAULT_ROUTE_PREFIX
    values: Mapping[str, str] = field(default_factory=dict)


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def _section(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, Mapping) else {}
    return data


def _positive_int(value: Any, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"host.json {name} must be a positive integer, not {value!r}")
    return value


def _resolve_setting(value: str, values: Mapping[str, str]) -> str:
    """`%Name%` in host.json refers to an app setting, as in the Functions host."""
    if len(value) > 2 and value.startswith("%") and value.endswith("%"):
        name = value[1:-1]
        resolved = os.environ.get(name) or values.get(name)
        if not resolved:
            raise ConfigError(f"host.json refers to app setting {name}, which is not set")
        return resolved
    return value


def load_config(root: Path | str, hub_name: str | None = None) -> HostConfig:
    """Read host.json and local.settings.json in `root`; a missing file means defaults."""
    root = Path(root).resolve()
    host = _read_json(root / "host.json")
    settings = _read_json(root / "local.settings.json")
    raw_values = settings.get("Values") or {}
    if not isinstance(raw_values, dict):
        raise ConfigError("local.settings.json Values must be an object")
    values = {str(k): "" if v is None else str(v) for k, v in raw_values.items()}
    durable = _section(host, "extensions", "durableTask")
    http = _section(host, "extensions", "http")
    hub = hub_name or _resolve_setting(str(durable.get("hubName") or DEFAULT_HUB_NAME), values)
    prefix = http.get("routePrefix", DEFAULT_ROUTE_PREFIX)
    return HostConfig(
        root=root,
        hub_name=hub,
        max_concurrent_activities=_positive_int(
            durable.get("maxConcurrentActivityFunctions"),
            "maxConcurrentActivityFunctions",
            DEFAULT_MAX_ACTIVITIES,
        ),
        max_concurrent_orchestrators=_positive_int(
            durable.get("maxConcurrentOrchestratorFunctions"),
            "maxConcurrentOrchestratorFunctions",
            DEFAULT_MAX_ORCHESTRATORS,
        ),
        route_prefix=str(prefix or "").strip("/"),
        values=values,
    )


def apply_settings(values: Mapping[str, str]) -> list[str]:
    """Export `Values` as environment variables unless already set; returns the names set."""
    applied = []
    for name, value in values.items():
        if name not in os.environ:
            os.environ[name] = value
            applied.append(name)
    if applied:
        log.info("local.settings.json set %d environment variable(s)", len(applied))
    return applied


def forget_settings(names: list[str]) -> None:
    """Undo `apply_settings` for an in-process host that is stopping."""
    for name in names:
        os.environ.pop(name, None)
