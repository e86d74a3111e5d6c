"""Hosts for the devhost tests: each test app runs in-process against the session's Azurite."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.devhost.apps.basics import function_app as basics
from tests.devhost.helpers import Api

APPS = Path(__file__).parent / "apps"
BASICS_SETTINGS = {
    "FUNCTIONS_WORKER_RUNTIME": "python",
    # Already set in the environment, so it must not win (as with func start).
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "DEVHOST_TEST_GREETING": "hello from local.settings.json",
}


def app_root(tmp: Path, app_dir: Path, settings: dict[str, str] | None = None) -> Path:
    """A copy of an app folder's host.json, plus a local.settings.json (git ignores those)."""
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(app_dir / "host.json", tmp / "host.json")
    if settings is not None:
        (tmp / "local.settings.json").write_text(json.dumps({"Values": settings}))
    return tmp


@contextmanager
def running_host(app: Any, root: Path, azurite: Azurite, **options: Any) -> Iterator[DevHost]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AzureWebJobsStorage", azurite.connection_string)
        with DevHost(app, root=root, port=0, **options) as host:
            yield host


@pytest.fixture(scope="module")
def basics_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_root(tmp_path_factory.mktemp("basics"), APPS / "basics", BASICS_SETTINGS)


@pytest.fixture(scope="module")
def basics_host(basics_root: Path, azurite: Azurite) -> Iterator[DevHost]:
    try:
        with running_host(basics.app, basics_root, azurite) as host:
            yield host
    finally:
        basics.release_all()


@pytest.fixture
def api(basics_host: DevHost) -> Api:
    return Api(basics_host.base_url)
