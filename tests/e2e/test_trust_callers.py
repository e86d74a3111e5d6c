"""AUTH_MODE=easyauth over HTTP: owners are isolated, and each owner's hourly quota is exact.

The real app on the local host against Azurite; callers are told apart by App Service
Authentication's X-MS-CLIENT-PRINCIPAL header, as the platform sets it. Every call carries the
host's function key: without it the host refuses the call before any principal is looked at.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import ANALYSES_TABLE
from tests.app_env import APP, app_settings, key_header
from tests.e2e.conftest import StorageCounts
from tests.e2e.test_analysis_http import MANAGEMENT_MARKERS

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
QUOTA = 5


@pytest.fixture(scope="module")
def easy_host(azurite: Azurite, app_root: Path) -> Iterator[DevHost]:
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(
            patch, azurite.connection_string, AUTH_MODE="easyauth", ANALYSES_PER_HOUR=str(QUOTA)
        ):
            with DevHost(APP, root=app_root, port=0) as running:
                yield running


def as_owner(oid: str, claim: str = OID_CLAIM) -> dict[str, str]:
    principal = {"auth_typ": "aad", "claims": [{"typ": claim, "val": oid}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(principal).encode()).decode()}


def keyed_as(host: DevHost, headers: dict[str, str]) -> dict[str, str]:
    """`headers` plus the host's function key."""
    return {**headers, **key_header(host)}


def new_owner() -> dict[str, str]:
    return as_owner(str(uuid.uuid4()))


def leaked(response: requests.Response) -> bool:
    """A listing with any item, or any other answer that is not an error."""
    body = response.json()
    return bool(body["items"]) if "items" in body else response.status_code < 400


def answer(response: requests.Response) -> tuple[int, bytes]:
    return response.status_code, response.content


def job_rows(azurite: Azurite, owner: dict[str, str]) -> list[str]:
    principal = json.loads(base64.b64decode(owner["X-MS-CLIENT-PRINCIPAL"]))
    oid = principal["claims"][0]["val"]
    table = TableServiceClient.from_connection_string(azurite.connection_string)
    return [e["RowKey"] for e in table.get_table_client(ANALYSES_TABLE).query_entities(
        "PartitionKey eq @o", parameters={"o": oid})]


def test_another_owner_gets_exactly_the_unknown_id_answers(easy_host: DevHost) -> None:
    api = f"{easy_host.base_url}/api/analyses"
    a, b = keyed_as(easy_host, new_owner()), keyed_as(easy_host, new_owner())
    done = requests.post(api, json={"ticker": "BOLA"}, headers=a, timeout=10)
    assert done.status_code == 202, done.text
    done_id = done.json()["id"]
    job, _ = follow_as(done.json()["statusQueryGetUri"], a)
    assert job["status"] == "completed"
    running = requests.post(api, json={"ticker": "BOLA"}, headers=a, timeout=10).json()["id"]
    cursor = requests.get(api, params={"ticker": "BOLA", "limit": "1"}, headers=a,
                          timeout=10).json()["next_cursor"]
    assert cursor

    def attempts(owner: dict[str, str], job_id: str, ticker: str) -> list[requests.Response]:
        url = f"{api}/{job_id}"
        return [
            requests.get(url, headers=owner, timeout=10),
            requests.get(f"{url}/report", headers=owner, timeout=10),
            requests.get(f"{url}/report", params={"link": "sas"}, headers=owner, timeout=10),
            requests.delete(url, headers=owner, timeout=10),
            requests.get(api, params={"ticker": ticker}, headers=owner, timeout=10),
            requests.get(api, params={"ticker": ticker, "cursor": cursor}, headers=owner,
                         timeout=10),
        ]

    successes = 0
    seen: list[requests.Response] = []
    for i in range(100):
        target = done_id if i % 2 == 0 else running
        theirs = attempts(b, target, "BOLA")
        unknown = attempts(b, uuid.uuid4().hex, "NOBODY")
        assert [answer(r) for r in theirs] == [answer(r) for r in unknown], i
        successes += sum(leaked(r) for r in theirs)
        seen.extend(theirs)
    assert successes == 0
    codes = {r.json().get("error", {}).get("code") for r in seen}
    assert codes == {"not_found", None}  # None: the (empty) listings

    # The owner still sees both jobs untouched by the other's 100 cancels.
    mine = requests.get(f"{api}/{done_id}", headers=a, timeout=10).json()
    assert mine["status"] == "completed"
    assert requests.get(f"{api}/{done_id}/report", headers=a, timeout=10).status_code == 200
    later, _ = follow_as(f"{api}/{running}", a)
    assert later["status"] == "completed"
    for response in [done, *seen]:
        assert not any(marker in response.text for marker in MANAGEMENT_MARKERS)


