"""Point-in-time analyses over HTTP on the local host (the real app, Azurite): `as_of` admitted
or refused, carried by every job of a batch, and a planted future-dated item failing the job
with `lookahead_violation` through the real orchestration.

The app (tests/e2e/apps/leaky) is the real one, with its providers wrapped so that the test's
`Board` can plant one item dated after `as_of`: a close in the ticker's series, a close in the
benchmark's, or a news article. Each test takes an as_of of its own, so the benchmark cache
(keyed by provider and as_of) never hands one test's snapshot to another.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import REPORTS_CONTAINER
from tests.app_env import app_folder, app_settings, key_header, keyed
from tests.control import CONTROL_SETTING, Board
from tests.e2e.conftest import StorageCounts
from tests.e2e.test_analysis_http import follow
from tests.e2e.test_batches import follow_batch, submit_batch

HUB = "StockMemoLookahead"
LEAKY_APP = "tests.e2e.apps.leaky.function_app:app"
BARE_DATE = re.compile(r"(?<![\d-])(\d{4}-\d{2}-\d{2})(?![\dT])")


@dataclass
class LeakyHost:
    host: DevHost
    board: Board


@pytest.fixture(scope="module")
def leaky(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeakyHost]:
    root = app_folder(tmp_path_factory.mktemp("lookahead_app"), HUB)
    board = Board(root / "board")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(patch, azurite.connection_string):
            with DevHost(LEAKY_APP, root=root, port=0) as running:
                yield LeakyHost(running, board)


@pytest.fixture
def planted(leaky: LeakyHost) -> Iterator[LeakyHost]:
    yield leaky
    leaky.board.put("leak", None)


def submit(host: DevHost, body: Any) -> requests.Response:
    return requests.post(
        f"{host.base_url}/api/analyses", json=body, headers=key_header(host), timeout=30
    )


def blob_text(azurite: Azurite, name: str) -> str:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    return blobs.get_container_client(REPORTS_CONTAINER).download_blob(name).readall().decode()


def blob_exists(azurite: Azurite, name: str) -> bool:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    return blobs.get_container_client(REPORTS_CONTAINER).get_blob_client(name).exists()


def dates_after(text: str, as_of: date) -> list[str]:
    return [d for d in BARE_DATE.findall(text) if date.fromisoformat(d) > as_of]


def test_a_point_in_time_memo_says_its_date_and_holds_nothing_later(
    leaky: LeakyHost, azurite: Azurite
) -> None:
    as_of = date(2021, 3, 19)
    answer = submit(leaky.host, {"ticker": "msft", "as_of": as_of.isoformat()})
    assert answer.status_code == 202, answer.text
    job, _ = follow(leaky.host, answer.json()["statusQueryGetUri"])
    assert job["status"] == "completed", job
    assert job["as_of"] == "2021-03-19"

    memo = keyed(leaky.host).get(job["report_url"], timeout=10).text
    assert "As of 2021-03-19" in "\n".join(memo.splitlines()[:5])
    assert dates_after(memo, as_of) == []
    assert "not available point in time" in memo
    evidence = blob_text(azurite, f"MSFT/{job['id']}/evidence.json")
    assert '"as_of": "2021-03-19"' in evidence
    assert dates_after(evidence, as_of) == []


@pytest.mark.parametrize(
    ("leak", "as_of", "stage"),
    [
        ("series", date(2021, 4, 16), "gathering_evidence"),
        ("benchmark", date(2021, 4, 23), "gathering_evidence"),
        ("news", date(2021, 4, 30), "writing_memo"),
    ],
)
def test_a_planted_future_item_fails_the_job_with_lookahead_violation(
    planted: LeakyHost, azurite: Azurite, leak: str, as_of: date, stage: str
) -> None:
    planted.board.put("leak", leak)
    answer = submit(planted.host, {"ticker": "AAPL", "as_of": as_of.isoformat()})
    assert answer.status_code == 202, answer.text
    job, _ = follow(planted.host, answer.json()["statusQueryGetUri"])

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "lookahead_violation"
    assert job["error"]["stage"] == stage
    assert "after as_of " + as_of.isoformat() in job["error"]["message"]
    assert not blob_exists(azurite, f"AAPL/{job['id']}/memo.md")
    assert not blob_exists(azurite, f"AAPL/{job['id']}/evidence.json")


def test_without_as_of_a_planted_leak_has_nothing_to_leak(planted: LeakyHost) -> None:
    planted.board.put("leak", "news")
    answer = submit(planted.host, {"ticker": "AAPL"})
    job, _ = follow(planted.host, answer.json()["statusQueryGetUri"])
    assert job["status"] == "completed" and "as_of" not in job
    memo = keyed(planted.host).get(job["report_url"], timeout=10).text
    assert "As of" not in "\n".join(memo.splitlines()[:5])


def refusals() -> list[tuple[Any, str]]:
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    return [
        ("2021-3-19", "2021-3-19"),
        ("2021-02-30", "2021-02-30"),
        (20210319, "20210319"),
        (tomorrow, tomorrow),
        ("1989-12-29", "1989-12-29"),  # before the simulated market's first day, 1990-01-02
    ]


@pytest.mark.parametrize(("as_of", "value"), refusals())
def test_a_bad_as_of_is_refused_and_writes_nothing(
    leaky: LeakyHost, azurite: Azurite, as_of: Any, value: str
) -> None:
    counts = StorageCounts(azurite.connection_string)
    before = counts.snapshot()
    for answer in (
        submit(leaky.host, {"ticker": "AAPL", "as_of": as_of}),
        submit_batch(leaky.host, {"tickers": ["AAPL", "MSFT"], "as_of": as_of}),
    ):
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["code"] == "invalid_as_of"
        assert error["field"] == "as_of" and error["value"] == value
    assert counts.snapshot() == before


def test_every_child_of_a_point_in_time_batch_carries_its_as_of(
    leaky: LeakyHost, azurite: Azurite
) -> None:
    answer = submit_batch(leaky.host, {"tickers": ["AAPL", "KO"], "as_of": "2020-06-30"})
    assert answer.status_code == 202, answer.text
    batch = follow_batch(leaky.host, answer.json()["statusQueryGetUri"])
    assert batch["status"] == "completed", batch
    assert batch["as_of"] == "2020-06-30"
    api = keyed(leaky.host)
    for item in batch["items"]:
        child = api.get(f"{leaky.host.base_url}/api/analyses/{item['id']}", timeout=10).json()
        assert child["status"] == "completed" and child["as_of"] == "2020-06-30"
        memo = api.get(child["report_url"], timeout=10).text
        assert "As of 2020-06-30" in "\n".join(memo.splitlines()[:5])
        assert dates_after(memo, date(2020, 6, 30)) == []
