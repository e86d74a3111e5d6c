"""Function keys as the Functions host checks them: anonymous routes need none, function routes
a function key or the master key, admin routes the master key; a missing or wrong key is an
empty 401. The keys are made once and kept in storage; `python -m devhost keys` prints them as
`az functionapp keys list` does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.devhost.conftest import APPS, app_root, running_host

APP = "tests.devhost.apps.keys.function_app:app"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_root(tmp_path_factory.mktemp("keys"), APPS / "keys", {})


@pytest.fixture(scope="module")
def host(root: Path, azurite: Azurite) -> Iterator[DevHost]:
    with running_host(APP, root, azurite) as started:
        yield started


def get(
    host: DevHost, route: str, key: str | None = None, code: str | None = None
) -> requests.Response:
    headers = {"x-functions-key": key} if key is not None else {}
    params = {"code": code} if code is not None else {}
    return requests.get(f"{host.base_url}/api/{route}", headers=headers, params=params, timeout=10)


def test_a_function_route_needs_a_function_key_or_the_master_key(host: DevHost) -> None:
    refused = get(host, "guarded")
    assert (refused.status_code, refused.content) == (401, b"")
    assert get(host, "guarded", key="wrong").status_code == 401
    assert get(host, "guarded", key=host.function_key).text == "function level"
    assert get(host, "guarded", code=host.function_key).text == "function level"
    assert get(host, "guarded", key=host.master_key).status_code == 200
    assert get(host, "guarded", key=host.system_key).status_code == 401  # not a function key
    # The header wins over `code=`.
    assert get(host, "guarded", key="wrong", code=host.function_key).status_code == 401


def test_an_admin_route_takes_only_the_master_key(host: DevHost) -> None:
    assert get(host, "admin-only", key=host.function_key).status_code == 401
    assert get(host, "admin-only", code=host.master_key).text == "admin level"


def test_an_anonymous_route_takes_any_key_or_none(host: DevHost) -> None:
    assert get(host, "open").text == "anonymous"
    assert get(host, "open", key="wrong").text == "anonymous"


def test_devhost_keys_prints_them_as_az_functionapp_keys_list(
    host: DevHost, root: Path, azurite: Azurite
) -> None:
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
    printed = subprocess.run(
        [sys.executable, "-m", "devhost", "keys", "--root", str(root)],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    ).stdout
    assert json.loads(printed) == {
        "functionKeys": {"default": host.function_key},
        "masterKey": host.master_key,
        "systemKeys": {"durabletask_extension": host.system_key},
    }
    assert list(json.loads(printed)) == ["functionKeys", "masterKey", "systemKeys"]
