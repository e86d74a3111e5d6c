"""POST /api/analyses under load and abuse, over HTTP on the local host with Azurite:
Idempotency-Key replays, oversized bodies, and the Durable management URLs kept out (and shown
only by a host started with EXPOSE_DURABLE_MANAGEMENT_URLS=true)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from tests.app_env import APP, app_folder, app_settings, key_header, keyed
from tests.e2e.conftest import StorageCounts
from tests.e2e.test_analysis_http import MANAGEMENT_MARKERS, follow

EXPOSED_HUB = "StockMemoExposed"


def job_rows(azurite: Azurite, ticker: str) -> list[str]:
    table = TableServiceClient.from_connection_string(azurite.connection_string)
    return [e["JobId"] for e in table.get_table_client(ANALYSES_TABLE).query_entities(
        "PartitionKey eq 'anonymous' and RowKey ge 'job_' and RowKey lt 'job`' and Ticker eq @t",
        parameters={"t": ticker})]


def memo_blobs(azurite: Azurite, ticker: str) -> list[str]:
    container = BlobServiceClient.from_connection_string(
        azurite.connection_string).get_container_client(REPORTS_CONTAINER)
    return [b.name for b in container.list_blobs(name_starts_with=f"{ticker}/")
            if b.name.endswith("/memo.md")]


def test_fifty_concurrent_posts_with_one_key_make_one_job_and_one_memo(
    host: DevHost, azurite: Azurite, counts: StorageCounts
) -> None:
    url = f"{host.base_url}/api/analyses"
    headers = {"Idempotency-Key": "fifty-at-once", **key_header(host)}
    before = counts.snapshot()
    start = threading.Barrier(50)

    def post(_: int) -> requests.Response:
        start.wait()
        return requests.post(url, json={"ticker": "IDEM"}, headers=headers, timeout=30)

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(post, range(50)))

    assert {r.status_code for r in responses} == {202}, [r.text for r in responses]
    assert len({r.content for r in responses}) == 1  # the same id and URLs, byte for byte
    assert len({r.headers["Location"] for r in responses}) == 1
    job_id = responses[0].json()["id"]
    job, _ = follow(host, responses[0].json()["statusQueryGetUri"])
    assert job["status"] == "completed"
    assert counts.snapshot()["instances"] == before["instances"] + 1
    assert job_rows(azurite, "IDEM") == [job_id]
    assert memo_blobs(azurite, "IDEM") == [f"IDEM/{job_id}/memo.md"]

    # After the job finished: the same answer, and no orchestration nor activity runs again.
    settled = counts.snapshot()
    activities = host.stats()["activities_started"]
    again = requests.post(url, json={"ticker": "idem"}, headers=headers, timeout=10)
    assert again.status_code == 202 and again.content == responses[0].content
    assert counts.snapshot() == settled
    assert host.stats()["activities_started"] == activities

    # The same key with another body: refused, nothing written.
    other = requests.post(url, json={"ticker": "OTHER"}, headers=headers, timeout=10)
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert counts.snapshot() == settled
    for response in [*responses, again, other]:
        assert not any(marker in response.text for marker in MANAGEMENT_MARKERS)


@pytest.mark.parametrize(
    "key", ["", "x" * 201, "caf\u00e9"], ids=["empty", "too-long", "latin1"]
)
def test_a_bad_idempotency_key_is_refused_and_writes_nothing(
    host: DevHost, counts: StorageCounts, key: str
) -> None:
    before = counts.snapshot()
    answer = requests.post(f"{host.base_url}/api/analyses", json={"ticker": "AAPL"},
                           headers={"Idempotency-Key": key, **key_header(host)}, timeout=10)
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_idempotency_key"
    assert counts.snapshot() == before


def test_an_oversized_body_is_413_and_writes_nothing(host: DevHost, counts: StorageCounts) -> None:
    url = f"{host.base_url}/api/analyses"
    big = b'{"ticker": "AAPL", "padding": "' + b"x" * 5000 + b'"}'
    headers = {"Content-Type": "application/json", **key_header(host)}
    before = counts.snapshot()
    declared = requests.post(url, data=big, headers=headers, timeout=10)
    chunked = requests.post(url, data=iter([big[:2000], big[2000:]]), headers=headers, timeout=10)
    assert declared.status_code == 413, declared.text
    assert declared.json()["error"]["code"] == "body_too_large"
    # The Functions host hands a worker the body only when the request has a Content-Length
    # (azure-functions-host#4926): a chunked body never reaches the app, which says so.
    assert "Content-Length" not in chunked.request.headers
    assert chunked.status_code == 411, chunked.text
    assert chunked.json()["error"]["code"] == "length_required"
    assert counts.snapshot() == before


@pytest.fixture
def exposed_host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    """The app with EXPOSE_DURABLE_MANAGEMENT_URLS=true (its workers read it at start)."""
    root = app_folder(tmp_path_factory.mktemp("exposed"), EXPOSED_HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(
            patch, azurite.connection_string, EXPOSE_DURABLE_MANAGEMENT_URLS="true"
        ):
            with DevHost(APP, root=root, port=0) as running:
                yield running


def test_management_urls_only_when_exposed(host: DevHost) -> None:
    url = f"{host.base_url}/api/analyses"
    api = keyed(host)
    hidden = api.post(url, json={"ticker": "MGMT"}, headers={"Idempotency-Key": "m"}, timeout=10)
    assert hidden.status_code == 202 and "management" not in hidden.json()
    job, _ = follow(host, hidden.json()["statusQueryGetUri"])
    responses = [
        hidden,
        api.get(hidden.json()["statusQueryGetUri"], timeout=10),
        api.get(hidden.json()["reportUri"], timeout=10),
        api.get(hidden.json()["reportUri"], params={"link": "sas"}, timeout=10),
        api.get(url, params={"ticker": "MGMT"}, timeout=10),
        api.delete(hidden.json()["statusQueryGetUri"], timeout=10),
        api.get(f"{host.base_url}/api/health", timeout=10),
        api.get(f"{host.base_url}/api/openapi.json", timeout=10),
    ]
    assert job["status"] == "completed"
    for response in responses:
        assert not any(marker in response.text for marker in MANAGEMENT_MARKERS), response.url


def test_management_urls_appear_under_management_when_exposed(exposed_host: DevHost) -> None:
    url = f"{exposed_host.base_url}/api/analyses"
    api = keyed(exposed_host)
    answer = api.post(url, json={"ticker": "MGMT"}, headers={"Idempotency-Key": "e"}, timeout=10)
    assert answer.status_code == 202
    body = answer.json()
    management = body["management"]
    assert management["id"] == body["id"]
    assert "/runtime/webhooks/durabletask" in management["statusQueryGetUri"]
    assert "code=" in management["terminatePostUri"]
    # Only there: the public URLs stay the API's own.
    assert not any(m in body["statusQueryGetUri"] + body["reportUri"] for m in MANAGEMENT_MARKERS)
    replay = api.post(url, json={"ticker": "MGMT"}, headers={"Idempotency-Key": "e"}, timeout=10)
    assert replay.json() == body
    follow(exposed_host, body["statusQueryGetUri"])
