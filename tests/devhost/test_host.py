"""The host around the engine: app routes, the client binding, settings, restarts."""

from __future__ import annotations

import json
import os
from pathlib import Path

import azure.durable_functions as df
import pytest
import requests

from devhost.azurite import Azurite
from devhost.client_binding import binding_json
from devhost.host import DevHost
from devhost.management import ManagementUrls
from tests.control import Board
from tests.devhost.conftest import APPS, BASICS, BASICS_SETTINGS, app_root, running_host
from tests.devhost.helpers import Api, types

CLOCKS = "tests.devhost.apps.nondeterministic.function_app:app"

MANAGEMENT_KEYS = {
    "id",
    "statusQueryGetUri",
    "sendEventPostUri",
    "terminatePostUri",
    "rewindPostUri",
    "purgeHistoryDeleteUri",
    "restartPostUri",
    "suspendPostUri",
    "resumePostUri",
}


def test_the_client_binding_has_the_fields_the_sdk_reads() -> None:
    urls = ManagementUrls("http://127.0.0.1:7071/runtime/webhooks/durabletask", "Hub", "KEY")
    binding = json.loads(binding_json(urls, "http://127.0.0.1:7071/durabletask/"))

    assert binding["taskHubName"] == "Hub"
    assert binding["rpcBaseUrl"] == "http://127.0.0.1:7071/durabletask/"
    assert set(binding["managementUrls"]) == MANAGEMENT_KEYS
    assert binding["managementUrls"]["id"] == "INSTANCEID"
    assert binding["managementUrls"]["statusQueryGetUri"] == (
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/INSTANCEID"
        "?taskHub=Hub&connection=Storage&code=KEY"
    )
    assert binding["managementUrls"]["terminatePostUri"].startswith(
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/INSTANCEID/terminate"
        "?reason={text}&"
    )
    assert set(binding["creationUrls"]) == {
        "createNewInstancePostUri",
        "createAndWaitOnNewInstancePostUri",
    }
    client = df.DurableOrchestrationClient(json.dumps(binding))
    payload = client.create_http_management_payload("abc")
    assert payload["statusQueryGetUri"].startswith(
        "http://127.0.0.1:7071/runtime/webhooks/durabletask/instances/abc?"
    )


def test_app_routes_literal_segments_win_and_requests_arrive_whole(basics_host: DevHost) -> None:
    base = f"{basics_host.base_url}/api"
    literal = requests.get(f"{base}/hello/world")
    assert literal.text == "the literal route"
    assert literal.headers["X-Route"] == "literal"
    assert requests.get(f"{base}/hello/bob").text == "hello bob"

    echoed = requests.put(f"{base}/echo?x=1&y=2", data="payload", headers={"X-Probe": "p"})
    assert echoed.status_code == 201
    assert echoed.headers["Content-Type"].startswith("application/json")
    body = echoed.json()
    assert body.pop("headers")["x-probe"] == "p"
    assert body == {
        "function": "echo",
        "method": "PUT",
        "params": {"x": "1", "y": "2"},
        "header": "p",
        "body": "payload",
    }
    assert requests.get(f"{base}/echo").status_code == 404  # GET is not among its methods
    assert requests.get(f"{base}/nothing/here").status_code == 404
    assert requests.get(f"{basics_host.base_url}/hello/world").status_code == 404  # no prefix


def test_local_settings_values_become_environment_variables(
    tmp_path: Path, azurite: Azurite
) -> None:
    settings = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "DEVHOST_TEST_ONLY_HERE": "from local.settings.json",
    }
    root = app_root(tmp_path / "settings", APPS / "basics", settings)
    assert "DEVHOST_TEST_ONLY_HERE" not in os.environ
    with running_host(BASICS, root, azurite, hub_name="DevhostSettings") as host:
        assert os.environ["DEVHOST_TEST_ONLY_HERE"] == "from local.settings.json"
        # Already set in the environment (Azurite's ports), so local.settings.json lost.
        assert os.environ["AzureWebJobsStorage"] == azurite.connection_string
        api = Api(host.base_url)
        assert api.wait_done(api.start("sequence", ["s"]))["output"] == ["S"]

    assert "DEVHOST_TEST_ONLY_HERE" not in os.environ


