"""GET /api/analyses/{id}/report?link=sas over HTTP: a read-only link to one blob, briefly.

The links are service SAS signed with Azurite's account key (the connection string's); Azurite
checks their signature, scope and expiry as Storage does. The expiry test asks a second host,
started with SAS_TTL_SECONDS=2 on the same storage, for a link to the job the first one ran.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.app_env import APP, app_folder, app_settings, key_header, keyed
from tests.e2e.test_analysis_http import follow, submit

SHORT_TTL_HUB = "StockMemoShortLinks"


@pytest.fixture(scope="module")
def completed(host: DevHost) -> dict[str, str]:
    answer = submit(host, {"ticker": "LINK"})
    job, _ = follow(host, answer.json()["statusQueryGetUri"])
    assert job["status"] == "completed"
    return dict(answer.json())


@pytest.fixture
def short_ttl_host(
    azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevHost]:
    """The app with SAS_TTL_SECONDS=2 (its workers read it at start), on the same storage."""
    root = app_folder(tmp_path_factory.mktemp("short_links"), SHORT_TTL_HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, SAS_TTL_SECONDS="2"):
            with DevHost(APP, root=root, port=0) as running:
                yield running


def link(host: DevHost, job: dict[str, str]) -> requests.Response:
    url = f"{host.base_url}/api/analyses/{job['id']}/report"
    return requests.get(url, params={"link": "sas"}, headers=key_header(host), timeout=10)


def test_the_link_reads_that_memo_and_nothing_else(
    host: DevHost, completed: dict[str, str]
) -> None:
    asked = datetime.now(UTC)
    answer = link(host, completed)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"url", "expires_at"}
    expires = datetime.fromisoformat(body["expires_at"])
    assert asked < expires <= asked + timedelta(seconds=901)

    url = urlsplit(body["url"])
    assert url.path.endswith(f"/reports/LINK/{completed['id']}/memo.md")
    sas = parse_qs(url.query)
    assert sas["sp"] == ["r"] and sas["sr"] == ["b"]  # read, this one blob

    through_api = requests.get(completed["reportUri"], headers=key_header(host), timeout=10)
    through_link = requests.get(body["url"], timeout=10)
    assert through_link.status_code == 200
    assert through_link.content == through_api.content

    # The same signature on another blob of the same job, or with more permissions: refused.
    evidence = body["url"].replace("/memo.md?", "/evidence.json?")
    assert requests.get(evidence, timeout=10).status_code == 403
    widened = body["url"].replace("sp=r", "sp=rw")
    assert requests.get(widened, timeout=10).status_code == 403
    # Without the signature the container is private.
    bare = body["url"].split("?", 1)[0]
    assert requests.get(bare, timeout=10).status_code in (403, 404)
    listing = bare.rsplit("/reports/", 1)[0] + "/reports?restype=container&comp=list"
    assert requests.get(listing, timeout=10).status_code in (403, 404)


def test_the_link_expires(completed: dict[str, str], short_ttl_host: DevHost) -> None:
    body = link(short_ttl_host, completed).json()
    expires = datetime.fromisoformat(body["expires_at"])
    assert expires - datetime.now(UTC) <= timedelta(seconds=2)
    assert requests.get(body["url"], timeout=10).status_code == 200
    time.sleep(max(0.0, (expires - datetime.now(UTC)).total_seconds()) + 1.5)
    assert requests.get(body["url"], timeout=10).status_code == 403


def test_no_link_without_a_completed_job(host: DevHost, completed: dict[str, str]) -> None:
    api = keyed(host)
    unknown = f"{host.base_url}/api/analyses/{'0' * 32}/report"
    assert api.get(unknown, params={"link": "sas"}, timeout=10).status_code == 404
    bogus = api.get(completed["reportUri"], params={"link": "ftp"}, timeout=10)
    assert bogus.status_code == 400
    assert bogus.json()["error"] == {
        "code": "invalid_query", "message": bogus.json()["error"]["message"], "field": "link"}
    failed = submit(host, {"ticker": "ZZZZ"}).json()
    follow(host, failed["statusQueryGetUri"])
    refused = api.get(failed["reportUri"], params={"link": "sas"}, timeout=10)
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_completed"
    assert refused.json()["error"]["status"] == "failed"
