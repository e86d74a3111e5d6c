"""GET /api/stats against job and batch rows written straight into the table, for two owners.

The expected numbers are computed here, independently, from the same rows: counts by status,
the oldest running job's (and batch's) age, and over the window the failure rate and the
nearest-rank p50/p95 of the durations (numpy's `inverted_cdf`, the same definition).

The route is function-level: every call carries a host key, the default function key for an
owner and the master key for the administrator who also sends the stats admin key.
"""

from __future__ import annotations

import random
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
import requests
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from api.stats import admin_key_matches, compute_stats, nearest_rank, parse_hours
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.batches import Batch
from shared.domain.models import Job, JobStatus, Stage
from shared.errors import InvalidQuery
from shared.settings import ANALYSES_TABLE, Settings
from shared.store.batches import batch_row
from shared.store.jobs import job_row
from tests.ops.conftest import principal
from tests.trust.support import make_app_root, running_host

ADMIN_KEY = f"adm-stats-{secrets.token_hex(16)}"
TERMINAL = ("completed", "failed", "cancelled")


@dataclass(frozen=True)
class Row:
    owner: str
    status: str
    created_at: datetime
    completed_at: datetime | None


def seed_rows(owner: str, rng: random.Random, now: datetime, in_window: int) -> list[Row]:
    rows: list[Row] = []

    def ended(hours_ago: float) -> None:
        status = rng.choices(TERMINAL, weights=(6, 3, 1))[0]
        completed = now - timedelta(seconds=int(hours_ago * 3600))
        created = completed - timedelta(seconds=rng.randint(5, 900))
        rows.append(Row(owner, status, created, completed))

    for _ in range(in_window):
        ended(rng.uniform(0.5, 23.0))  # well inside the last 24 hours
    for _ in range(4):
        ended(rng.uniform(30.0, 47.0))  # inside 48 hours only
    for age in rng.sample(range(60, 5000), 3):
        rows.append(Row(owner, "running", now - timedelta(seconds=age), None))
    for age in (5, 40):
        rows.append(Row(owner, "queued", now - timedelta(seconds=age), None))
    return rows


def to_job(row: Row) -> Job:
    status = JobStatus(row.status)
    return Job(
        id=uuid.uuid4().hex, owner=row.owner, ticker="STAT", status=status,
        stage=Stage(row.status) if row.status in TERMINAL or row.status == "queued"
        else Stage.GATHERING_EVIDENCE,
        created_at=row.created_at, completed_at=row.completed_at,
    )


def to_batch(row: Row) -> Batch:
    """A batch row as admission and the orchestration leave it (its items do not count)."""
    return Batch(
        id=uuid.uuid4().hex, owner=row.owner, status=JobStatus(row.status),
        created_at=row.created_at, completed_at=row.completed_at, items=[],
    )


def expected(rows: list[Row], as_of: datetime, hours: int) -> dict[str, Any]:
    """The answer, computed from the rows without the app's code."""
    since = as_of - timedelta(hours=hours)
    ended = [r for r in rows if r.status in TERMINAL and r.completed_at is not None
             and since <= r.completed_at <= as_of]
    durations = [(r.completed_at - r.created_at).total_seconds() for r in ended
                 if r.completed_at is not None]
    running = [r.created_at for r in rows if r.status == "running"]
    p50, p95 = (
        np.percentile(durations, [50, 95], method="inverted_cdf") if durations else (None, None)
    )
    counts = Counter(r.status for r in rows)
    ended_counts = Counter(r.status for r in ended)
    return {
        "jobs_by_status": {s.value: counts.get(s.value, 0) for s in JobStatus},
        "oldest_running_age_seconds": (as_of - min(running)).total_seconds() if running else None,
        "terminal": len(ended),
        "by_status": {s: ended_counts.get(s, 0) for s in TERMINAL},
        "failure_rate": ended_counts["failed"] / len(ended) if ended else None,
        "p50": None if p50 is None else float(p50),
        "p95": None if p95 is None else float(p95),
    }


def assert_matches(
    body: dict[str, Any], rows: list[Row], hours: int, batches: list[Row] | None = None
) -> None:
    as_of = datetime.fromisoformat(body["as_of"])
    _assert_numbers(body, rows, as_of, hours)
    if batches is not None:
        part = body["batches"]
        _assert_numbers({**part, "jobs_by_status": part["by_status"]}, batches, as_of, hours)


