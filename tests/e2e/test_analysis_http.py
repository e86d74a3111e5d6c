"""End to end over HTTP: the local host, the real app and activities, Azurite."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from tests.app_env import key_header, keyed
from tests.e2e.conftest import StorageCounts

STAGE_ORDER = ["queued", "gathering_evidence", "writing_memo", "persisting", "completed"]
MANAGEMENT_MARKERS = ("code=", "/runtime/webhooks/durabletask")


def submit(host: DevHost, body: Any = None, raw: bytes | None = None) -> requests.Response:
    url = f"{host.base_url}/api/analyses"
    if raw is not None:
        headers = {"Content-Type": "application/json", **key_header(host)}
        return requests.post(url, data=raw, headers=headers, timeout=10)
    return requests.post(url, json=body, headers=key_header(host), timeout=10)


def follow(host: DevHost, url: str, timeout: float = 60) -> tuple[dict[str, Any], list[str]]:
    """Poll a job until it ends; returns the last view and the stages seen, in order."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(url, headers=key_header(host), timeout=10).json()
        if not seen or seen[-1] != job["stage"]:
            seen.append(job["stage"])
        if job["status"] in ("completed", "failed", "cancelled"):
            return job, seen
        time.sleep(0.03)
    raise AssertionError(f"{url} did not finish; stages seen {seen}")


def test_one_ticker_end_to_end(host: DevHost, azurite: Azurite) -> None:
    answer = submit(host, {"ticker": "msft"})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert set(body) == {"id", "statusQueryGetUri", "reportUri"}
    job_id = body["id"]
    assert body["statusQueryGetUri"] == f"{host.base_url}/api/analyses/{job_id}"
    assert body["reportUri"] == f"{host.base_url}/api/analyses/{job_id}/report"
    assert answer.headers["Location"] == body["statusQueryGetUri"]
    assert int(answer.headers["Retry-After"]) > 0

    api = keyed(host)
    right_away = api.get(body["statusQueryGetUri"], timeout=10)
    assert right_away.status_code == 200
    assert right_away.json()["id"] == job_id and right_away.json()["ticker"] == "MSFT"
    assert right_away.json()["status"] in ("queued", "running")
    early_report = api.get(body["reportUri"], timeout=10)
    assert early_report.status_code == 409
    assert early_report.json()["error"]["code"] == "not_completed"

    job, seen = follow(host, body["statusQueryGetUri"])
    assert job["status"] == "completed", job
    assert seen == sorted(seen, key=STAGE_ORDER.index) and seen[-1] == "completed"
    assert "gathering_evidence" in seen  # the simulated latency keeps it visible
    assert job["verdict"] in ("buy", "hold", "sell") and 0 <= job["confidence"] <= 1
    assert job["started_at"] and job["completed_at"] and job["report_url"] == body["reportUri"]
    assert job["grounding"] == "not_applicable"

    report = api.get(body["reportUri"], timeout=10)
    assert report.status_code == 200
    assert report.headers["Content-Type"] == "text/markdown; charset=utf-8"
    memo = report.text
    assert memo.startswith("# MSFT research memo") and "SIMULATED DATA" in memo[:300]
    assert f"**{job['verdict'].upper()}**" in memo and f"{job['confidence']:.2f}" in memo

    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    names = {b.name for b in blobs.get_container_client(REPORTS_CONTAINER).list_blobs(
        name_starts_with=f"MSFT/{job_id}/")}
    assert {f"MSFT/{job_id}/memo.md", f"MSFT/{job_id}/evidence.json"} <= names
    stored = blobs.get_blob_client(REPORTS_CONTAINER, f"MSFT/{job_id}/memo.md")
    assert stored.download_blob().readall().decode() == memo
    anonymous = requests.get(stored.url, timeout=10)
    assert anonymous.status_code in (403, 404)  # the container is private

    table = TableServiceClient.from_connection_string(azurite.connection_string)
    rows = list(table.get_table_client(ANALYSES_TABLE).query_entities(
        "PartitionKey eq 'anonymous' and JobId eq @id", parameters={"id": job_id}))
    keys = sorted(r["RowKey"] for r in rows)
    assert keys[0] == f"job_{job_id}" and keys[1].startswith("log_MSFT_") and len(keys) == 2

    listed = api.get(f"{host.base_url}/api/analyses", params={"ticker": "msft"}, timeout=10)
    assert listed.status_code == 200 and job_id in [i["id"] for i in listed.json()["items"]]

    for response in (answer, right_away, report, listed):
        assert not any(marker in response.text for marker in MANAGEMENT_MARKERS)


