"""The language-worker processes: where functions run, how many activities at once, what a
dead worker does, and that workers never outlive their host."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from devhost.azurite import Azurite
from devhost.errors import AppRefused, ConfigError
from devhost.host import DevHost
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import Api, wait_until

APP = "tests.devhost.apps.processes.function_app:app"
SETTINGS = {"DEVHOST_TEST_SETTING": "from local.settings.json"}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_root(tmp_path_factory.mktemp("processes"), APPS / "processes", SETTINGS)


@pytest.fixture(scope="module")
def host(root: Path, azurite: Azurite) -> Iterator[DevHost]:
    with running_host(APP, root, azurite, worker_processes=2) as started:
        yield started


def _most_at_once(runs: list[dict[str, Any]]) -> int:
    return max(sum(1 for r in runs if r["started"] <= s["started"] < r["ended"]) for s in runs)


def _children() -> set[int]:
    return {child.pid for child in psutil.Process().children(recursive=True)}


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
    assert "language worker process exited (exit code 3)" in died["failed"]
    assert "Activity function 'fail' failed:  ValueError: this activity always fails" in (
        failed["failed"]
    )
    assert after_death["pid"] in before  # the survivor ran it while the replacement started
    wait_until(lambda: len(host.worker_pids) == 2, what="a new worker")
    assert len(before - set(host.worker_pids)) == 1


def test_workers_stop_with_the_host(root: Path, azurite: Azurite) -> None:
    others = _children()
    with running_host(APP, root, azurite, hub_name="DevhostWorkersStop") as started:
        (pid,) = started.worker_pids
        assert pid in _children() - others
    wait_until(lambda: not (_children() - others), what="the worker to exit")
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_the_worker_count_comes_from_the_setting_when_no_flag_is_given(
    root: Path, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", "2")
    with running_host(APP, root, azurite, hub_name="DevhostWorkerCount") as started:
        assert len(started.worker_pids) == 2
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", "none")
    with pytest.raises(ConfigError, match="FUNCTIONS_WORKER_PROCESS_COUNT must be a number"):
        with running_host(APP, root, azurite, hub_name="DevhostWorkerCount"):
            pass


def test_an_app_the_worker_cannot_import_stops_the_start(
    tmp_path: Path, azurite: Azurite
) -> None:
    app_dir = tmp_path / "broken"
    app_dir.mkdir()
    (app_dir / "function_app.py").write_text("import no_such_module_anywhere\n")
    (app_dir / "host.json").write_text('{"version": "2.0"}')
    others = _children()
    with pytest.raises(AppRefused, match="No module named 'no_such_module_anywhere'"):
        with running_host("function_app:app", app_dir, azurite):
            pass
    assert _children() - others == set()


def test_the_attribute_must_name_the_app_the_runtime_indexed(
    root: Path, azurite: Azurite
) -> None:
    with pytest.raises(AppRefused, match="function_app.py has no function app named other"):
        with running_host(APP.replace(":app", ":other"), root, azurite):
            pass


def test_a_worker_does_not_outlive_a_killed_host(tmp_path: Path, azurite: Azurite) -> None:
    """SIGKILL to a `devhost serve` process: its workers go with it (PR_SET_PDEATHSIG), as a
    worker never runs on without its host."""
    import subprocess
    import sys

    root = app_root(tmp_path / "killed", APPS / "processes", SETTINGS)
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string}
    host = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--app", APP, "--root", str(root),
         "--port", "0", "--worker-processes", "2", "--log-level", "WARNING"],
        env=env, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert host.stdout is not None
        for line in host.stdout:
            if "language worker process(es)" in line:
                break
        workers = [c.pid for c in psutil.Process(host.pid).children()]
        assert len(workers) == 2
    finally:
        host.kill()
        host.wait(10)
    wait_until(lambda: not any(psutil.pid_exists(p) for p in workers), what="workers to exit")
