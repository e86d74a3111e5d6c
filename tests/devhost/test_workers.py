"""Activities in worker processes: where they run, how many at once, and what a dead worker does."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.activity_processes import ActivityProcesses
from devhost.azurite import Azurite
from devhost.errors import ConfigError, DevHostError
from devhost.host import DevHost
from tests.devhost.apps.processes import function_app as processes
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import Api, wait_until

APP_REF = "tests.devhost.apps.processes.function_app:app"
SETTINGS = {"DEVHOST_TEST_SETTING": "from local.settings.json"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_root(tmp_path_factory.mktemp("processes"), APPS / "processes", SETTINGS)


@pytest.fixture(scope="module")
def host(root: Path, azurite: Azurite) -> Iterator[DevHost]:
    with running_host(
        processes.app, root, azurite, activity_processes=2, app_ref=APP_REF
    ) as started:
        yield started


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    return max(sum(1 for r in runs if r["started"] <= s["started"] < r["ended"]) for s in runs)


def test_activities_run_in_the_workers_at_most_the_configured_number_at_once(
    host: DevHost,
) -> None:
    api = Api(host.base_url)
    done = api.wait_done(api.start("fan_out", {"count": 9, "seconds": 0.3}))
    assert done["runtimeStatus"] == "Completed", done
    runs = done["output"]
    assert len(runs) == 9
    pids = {run["pid"] for run in runs}
    assert os.getpid() not in pids
    assert pids == set(host.worker_pids) and len(pids) == 2
    assert {run["setting"] for run in runs} == {"from local.settings.json"}
    assert _most_at_once(runs) == 3  # host.json maxConcurrentActivityFunctions


def test_a_dead_worker_fails_its_call_and_is_replaced(host: DevHost) -> None:
    before = set(host.worker_pids)
    api = Api(host.base_url)
    done = api.wait_done(api.start("survive"), timeout=60)
    assert done["runtimeStatus"] == "Completed", done
    died, failed, after_death = done["output"]
    assert "activity worker process exited (exit code 3)" in died["failed"]
    assert "ValueError: this activity always fails" in failed["failed"]
    assert after_death["pid"] in before  # the survivor ran it while the replacement started
    wait_until(lambda: len(host.worker_pids) == 2, what="a new worker")
    assert len(before - set(host.worker_pids)) == 1


def _children() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid}


def test_workers_stop_with_the_host(root: Path, azurite: Azurite) -> None:
    others = _children()
    with running_host(
        processes.app, root, azurite, activity_processes=1, app_ref=APP_REF
    ) as started:
        (pid,) = started.worker_pids
        assert _children() - others == {pid}
    assert _children() - others == set()


def test_worker_processes_need_the_app_reference(root: Path) -> None:
    with pytest.raises(ConfigError, match="app_ref"):
        DevHost(processes.app, root=root, activity_processes=2)


def test_a_worker_that_cannot_import_the_app_stops_the_start(root: Path) -> None:
    others = _children()
    workers = ActivityProcesses("tests.devhost.apps.no_such_module:app", root, 2, 3)
    with pytest.raises(DevHostError, match="did not start: ConfigError: cannot import"):
        workers.start()
    assert _children() - others == set()
