"""host.json and local.settings.json, read as func start reads them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from devhost.config import apply_settings, forget_settings, load_config
from devhost.errors import ConfigError


def write(root: Path, name: str, data: object) -> None:
    (root / name).write_text(json.dumps(data))


def test_defaults_without_files(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    assert config.hub_name == "TestHubName"
    assert config.max_concurrent_activities == 10
    assert config.route_prefix == "api"
    assert dict(config.values) == {}


def test_durable_task_and_http_sections(tmp_path: Path) -> None:
    write(
        tmp_path,
        "host.json",
        {
            "extensions": {
                "durableTask": {"hubName": "MyHub", "maxConcurrentActivityFunctions": 3},
                "http": {"routePrefix": ""},
            }
        },
    )
    write(tmp_path, "local.settings.json", {"Values": {"A": "1", "B": 2, "C": None}})
    config = load_config(tmp_path)
    assert config.hub_name == "MyHub"
    assert config.max_concurrent_activities == 3
    assert config.route_prefix == ""
    assert dict(config.values) == {"A": "1", "B": "2", "C": ""}
    assert load_config(tmp_path, hub_name="Override").hub_name == "Override"


def test_hub_name_may_name_an_app_setting(tmp_path: Path) -> None:
    write(tmp_path, "host.json", {"extensions": {"durableTask": {"hubName": "%HUB_SETTING%"}}})
    write(tmp_path, "local.settings.json", {"Values": {"HUB_SETTING": "FromSettings"}})
    assert load_config(tmp_path).hub_name == "FromSettings"


@pytest.mark.parametrize("value", [0, -1, "4", True])
def test_bad_concurrency_is_refused(tmp_path: Path, value: object) -> None:
    write(
        tmp_path,
        "host.json",
        {"extensions": {"durableTask": {"maxConcurrentActivityFunctions": value}}},
    )
    with pytest.raises(ConfigError, match="maxConcurrentActivityFunctions"):
        load_config(tmp_path)


def test_broken_json_is_refused(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text("{not json")
    with pytest.raises(ConfigError, match="host.json"):
        load_config(tmp_path)


def test_values_do_not_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVHOST_PRESET", "from the environment")
    monkeypatch.delenv("DEVHOST_FRESH", raising=False)
    applied = apply_settings({"DEVHOST_PRESET": "from file", "DEVHOST_FRESH": "from file"})
    try:
        assert applied == ["DEVHOST_FRESH"]
        assert os.environ["DEVHOST_PRESET"] == "from the environment"
        assert os.environ["DEVHOST_FRESH"] == "from file"
    finally:
        forget_settings(applied)
    assert "DEVHOST_FRESH" not in os.environ
