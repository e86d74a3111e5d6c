"""GET /api/stats: the jobs and batches at a glance, computed from the job and batch rows of
the `analyses` table.

Scope: the caller's own jobs and batches (`api.callers.owner_of`). A request whose
`x-stats-admin-key` header equals STATS_ADMIN_KEY (compared with `hmac.compare_digest`) sees
every owner's; any other value, or the header while no STATS_ADMIN_KEY is set, answers 403
`forbidden`.

The answer (`StatsView`), as of the request:
- `jobs_by_status`: every job row still kept (see RETENTION_DAYS), by status.
- `oldest_running_age_seconds`: now minus `created_at` of the oldest `running` job; null if none.
- `window` (`?hours=24`, a whole number 1-720, else 400 `invalid_query`): the terminal jobs
  (completed, failed, cancelled) whose `completed_at` falls in the last `hours`, by status;
  `failure_rate` = failed / all of them; p50 and p95 of their duration, `created_at` to
  `completed_at` in seconds, by `nearest_rank`. Null when the window holds no terminal job.
- `batches`: the same three for the batch rows (a batch's children are jobs, counted above):
  `by_status`, `oldest_running_age_seconds` and the `window` of the batches that ended in it.

Across owners this reads every job and batch row (a scan of two key ranges, bounded by
retention).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

import azure.durable_functions as df
import azure.functions as func
from azure.data.tables import TableClient
from pydantic import BaseModel, Field

from api.callers import owner_of
from api.responses import error_boundary, error_response, json_response
from shared.domain.batches import Batch
from shared.domain.models import TERMINAL_STATUSES, Job, JobStatus
from shared.errors import InvalidQuery
from shared.settings import Settings, get_settings
from shared.store.batches import batch_from_entity
from shared.store.clients import analyses_table, storage_errors
from shared.store.jobs import job_from_entity
from shared.store.rows import batch_rows, job_rows

bp = df.Blueprint()

ADMIN_HEADER = "x-stats-admin-key"
DEFAULT_HOURS = 24
MAX_HOURS = 720
COLUMNS = ["PartitionKey", "JobId", "Ticker", "Status", "Stage", "CreatedAt", "CompletedAt"]
BATCH_COLUMNS = ["PartitionKey", "BatchId", "Status", "CreatedAt", "CompletedAt"]


class Timed(Protocol):
    """What the numbers are computed from: a job or a batch."""

    @property
    def status(self) -> JobStatus: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def completed_at(self) -> datetime | None: ...


class WindowStats(BaseModel):
    hours: int
    since: datetime = Field(description="Start of the window: as_of minus hours.")
    terminal: int = Field(description="Terminal jobs (or batches) completed in the window.")
    by_status: dict[str, int]
    failure_rate: float | None = Field(description="failed / terminal; null with none.")
    duration_p50_seconds: float | None
    duration_p95_seconds: float | None


class BatchStats(BaseModel):
    """The batches' numbers, as the jobs' are (a batch's children are counted as jobs)."""

    by_status: dict[str, int]
    oldest_running_age_seconds: float | None
    window: WindowStats


class StatsView(BaseModel):
    """GET /api/stats."""

    scope: Literal["owner", "all"]
    as_of: datetime
    jobs_by_status: dict[str, int]
    oldest_running_age_seconds: float | None
    window: WindowStats
    batches: BatchStats


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: with the n values sorted ascending, the k-th smallest for
    k = ceil(percent * n / 100), at least 1. Always one of the values (no interpolation); the
    same as numpy's `percentile(..., method="inverted_cdf")`. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil in integers: no float rounding
    return ordered[rank - 1]


def _numbers(
    items: Sequence[Timed], now: datetime, hours: int
) -> tuple[dict[str, int], float | None, WindowStats]:
    """By status, the oldest running one's age, and the window, of jobs or of batches."""
    since = now - timedelta(hours=hours)
    running = [i.created_at for i in items if i.status is JobStatus.RUNNING]
    ended = [
        i for i in items
        if i.status in TERMINAL_STATUSES and i.completed_at is not None
        and since <= i.completed_at <= now
    ]
    durations = [
        (i.completed_at - i.created_at).total_seconds() for i in ended if i.completed_at
    ]
    failed = sum(1 for i in ended if i.status is JobStatus.FAILED)
    by_status = Counter(i.status.value for i in items)
    ended_by_status = Counter(i.status.value for i in ended)
    window = WindowStats(
        hours=hours,
        since=since,
        terminal=len(ended),
        by_status={
            s.value: ended_by_status.get(s.value, 0) for s in JobStatus if s in TERMINAL_STATUSES
        },
        failure_rate=failed / len(ended) if ended else None,
        duration_p50_seconds=nearest_rank(durations, 50),
        duration_p95_seconds=nearest_rank(durations, 95),
    )
    return (
        {s.value: by_status.get(s.value, 0) for s in JobStatus},
        (now - min(running)).total_seconds() if running else None,
        window,
    )


def compute_stats(
    jobs: Iterable[Job],
    now: datetime,
    hours: int,
    scope: Literal["owner", "all"],
    batches: Iterable[Batch] = (),
) -> StatsView:
    jobs_by_status, oldest, window = _numbers(list(jobs), now, hours)
    batches_by_status, oldest_batch, batch_window = _numbers(list(batches), now, hours)
    return StatsView(
        scope=scope,
        as_of=now,
        jobs_by_status=jobs_by_status,
        oldest_running_age_seconds=oldest,
        window=window,
        batches=BatchStats(
            by_status=batches_by_status,
            oldest_running_age_seconds=oldest_batch,
            window=batch_window,
        ),
    )


def _scoped(rows: str, owner: str | None) -> tuple[str, dict[str, str]]:
    if owner is None:
        return rows, {}
    return f"PartitionKey eq @owner and {rows}", {"owner": owner}


def read_jobs(table: TableClient, owner: str | None) -> list[Job]:
    """The job rows of `owner`, or of every owner for None."""
    query, parameters = _scoped(job_rows().filter, owner)
    with storage_errors("list jobs for stats"):
        return [
            job_from_entity(entity)
            for entity in table.query_entities(query, parameters=parameters, select=COLUMNS)
        ]


def read_batches(table: TableClient, owner: str | None) -> list[Batch]:
    """The batch rows of `owner`, or of every owner for None (without their items)."""
    query, parameters = _scoped(batch_rows().filter, owner)
    with storage_errors("list batches for stats"):
        return [
            batch_from_entity(entity)
            for entity in table.query_entities(
                query, parameters=parameters, select=BATCH_COLUMNS
            )
        ]


def parse_hours(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_HOURS
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_HOURS:
        raise InvalidQuery(f"hours must be a whole number from 1 to {MAX_HOURS}", field="hours")
    return int(raw)


def admin_key_matches(given: str, settings: Settings) -> bool:
    """Constant-time comparison with STATS_ADMIN_KEY; False when none is set."""
    if settings.admin_key is None:
        return False
    expected = settings.admin_key.get_secret_value().encode()
    return hmac.compare_digest(given.encode(), expected)


@bp.route(route="stats", methods=["GET"])
@error_boundary
async def stats(req: func.HttpRequest) -> func.HttpResponse:
    settings = get_settings()
    given = req.headers.get(ADMIN_HEADER)
    if given is not None and not admin_key_matches(given, settings):
        return error_response("forbidden", f"{ADMIN_HEADER} is not the admin key", 403)
    owner = None if given is not None else owner_of(req)
    hours = parse_hours(req.params.get("hours"))
    def read() -> tuple[list[Job], list[Batch]]:
        table = analyses_table()
        return read_jobs(table, owner), read_batches(table, owner)

    jobs, batches = await asyncio.to_thread(read)
    scope: Literal["owner", "all"] = "all" if owner is None else "owner"
    view = compute_stats(jobs, datetime.now(UTC), hours, scope, batches)
    return json_response(view)