def test_two_hosts_in_one_process_keep_their_own_instances(
    basics_host: DevHost, tmp_path: Path, azurite: Azurite
) -> None:
    root = app_root(tmp_path / "clocks", APPS / "nondeterministic")
    with running_host(CLOCKS, root, azurite) as other:
        assert other.base_url != basics_host.base_url
        assert other.hub_name != basics_host.hub_name
        mine, theirs = Api(basics_host.base_url), Api(other.base_url)
        first = mine.start("sequence", ["one"])
        second = theirs.start("replay_safe_clock")
        assert mine.wait_done(first)["output"] == ["ONE"]
        assert theirs.wait_done(second)["output"][1] == "second"
        # Each client call went to its own host: the other hub does not know the instance.
        foreign = f"{other.webhook_base}/instances/{first['id']}?code={other.system_key}"
        assert requests.get(foreign).status_code == 404
        via_client = requests.get(f"{basics_host.base_url}/api/status/{first['id']}")
        assert via_client.json()["output"] == ["ONE"]


def test_status_purge_and_keys_survive_a_restart(azurite: Azurite, tmp_path: Path) -> None:
    root = app_root(tmp_path / "restart", APPS / "basics", BASICS_SETTINGS)
    with running_host(BASICS, root, azurite, hub_name="DevhostRestart") as first:
        key = first.system_key
        keys = (first.master_key, first.function_key, first.system_key)
        assert len(set(keys)) == 3 and all(len(k) >= 40 for k in keys)
        api = Api(first.base_url)
        links = api.start("sequence", ["r"])
        done = api.wait_done(links)
    with running_host(BASICS, root, azurite, hub_name="DevhostRestart") as second:
        assert (second.master_key, second.function_key, second.system_key) == keys
        url = f"{second.webhook_base}/instances/{links['id']}?code={key}&showHistory=true"
        again = requests.get(url)
        assert again.status_code == 200
        assert again.json()["output"] == ["R"]
        assert types(again.json()["historyEvents"]) == types(done["historyEvents"])
        purge = requests.delete(f"{second.webhook_base}/instances/{links['id']}?code={key}")
        assert purge.status_code == 200
        assert requests.get(url).status_code == 404


def test_a_host_without_storage_settings_refuses_to_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    root = app_root(tmp_path / "bare", APPS / "basics")
    with pytest.raises(Exception, match="AzureWebJobsStorage is not set"):
        DevHost(BASICS, root=root, port=0).start()


def test_a_retry_waiting_on_its_timer_continues_after_a_restart(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = app_root(tmp_path / "retry", APPS / "basics", BASICS_SETTINGS)
    board = Board(root / "board")
    with running_host(BASICS, root, azurite, board, hub_name="DevhostRetryRestart") as first:
        api = Api(first.base_url)
        links = api.start("slow_retry")
        waiting = api.wait_status(
            links, lambda s: types(s.get("historyEvents") or [])[-1:] == ["TimerCreated"]
        )
        assert types(waiting["historyEvents"]) == ["ExecutionStarted", "TaskFailed", "TimerCreated"]
    with running_host(BASICS, root, azurite, board, hub_name="DevhostRetryRestart") as second:
        api = Api(second.base_url)
        status = api.wait_done(
            {
                "id": links["id"],
                "statusQueryGetUri": links["statusQueryGetUri"].replace(
                    first.base_url, second.base_url
                ),
            }
        )
    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [{"attempts": 2}, "AFTER"]
    assert board.count(f"attempts-{links['id']}") == 2
    assert types(status["historyEvents"]) == [
        "ExecutionStarted",
        "TaskFailed",
        "TimerCreated",
        "TimerFired",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