def _assert_numbers(body: dict[str, Any], rows: list[Row], as_of: datetime, hours: int) -> None:
    want = expected(rows, as_of, hours)
    window = body["window"]
    assert body["jobs_by_status"] == want["jobs_by_status"]
    assert body["oldest_running_age_seconds"] == pytest.approx(want["oldest_running_age_seconds"])
    assert window["hours"] == hours
    assert datetime.fromisoformat(window["since"]) == as_of - timedelta(hours=hours)
    assert window["terminal"] == want["terminal"] and window["by_status"] == want["by_status"]
    assert window["failure_rate"] == pytest.approx(want["failure_rate"])
    assert window["duration_p50_seconds"] == pytest.approx(want["p50"])
    assert window["duration_p95_seconds"] == pytest.approx(want["p95"])


@dataclass
class Seeded:
    host: DevHost
    owners: dict[str, list[Row]]
    batches: dict[str, list[Row]]
    table: Any

    @property
    def url(self) -> str:
        return f"{self.host.base_url}/api/stats"

    def get(self, headers: dict[str, str], host_key: str | None = None,
            **params: str) -> requests.Response:
        """GET /api/stats with `headers` and a host key (the default function key unless
        another is given)."""
        key = {"x-functions-key": host_key or self.host.function_key}
        return requests.get(self.url, params=params, headers={**headers, **key}, timeout=30)

    def all_rows(self) -> list[Row]:
        """Every job row in the table, read directly (other tests' rows included)."""
        return [
            Row(e["PartitionKey"], e["Status"], e["CreatedAt"], e.get("CompletedAt"))
            for e in self.table.query_entities("RowKey ge 'job_' and RowKey lt 'job`'")
        ]

    def all_batch_rows(self) -> list[Row]:
        """Every batch row in the table, read directly."""
        return [
            Row(e["PartitionKey"], e["Status"], e["CreatedAt"], e.get("CompletedAt"))
            for e in self.table.query_entities("RowKey ge 'batch_' and RowKey lt 'batch`'")
        ]