def test_listing_is_newest_first_with_a_cursor(host: DevHost) -> None:
    ids = []
    for _ in range(3):
        answer = submit(host, {"ticker": "LIST.A"})
        assert answer.status_code == 202
        ids.append(answer.json()["id"])
    url = f"{host.base_url}/api/analyses"
    api = keyed(host)
    first = api.get(url, params={"ticker": "LIST.A", "limit": "2"}, timeout=10).json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2] and first["next_cursor"]
    second = api.get(url, params={"ticker": "LIST.A", "limit": "2",
                                       "cursor": first["next_cursor"]}, timeout=10).json()
    assert [i["id"] for i in second["items"]] == [ids[0]] and second["next_cursor"] is None
    for job_id in ids:
        follow(host, f"{url}/{job_id}")


@pytest.mark.parametrize(
    ("body", "raw", "code"),
    [
        ({"ticker": ""}, None, "invalid_ticker"),
        ({"ticker": "aapl; rm -rf /"}, None, "invalid_ticker"),
        ({"ticker": "A" * 11}, None, "invalid_ticker"),
        ({"ticker": 42}, None, "invalid_ticker"),
        ({"ticker": "../x"}, None, "invalid_ticker"),
        (None, b"{not json", "invalid_body"),
        ({}, None, "invalid_body"),
        ({"ticker": "AAPL", "extra": 1}, None, "invalid_body"),
        (["AAPL"], None, "invalid_body"),
        (None, b"", "invalid_body"),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(
    host: DevHost, counts: StorageCounts, body: Any, raw: bytes | None, code: str
) -> None:
    before = counts.snapshot()
    answer = submit(host, body, raw)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and error["message"]
    assert counts.snapshot() == before


def test_unknown_ids_and_bad_queries(host: DevHost) -> None:
    url = f"{host.base_url}/api/analyses"
    api = keyed(host)
    for path in ("/0123456789abcdef0123456789abcdef", "/not-an-id", "/x/report"):
        answer = api.get(url + path, timeout=10)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
    assert api.get(url, params={"ticker": "bad ticker"}, timeout=10).json()["error"][
        "code"] == "invalid_ticker"
    assert api.get(url, params={"ticker": "AAPL", "limit": "0"}, timeout=10).json()[
        "error"]["code"] == "invalid_query"
    assert api.get(url, params={"ticker": "AAPL", "cursor": "!!"}, timeout=10).json()[
        "error"]["code"] == "invalid_query"


def test_unknown_ticker_fails_the_job_with_its_code(host: DevHost) -> None:
    answer = submit(host, {"ticker": "ZZZZ"})
    job, _ = follow(host, answer.json()["statusQueryGetUri"])
    assert job["status"] == "failed" and job["stage"] == "failed"
    assert job["error"] == {
        "code": "unknown_ticker",
        "message": job["error"]["message"],
        "stage": "gathering_evidence",
    }
    report = requests.get(answer.json()["reportUri"], headers=key_header(host), timeout=10)
    assert report.status_code == 409 and report.json()["error"]["status"] == "failed"


def test_health(host: DevHost) -> None:
    answer = requests.get(f"{host.base_url}/api/health", headers=key_header(host), timeout=10)
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "degraded"  # offline providers are active
    assert health["checks"]["storage"] == {"ok": True}
    assert health["checks"]["market_data"]["provider"] == "simulated"
