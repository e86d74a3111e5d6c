"""Hosts for the devhost tests: each test app runs in the host's language-worker processes,
against the session's Azurite; tests steer it through a `Board` in a folder of their own."""

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
from tests.control import CONTROL_SETTING, Board
from tests.devhost.helpers import Api

APPS = Path(__file__).parent / "apps"
BASICS = "tests.devhost.apps.basics.function_app:app"
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
def running_host(
    app: str, root: Path, azurite: Azurite, board: Board | None = None, **options: Any
) -> Iterator[DevHost]:
    """`app` (module:attribute) on a host; its workers find `board` through TEST_CONTROL_DIR."""
    board = board or Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AzureWebJobsStorage", azurite.connection_string)
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with DevHost(app, root=root, port=0, **options) as host:
            yield host


@pytest.fixture(scope="module")
def basics_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_root(tmp_path_factory.mktemp("basics"), APPS / "basics", BASICS_SETTINGS)


@pytest.fixture(scope="module")
def board(basics_root: Path) -> Board:
    return Board(basics_root / "board")


@pytest.fixture(scope="module")
def basics_host(basics_root: Path, azurite: Azurite, board: Board) -> Iterator[DevHost]:
    with running_host(BASICS, basics_root, azurite, board) as host:
        yield host


@pytest.fixture
def api(basics_host: DevHost) -> Api:
    return Api(basics_host.base_url)