def follow_as(url: str, owner: dict[str, str], timeout: float = 60) -> tuple[dict[str, Any], int]:
    """Poll a job as `owner` until it ends; the last view and the number of polls."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        job = requests.get(url, headers=owner, timeout=10).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job, polls
        time.sleep(0.03)
    raise AssertionError(f"{url} did not finish")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-MS-CLIENT-PRINCIPAL": ""},
        {"X-MS-CLIENT-PRINCIPAL": "%%% not base64"},
        {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b'{"claims": []}').decode()},
        as_owner("not-a-guid"),
        as_owner(str(uuid.uuid4()), claim="name"),
    ],
    ids=["missing", "empty", "garbage", "no-claims", "not-a-guid", "no-oid-claim"],
)
def test_without_a_principal_every_route_answers_401(
    easy_host: DevHost, counts: StorageCounts, headers: dict[str, str]
) -> None:
    api = f"{easy_host.base_url}/api/analyses"
    some_id = uuid.uuid4().hex
    before = counts.snapshot()

    def every_route(headers: dict[str, str]) -> list[requests.Response]:
        return [
            requests.post(api, json={"ticker": "AAPL"}, headers=headers, timeout=10),
            requests.get(api, params={"ticker": "AAPL"}, headers=headers, timeout=10),
            requests.get(f"{api}/{some_id}", headers=headers, timeout=10),
            requests.get(f"{api}/{some_id}/report", headers=headers, timeout=10),
            requests.get(f"{api}/{some_id}/report?link=sas", headers=headers, timeout=10),
            requests.delete(f"{api}/{some_id}", headers=headers, timeout=10),
        ]

    for response in every_route(keyed_as(easy_host, headers)):
        assert response.status_code == 401, response.request.method
        assert response.json()["error"]["code"] == "unauthenticated"
    # Without the function key the host refuses the call itself: 401, with an empty body.
    for response in every_route(headers):
        assert response.status_code == 401 and response.content == b"", response.request.method
    assert counts.snapshot() == before
    # What needs no owner stays open (to key holders): health and the API description.
    key = key_header(easy_host)
    for path in ("/api/health", "/api/openapi.json"):
        assert requests.get(easy_host.base_url + path, headers=key, timeout=10).status_code == 200
        assert requests.get(easy_host.base_url + path, timeout=10).status_code == 401


def test_the_hourly_quota_is_exact_under_concurrency(
    easy_host: DevHost, azurite: Azurite, counts: StorageCounts
) -> None:
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 50:  # keep the burst inside one clock hour
        time.sleep(61 - now.second)
    owner = keyed_as(easy_host, new_owner())
    api = f"{easy_host.base_url}/api/analyses"
    before = counts.snapshot()
    start = threading.Barrier(20)

    def post(i: int) -> requests.Response:
        start.wait()
        return requests.post(api, json={"ticker": f"Q{i}"}, headers=owner, timeout=30)

    with ThreadPoolExecutor(20) as pool:
        responses = list(pool.map(post, range(20)))

    accepted = [r for r in responses if r.status_code == 202]
    refused = [r for r in responses if r.status_code == 429]
    assert len(accepted) == QUOTA and len(refused) == 20 - QUOTA, [r.text for r in responses]
    for response in refused:
        assert response.json()["error"]["code"] == "quota_exceeded"
        assert 1 <= int(response.headers["Retry-After"]) <= 3600
    rows = job_rows(azurite, owner)
    assert sorted(k.split("_")[0] for k in rows) == ["job"] * QUOTA + ["quota"]
    assert counts.snapshot()["instances"] == before["instances"] + QUOTA
    # Another owner has a quota of its own.
    someone = keyed_as(easy_host, new_owner())
    other = requests.post(api, json={"ticker": "Q0"}, headers=someone, timeout=10)
    assert other.status_code == 202
    for response, by in [*((r, owner) for r in accepted), (other, someone)]:
        job, _ = follow_as(response.json()["statusQueryGetUri"], by)
        assert job["status"] == "completed"
