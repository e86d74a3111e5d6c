"""The app runs through Microsoft's Python runtime (azure_functions_runtime) in worker
processes: its loader decides what starts, its invoker runs every function."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
import urllib3
from urllib3 import HTTPHeaderDict

from devhost.azurite import Azurite
from devhost.errors import AppRefused
from devhost.host import DevHost
from tests.devhost.conftest import running_host
from tests.devhost.helpers import Api, of_type, types

# Sync functions run on the runtime's thread pool through its executor (run_sync_func), async
# ones are awaited by its invocation handler (handle_event.invocation_request).
RUNTIME_INVOKERS = {
    "azure_functions_runtime.utils.executor",
    "azure_functions_runtime.handle_event",
}
REFUSAL = (
    "cannot load the record_payload function: binding payload has invalid non-type annotation "
    "dict[str, typing.Any]"
)
ONE_ACTIVITY_APP = '''
from typing import Any

import azure.durable_functions as df
import azure.functions as func

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.activity_trigger(input_name="payload")
def record_payload(payload: {annotation}) -> dict:
    return payload
'''


def _ran_in_the_runtime(report: dict, host: DevHost) -> None:
    assert report["pid"] in host.worker_pids and report["pid"] != os.getpid()
    assert RUNTIME_INVOKERS & set(report["modules"]), report["modules"]
    assert not [m for m in report["modules"] if m.startswith("devhost")]


def test_http_orchestrator_and_activity_are_invoked_by_the_runtime(
    basics_host: DevHost, api: Api
) -> None:
    http = requests.get(f"{basics_host.base_url}/api/stack", timeout=10).json()
    _ran_in_the_runtime(http, basics_host)
    done = api.wait_done(api.start("stacks"))
    assert done["runtimeStatus"] == "Completed", done["output"]
    _ran_in_the_runtime(done["output"]["orchestrator"], basics_host)
    _ran_in_the_runtime(done["output"]["activity"], basics_host)


def _app_folder(tmp_path: Path, annotation: str) -> Path:
    root = tmp_path / annotation.replace("[", "_").replace("]", "").replace(", ", "_")
    root.mkdir()
    (root / "function_app.py").write_text(ONE_ACTIVITY_APP.format(annotation=annotation))
    (root / "host.json").write_text(json.dumps({"version": "2.0"}))
    return root


@pytest.fixture
def storage(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    yield azurite.connection_string


def test_an_annotation_the_runtime_refuses_stops_the_host_with_its_message(
    tmp_path: Path, storage: str
) -> None:
    refused = _app_folder(tmp_path, "dict[str, Any]")
    with pytest.raises(AppRefused, match=REFUSAL.replace("[", r"\[").replace("]", r"\]")):
        DevHost("function_app:app", root=refused, port=0).start()

    accepted = _app_folder(tmp_path, "dict")
    with DevHost("function_app:app", root=accepted, port=0) as host:
        assert set(host.index.activities) == {"record_payload"} if host.index else False


def test_devhost_serve_exits_with_the_runtime_message(tmp_path: Path, storage: str) -> None:
    refused = _app_folder(tmp_path, "dict[str, Any]")
    result = subprocess.run(
        [sys.executable, "-m", "devhost", "serve", "--app", "function_app:app",
         "--root", str(refused), "--port", "0", "--log-level", "WARNING"],
        capture_output=True, text=True, timeout=120, env=dict(os.environ),
    )
    assert result.returncode == 2
    assert REFUSAL in result.stderr


def test_an_app_file_that_is_not_there_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="cannot find no_such_module.py"):
        DevHost("no_such_module:app", root=tmp_path, port=0)


def test_is_replaying_is_true_while_the_orchestrator_replays(api: Api) -> None:
    done = api.wait_done(api.start("replay_flags"))
    # The last episode replays the two completed steps, then runs the new part.
    assert done["output"] == [True, True, False]


def test_a_long_timer_is_split_into_the_extensions_intervals(
    api: Api, basics_host: DevHost
) -> None:
    """With replay schema V3 and Azure Storage's limits in the context (6 days, 3-day intervals),
    the SDK splits a 7-day timer; the first timer the host records fires 3 days out."""
    links = api.start("long_sleeper", 7)
    status = api.wait_status(
        links, lambda s: "TimerCreated" in types(s.get("historyEvents") or [])
    )
    (created,) = of_type(status["historyEvents"], "TimerCreated")
    fire_at = datetime.fromisoformat(created["FireAt"].replace("Z", "+00:00"))
    started = datetime.fromisoformat(
        of_type(status["historyEvents"], "ExecutionStarted")[0]["Timestamp"].replace("Z", "+00:00")
    )
    assert abs((fire_at - started) - timedelta(days=3)) < timedelta(minutes=1)
    terminate = links["terminatePostUri"].replace("{text}", "done")
    assert requests.post(terminate, timeout=10).status_code == 202


def test_repeated_query_values_and_headers_reach_the_function_joined(
    basics_host: DevHost,
) -> None:
    """As the Functions host's ToRpcHttp: StringValues joined with ',', header names lower-cased,
    query keys without a value left out."""
    headers = HTTPHeaderDict()
    headers.add("X-Probe", "p1")
    headers.add("X-Probe", "p2")
    answer = urllib3.request(
        "PUT", f"{basics_host.base_url}/api/echo?a=1&a=2&b=3&empty=", body=b"x", headers=headers
    )
    assert answer.status == 201
    body = answer.json()
    assert body["params"] == {"a": "1,2", "b": "3"}
    assert body["header"] == "p1,p2"
    assert "x-probe" in body["headers"] and "X-Probe" not in body["headers"]


def test_an_http_function_returning_none_fails_in_the_runtime(basics_host: DevHost) -> None:
    """The runtime cannot encode None for its `$return` http binding, so the invocation fails
    and the host answers 500 with an empty body (ExceptionMiddleware)."""
    answer = requests.get(f"{basics_host.base_url}/api/nothing", timeout=10)
    assert (answer.status_code, answer.content) == (500, b"")


def test_two_worker_processes_share_the_invocations(
    tmp_path: Path, azurite: Azurite
) -> None:
    from tests.devhost.conftest import APPS, BASICS, app_root

    root = app_root(tmp_path / "two", APPS / "basics", {})
    with running_host(BASICS, root, azurite, hub_name="DevhostTwoWorkers",
                      worker_processes=2) as host:
        assert len(host.worker_pids) == 2
        pids = {
            requests.get(f"{host.base_url}/api/stack", timeout=10).json()["pid"]
            for _ in range(8)
        }
        assert pids == set(host.worker_pids)  # round robin, as the host's load balancer