@pytest.fixture(scope="module")
def seeded(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    now = datetime.now(UTC).replace(microsecond=0)
    rng = random.Random(20261129)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    owners = {first: seed_rows(first, rng, now, 17), second: seed_rows(second, rng, now, 6)}
    batches = {first: seed_rows(first, rng, now, 9), second: seed_rows(second, rng, now, 0)}
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    try:
        tables.create_table(ANALYSES_TABLE)
    except ResourceExistsError:
        pass
    table = tables.get_table_client(ANALYSES_TABLE)
    written = [job_row(to_job(row)) for rows in owners.values() for row in rows]
    written += [batch_row(to_batch(row)) for rows in batches.values() for row in rows]
    for entity in written:
        table.create_entity(entity)
    root = make_app_root(tmp_path_factory.mktemp("ops-stats"), "OpsStats")
    try:
        with running_host(root, azurite.connection_string, azurite.connection_string,
                          AUTH_MODE="easyauth", STATS_ADMIN_KEY=ADMIN_KEY) as host:
            yield Seeded(host, owners, batches, table)
    finally:  # rows without memos: other tests check every completed row has one
        for entity in written:
            table.delete_entity(entity["PartitionKey"], entity["RowKey"])


@pytest.mark.parametrize("hours", [None, 48, 1])
def test_each_owner_sees_the_numbers_of_their_own_rows(seeded: Seeded, hours: int | None) -> None:
    params = {} if hours is None else {"hours": str(hours)}
    for owner, rows in seeded.owners.items():
        answer = seeded.get(principal(owner), **params)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["scope"] == "owner"
        assert_matches(body, rows, hours or 24, seeded.batches[owner])


def test_the_seeded_data_exercises_every_number(seeded: Seeded) -> None:
    first = next(iter(seeded.owners.values()))
    want = expected(first, datetime.now(UTC), 24)
    assert want["terminal"] >= 15 and 0 < want["failure_rate"] < 1
    assert want["p50"] < want["p95"] and want["oldest_running_age_seconds"] > 60
    batches = expected(seeded.batches[next(iter(seeded.owners))], datetime.now(UTC), 24)
    assert batches["terminal"] >= 8 and batches["p50"] <= batches["p95"]


def test_the_admin_key_sees_every_owner(seeded: Seeded) -> None:
    for headers in ({}, principal(next(iter(seeded.owners)))):
        answer = seeded.get({**headers, "x-stats-admin-key": ADMIN_KEY},
                            host_key=seeded.host.master_key)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["scope"] == "all"
        # Nothing writes rows meanwhile.
        assert_matches(body, seeded.all_rows(), 24, seeded.all_batch_rows())
        for status, count in body["jobs_by_status"].items():
            assert count >= sum(r.status == status for rs in seeded.owners.values() for r in rs)
        for status, count in body["batches"]["by_status"].items():
            assert count >= sum(r.status == status for rs in seeded.batches.values() for r in rs)


@pytest.mark.parametrize("key", ["wrong", ADMIN_KEY + "x", ADMIN_KEY[:-1], ""])
def test_a_wrong_admin_key_is_forbidden(seeded: Seeded, key: str) -> None:
    owner = next(iter(seeded.owners))
    answer = seeded.get({**principal(owner), "x-stats-admin-key": key})
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert ADMIN_KEY not in answer.text


def test_without_a_principal_there_is_no_owner(seeded: Seeded) -> None:
    answer = seeded.get({})
    assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthenticated"
    # Without a host key the host itself refuses, before the app: an empty 401.
    unkeyed = requests.get(seeded.url, headers=principal(next(iter(seeded.owners))), timeout=30)
    assert unkeyed.status_code == 401 and unkeyed.content == b""


@pytest.mark.parametrize("hours", ["0", "721", "abc", "1.5", "-1", " 24"])
def test_a_bad_window_is_invalid_query(seeded: Seeded, hours: str) -> None:
    owner = next(iter(seeded.owners))
    answer = seeded.get(principal(owner), hours=hours)
    assert answer.status_code == 400
    assert answer.json()["error"] == {
        "code": "invalid_query", "field": "hours",
        "message": "hours must be a whole number from 1 to 720",
    }


def test_an_empty_window_is_refused_by_the_app_and_dropped_by_the_host(seeded: Seeded) -> None:
    # The app refuses an empty `hours`...
    with pytest.raises(InvalidQuery) as refused:
        parse_hours("")
    assert (refused.value.code, refused.value.field, refused.value.message) == (
        "invalid_query", "hours", "hours must be a whole number from 1 to 720")
    # ...but it never gets one: the Functions host leaves a query key without a value out of
    # the request it hands the Python worker (ToRpcHttp), so `?hours=` is the default window.
    owner = next(iter(seeded.owners))
    answer = seeded.get(principal(owner), hours="")
    assert answer.status_code == 200 and answer.json()["window"]["hours"] == 24


def test_the_window_bounds_are_accepted(seeded: Seeded) -> None:
    owner = next(iter(seeded.owners))
    for hours in ("1", "720"):
        answer = seeded.get(principal(owner), hours=hours)
        assert answer.status_code == 200 and answer.json()["window"]["hours"] == int(hours)


def test_nearest_rank_is_numpys_inverted_cdf() -> None:
    rng = random.Random(5)
    assert nearest_rank([], 50) is None
    for size in range(1, 60):
        values = [rng.uniform(0, 1000) for _ in range(size)]
        for percent in (1, 5, 25, 50, 90, 95, 99, 100):
            want = float(np.percentile(values, percent, method="inverted_cdf"))
            assert nearest_rank(values, percent) == want, (size, percent)


def test_no_admin_key_configured_admits_no_one() -> None:
    assert not admin_key_matches("", Settings(admin_key=None))
    assert not admin_key_matches("anything", Settings(admin_key=None))
    assert admin_key_matches("k3y", Settings(admin_key="k3y"))


def test_without_batches_their_numbers_are_zero_and_null() -> None:
    now = datetime.now(UTC)
    view = compute_stats([], now, 24, "owner").model_dump(mode="json")
    assert view["batches"] == {
        "by_status": {s.value: 0 for s in JobStatus},
        "oldest_running_age_seconds": None,
        "window": {
            "hours": 24, "since": (now - timedelta(hours=24)).isoformat().replace("+00:00", "Z"),
            "terminal": 0, "by_status": {s: 0 for s in TERMINAL}, "failure_rate": None,
            "duration_p50_seconds": None, "duration_p95_seconds": None,
        },
    }
