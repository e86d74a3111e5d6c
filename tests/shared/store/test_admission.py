"""Quota and Idempotency-Key rows, straight against Azurite, raced from many threads."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.data.tables import TableClient

from devhost.azurite import Azurite
from shared.domain.models import AnalysisRequest, Job, JobStatus, Stage
from shared.errors import IdempotencyConflict, InvalidIdempotencyKey, QuotaExceeded
from shared.store.admission import (
    Admission,
    Admitted,
    IdempotencyClaim,
    QuotaMemo,
    QuotaState,
    check_idempotency_key,
    seconds_to_next_hour,
)
from shared.store.jobs import JobStore
from shared.store.rows import quota_row_key
from tests.app_env import app_settings


@pytest.fixture
def env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with app_settings(monkeypatch, azurite.connection_string):
        yield


def new_job(owner: str, ticker: str = "AAPL") -> Job:
    return Job(id=uuid.uuid4().hex, owner=owner, ticker=ticker, status=JobStatus.QUEUED,
               stage=Stage.QUEUED, created_at=datetime.now(UTC))


def rows(owner: str) -> dict[str, dict[str, Any]]:
    table = JobStore().table
    return {e["RowKey"]: dict(e) for e in table.query_entities(
        "PartitionKey eq @o", parameters={"o": owner})}


def race(count: int, attempt: Callable[[], Any]) -> list[Any]:
    """`count` calls released at once; each result or the exception it raised."""
    start = threading.Barrier(count)

    def one() -> Any:
        start.wait()
        try:
            return attempt()
        except Exception as exc:  # collected: the test inspects what each caller got
            return exc

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _: one(), range(count)))


def test_fifty_racing_requests_with_one_key_make_one_job(env: None) -> None:
    owner = str(uuid.uuid4())
    claim = IdempotencyClaim.of(owner, "order-7", AnalysisRequest(ticker="msft"))
    results = race(50, lambda: Admission().admit(new_job(owner, "MSFT"), claim, per_hour=100))

    assert all(isinstance(r, Admitted) for r in results), results
    job_ids = {r.job_id for r in results}
    assert len(job_ids) == 1 and sum(not r.replay for r in results) == 1
    stored = rows(owner)
    assert sorted(k.split("_")[0] for k in stored) == ["idem", "job", "quota"]
    assert stored[f"job_{job_ids.pop()}"]["Ticker"] == "MSFT"
    assert stored[claim.row_key]["BodyHash"] == claim.body_hash
    assert stored[quota_row_key(datetime.now(UTC))]["Count"] == 1  # replays do not count


def test_the_same_key_with_another_body_conflicts_and_writes_nothing(env: None) -> None:
    owner = str(uuid.uuid4())
    first = Admission().admit(
        new_job(owner), IdempotencyClaim.of(owner, "k", AnalysisRequest(ticker="AAPL")), 10
    )
    before = rows(owner)
    # Normalised bodies compare equal: "aapl" is the request "AAPL".
    again = Admission().admit(
        new_job(owner), IdempotencyClaim.of(owner, "k", AnalysisRequest(ticker="aapl")), 10
    )
    assert again == Admitted(first.job_id, replay=True)
    with pytest.raises(IdempotencyConflict) as caught:
        Admission().admit(
            new_job(owner), IdempotencyClaim.of(owner, "k", AnalysisRequest(ticker="MSFT")), 10
        )
    assert caught.value.http_status == 422
    assert rows(owner) == before


def test_keys_are_scoped_to_their_owner(env: None) -> None:
    body = AnalysisRequest(ticker="AAPL")
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    assert IdempotencyClaim.of(a, "k", body).row_key != IdempotencyClaim.of(b, "k", body).row_key
    first = Admission().admit(new_job(a), IdempotencyClaim.of(a, "k", body), 10)
    second = Admission().admit(new_job(b), IdempotencyClaim.of(b, "k", body), 10)
    assert first.job_id != second.job_id and not second.replay


def test_the_hourly_quota_is_exact_under_a_race(env: None) -> None:
    owner = str(uuid.uuid4())
    results = race(20, lambda: Admission().admit(new_job(owner), None, per_hour=5))

    admitted = [r for r in results if isinstance(r, Admitted)]
    refused = [r for r in results if isinstance(r, QuotaExceeded)]
    assert len(admitted) == 5 and len(refused) == 15, results
    assert all(1 <= r.retry_after <= 3600 for r in refused)
    stored = rows(owner)
    assert sum(k.startswith("job_") for k in stored) == 5
    assert stored[quota_row_key(datetime.now(UTC))]["Count"] == 5


def test_a_replay_is_answered_even_over_quota(env: None) -> None:
    owner = str(uuid.uuid4())
    claim = IdempotencyClaim.of(owner, "k", AnalysisRequest(ticker="AAPL"))
    first = Admission().admit(new_job(owner), claim, per_hour=1)
    assert Admission().admit(new_job(owner), claim, per_hour=1) == Admitted(first.job_id, True)
    before = rows(owner)
    with pytest.raises(QuotaExceeded):
        Admission().admit(new_job(owner), None, per_hour=1)
    assert rows(owner) == before


class CountingTable:
    """The analyses table through its own client, counting the HTTP requests it sends."""

    def __init__(self) -> None:
        self.requests = 0
        self.client = TableClient.from_connection_string(
            os.environ["AzureWebJobsStorage"], JobStore().table.table_name,
            raw_request_hook=self._count,
        )

    def _count(self, request: Any) -> None:
        self.requests += 1

    def sent_by(self, call: Callable[[], Any]) -> tuple[Any, int]:
        before = self.requests
        result = call()
        return result, self.requests - before


def test_a_steady_stream_of_admissions_costs_one_round_trip_each(env: None) -> None:
    owner, table, memo = str(uuid.uuid4()), CountingTable(), QuotaMemo()
    admission = Admission(table.client, memo=memo)

    costs = [table.sent_by(lambda: admission.admit(new_job(owner), None, 10))[1]
             for _ in range(4)]
    assert costs == [2, 1, 1, 1]  # the first reads the quota row; the rest remember it
    assert rows(owner)[quota_row_key(datetime.now(UTC))]["Count"] == 4


def test_two_processes_sharing_a_quota_stay_exact(env: None) -> None:
    owner = str(uuid.uuid4())
    table = CountingTable()
    here, there = (Admission(table.client, memo=QuotaMemo()) for _ in range(2))
    outcomes, costs = [], []
    for turn in range(7):
        admission = (here, there)[turn % 2]
        try:
            _, cost = table.sent_by(
                lambda a=admission: a.admit(new_job(owner), None, per_hour=5)
            )
            outcomes.append("admitted")
            costs.append(cost)
        except QuotaExceeded:
            outcomes.append("refused")
    assert outcomes == ["admitted"] * 5 + ["refused"] * 2
    # After the first two, each guess is stale (the other wrote since): the guessed
    # transaction fails with nothing written, then the row is read and the write succeeds.
    assert costs[2:] == [3, 3, 3]
    stored = rows(owner)
    assert stored[quota_row_key(datetime.now(UTC))]["Count"] == 5
    assert sum(k.startswith("job_") for k in stored) == 5


def test_a_remembered_count_at_the_limit_is_read_again_before_refusing(env: None) -> None:
    owner, memo = str(uuid.uuid4()), QuotaMemo()
    admission = Admission(memo=memo)
    admission.admit(new_job(owner), None, per_hour=3)
    key = (admission.table.url, owner, quota_row_key(datetime.now(UTC)))
    assert memo.get(key) is not None and memo.get(key).count == 1  # type: ignore[union-attr]
    memo.put(key, QuotaState(3, "W/\"datetime'2000-01-01T00%3A00%3A00Z'\""))  # wrong, at limit

    assert not admission.admit(new_job(owner), None, per_hour=3).replay
    assert rows(owner)[quota_row_key(datetime.now(UTC))]["Count"] == 2


def test_the_memo_is_bounded() -> None:
    memo = QuotaMemo(entries=2)
    for owner in ("a", "b", "c"):
        memo.put(("t", owner, "quota_1"), QuotaState(1, "e"))
    assert memo.get(("t", "a", "quota_1")) is None
    assert memo.get(("t", "c", "quota_1")) == QuotaState(1, "e")


def test_quota_rows_are_per_clock_hour() -> None:
    at = datetime(2026, 3, 4, 5, 59, 30, tzinfo=UTC)
    assert quota_row_key(at) == "quota_2026030405"
    assert seconds_to_next_hour(at) == 30
    assert seconds_to_next_hour(datetime(2026, 3, 4, 5, 0, 0, tzinfo=UTC)) == 3600


@pytest.mark.parametrize("key", ["", "   ", "x" * 201, "caf\u00e9", "tab\there", "new\nline"])
def test_bad_idempotency_keys(key: str) -> None:
    with pytest.raises(InvalidIdempotencyKey) as caught:
        check_idempotency_key(key)
    assert caught.value.code == "invalid_idempotency_key" and caught.value.http_status == 400


@pytest.mark.parametrize("key", ["a", "x" * 200, "order 42 / retry #3", str(uuid.uuid4())])
def test_good_idempotency_keys(key: str) -> None:
    assert check_idempotency_key(key) == key
