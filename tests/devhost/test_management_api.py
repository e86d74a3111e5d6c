"""The Durable HTTP management API: paths, fields and status codes of the extension's handler."""

from __future__ import annotations

import json
import re

import requests

from devhost.host import DevHost
from tests.control import Board
from tests.devhost.helpers import Api, types, wait_until

FIELDS = {
    "name",
    "instanceId",
    "runtimeStatus",
    "input",
    "customStatus",
    "output",
    "createdTime",
    "lastUpdatedTime",
}
SECONDS_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def instance_url(host: DevHost, instance_id: str, key: str | None = None) -> str:
    url = f"{host.webhook_base}/instances/{instance_id}"
    return url if key is None else f"{url}?code={key}"


def test_status_of_a_completed_instance(api: Api, basics_host: DevHost) -> None:
    links = api.start("sequence", ["x", "y"])
    api.wait_done(links)

    response = requests.get(links["statusQueryGetUri"], timeout=10)
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == FIELDS  # no historyEvents unless asked for
    assert body["name"] == "sequence"
    assert body["instanceId"] == links["id"]
    assert body["runtimeStatus"] == "Completed"
    assert body["input"] == '["x", "y"]'
    assert body["customStatus"] is None
    assert body["output"] == ["X", "Y"]
    assert SECONDS_UTC.match(body["createdTime"])
    assert SECONDS_UTC.match(body["lastUpdatedTime"])
    assert body["createdTime"] <= body["lastUpdatedTime"]

    with_history = api.status(links, showHistory="true").json()
    assert set(with_history) == FIELDS | {"historyEvents"}
    assert types(with_history["historyEvents"]) == [
        "ExecutionStarted",
        "TaskCompleted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert "Result" not in with_history["historyEvents"][1]  # outputs need showHistoryOutput
    assert api.status(links, showInput="false").json()["input"] is None


def test_status_of_a_running_instance(api: Api, basics_host: DevHost, board: Board) -> None:
    links = api.start("with_status")
    try:
        api.wait_status(links, lambda s: s["runtimeStatus"] == "Running")
        response = requests.get(links["statusQueryGetUri"], timeout=10)
        assert response.status_code == 202
        assert response.headers["Location"] == links["statusQueryGetUri"]
        assert response.headers["Retry-After"] == "5"
        body = response.json()
        assert set(body) == FIELDS
        assert body["runtimeStatus"] == "Running"
        assert body["output"] is None
        assert body["input"] is None
        assert body["customStatus"] == {"stage": "waiting", "key": links["id"]}
        history = api.status(links, showHistory="true").json()["historyEvents"]
        assert types(history) == ["ExecutionStarted", "TaskScheduled"]  # not completed yet
        assert history[1]["Name"] == "wait_gate"
    finally:
        board.open_gate(links["id"])
    assert api.wait_done(links)["runtimeStatus"] == "Completed"


def test_status_of_a_failed_instance(api: Api, basics_host: DevHost) -> None:
    links = api.start("orchestrator_raises")
    api.wait_done(links)

    response = requests.get(links["statusQueryGetUri"], timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert body["runtimeStatus"] == "Failed"
    assert body["output"] == (
        "Orchestrator function 'orchestrator_raises' failed: E_ORCH: the orchestrator gave up"
    )
    loud = api.status(links, returnInternalServerErrorOnFailure="true")
    assert loud.status_code == 500
    assert loud.json() == body
    history = api.status(links, showHistory="true", showHistoryOutput="true").json()
    assert types(history["historyEvents"]) == [
        "ExecutionStarted",
        "TaskCompleted",
        "ExecutionCompleted",
    ]
    assert history["historyEvents"][-1]["OrchestrationStatus"] == "Failed"
    assert history["historyEvents"][-1]["Result"] == body["output"]


def test_status_of_an_unknown_instance(basics_host: DevHost) -> None:
    response = requests.get(instance_url(basics_host, "no-such-id", basics_host.system_key))
    assert response.status_code == 404
    assert response.content == b""


def test_requests_without_the_system_key_are_refused(api: Api, basics_host: DevHost) -> None:
    links = api.start("sequence", ["k"])
    api.wait_done(links)
    assert f"code={basics_host.system_key}" in links["statusQueryGetUri"]

    assert requests.get(instance_url(basics_host, links["id"])).status_code == 401
    assert requests.get(instance_url(basics_host, links["id"], "wrong")).status_code == 401
    assert requests.delete(instance_url(basics_host, links["id"])).status_code == 401
    terminate = instance_url(basics_host, links["id"]) + "/terminate"
    assert requests.post(terminate).status_code == 401
    keyed = requests.get(
        instance_url(basics_host, links["id"]),
        headers={"x-functions-key": basics_host.system_key},
    )
    assert keyed.status_code == 200
    # The master key opens the extension's webhooks too; a function key is known but not
    # allowed there (403), as the host's SystemKeyAuthLevel policy answers.
    master = requests.get(instance_url(basics_host, links["id"], basics_host.master_key))
    assert master.status_code == 200
    function = requests.get(instance_url(basics_host, links["id"], basics_host.function_key))
    assert function.status_code == 403
    # The local RPC base, like the extension's loopback listener, takes no key.
    assert requests.get(f"{basics_host.rpc_base}instances/{links['id']}").status_code == 200


def test_terminate_answers_202_then_410_and_404_for_unknown(
    api: Api, basics_host: DevHost, board: Board
) -> None:
    links = api.start("waits_forever")
    try:
        api.wait_status(links, lambda s: s["runtimeStatus"] == "Running")
        url = links["terminatePostUri"].replace("{text}", "by%20test")
        first = requests.post(url, timeout=10)
        assert first.status_code == 202
        assert first.content == b""
        status = api.wait_done(links)
        assert status["runtimeStatus"] == "Terminated"
        assert status["output"] == "by test"
        assert types(status["historyEvents"]) == [
            "ExecutionStarted",
            "TaskScheduled",
            "ExecutionTerminated",
            "ExecutionCompleted",
        ]
        assert requests.post(url, timeout=10).status_code == 410
    finally:
        board.open_gate(links["id"])
    unknown = instance_url(basics_host, "no-such-id") + f"/terminate?code={basics_host.system_key}"
    assert requests.post(unknown, timeout=10).status_code == 404


def test_purge_answers_200_then_404(api: Api, basics_host: DevHost) -> None:
    links = api.start("sequence", ["p"])
    api.wait_done(links)

    purged = requests.delete(links["purgeHistoryDeleteUri"], timeout=10)
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 1}
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 404
    assert requests.delete(links["purgeHistoryDeleteUri"], timeout=10).status_code == 404


def test_purge_of_a_running_instance_deletes_it(
    api: Api, basics_host: DevHost, board: Board
) -> None:
    """As the extension does: HttpApiHandler.HandleDeleteHistoryByIdRequestAsync checks only that
    the instance exists, then purges (src/WebJobs.Extensions.DurableTask/HttpApiHandler.cs
    L554-567 at v2.13.7, commit a7c6d69; the same lines on the v3.x branch), and the Azure
    Storage provider's single-instance purge checks no status (DurableTask.AzureStorage
    AzureTableTrackingStore.PurgeInstanceHistoryAsync)."""
    links = api.start("waits_forever")
    api.wait_status(links, lambda s: s["runtimeStatus"] == "Running")
    wait_until(lambda: board.get(f"waiting-{links['id']}"), what="the activity to start")
    dropped = basics_host.stats()["late_completions_dropped"]

    purged = requests.delete(links["purgeHistoryDeleteUri"], timeout=10)
    assert purged.status_code == 200
    assert purged.json() == {"instancesDeleted": 1}
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 404

    board.open_gate(links["id"])  # the activity now finishes, for an instance that is gone
    wait_until(lambda: board.get(f"finished-{links['id']}"), what="the activity to finish")
    wait_until(lambda: basics_host.stats()["late_completions_dropped"] == dropped + 1)
    assert requests.get(links["statusQueryGetUri"], timeout=10).status_code == 404
    assert requests.delete(links["purgeHistoryDeleteUri"], timeout=10).status_code == 404


def test_start_through_the_webhook_and_bad_requests(basics_host: DevHost) -> None:
    key = basics_host.system_key
    started = requests.post(
        f"{basics_host.webhook_base}/orchestrators/sequence/webhook-1?code={key}",
        json=json.dumps(["w"]),  # JSON text in a JSON string, as the Python SDK sends it
        timeout=10,
    )
    assert started.status_code == 202
    assert started.json()["id"] == "webhook-1"
    assert started.headers["Location"] == started.json()["statusQueryGetUri"]
    api = Api(basics_host.base_url)
    assert api.wait_done(started.json())["output"] == ["W"]

    unknown = requests.post(f"{basics_host.webhook_base}/orchestrators/nope?code={key}")
    assert unknown.status_code == 400
    assert "'nope' doesn't exist" in unknown.json()["ExceptionMessage"]
    bad_id = requests.post(f"{basics_host.webhook_base}/orchestrators/sequence/@x?code={key}")
    assert bad_id.status_code == 400
