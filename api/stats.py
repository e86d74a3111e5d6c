"""GET /api/stats: the jobs at a glance, computed from the job rows of the `analyses` table.

Scope: the caller's own jobs (`api.callers.owner_of`). A request whose `x-stats-admin-key`
header equals STATS_ADMIN_KEY (compared with `hmac.compare_digest`) sees every owner's; any other
value, or the header while no STATS_ADMIN_KEY is set, answers 403 `forbidden`.

The answer (`StatsView`), as of the request:
- `jobs_by_status`: every job row still kept (see RETENTION_DAYS), by status.
- `oldest_running_age_seconds`: now minus `created_at` of the oldest `running` job; null if none.
- `window` (`?hours=24`, a whole number 1-720, else 400 `invalid_query`): the terminal jobs
  (completed, failed, cancelled) whose `completed_at` falls in the last `hours`, by status;
  `failure_rate` = failed / all of them; p50 and p95 of their duration, `created_at` to
  `completed_at` in seconds, by `nearest_rank`. Null when the window holds no terminal job.

Across owners this reads every job row (a scan of one key range, bounded by retention).
"""

from __future__ import annotations

import asyncio
import hmac
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

import azure.durable_functions as df
import azure.functions as func
from azure.data.tables import TableClient
from pydantic import BaseModel, Field

from api.callers import owner_of
from api.responses import error_boundary, error_response, json_response
from shared.domain.models import TERMINAL_STATUSES, Job, JobStatus
from shared.errors import InvalidQuery
from shared.settings import Settings, get_settings
from shared.store.clients import analyses_table, storage_errors
from shared.store.jobs import job_from_entity
from shared.store.rows import job_rows

bp = df.Blueprint()

ADMIN_HEADER = "x-stats-admin-key"
DEFAULT_HOURS = 24
MAX_HOURS = 720
COLUMNS = ["PartitionKey", "JobId", "Ticker", "Status", "Stage", "CreatedAt", "CompletedAt"]


class WindowStats(BaseModel):
    hours: int
    since: datetime = Field(description="Start of the window: as_of minus hours.")
    terminal: int = Field(description="Terminal jobs completed in the window.")
    by_status: dict[str, int]
    failure_rate: float | None = Field(description="failed / terminal; null with none.")
    duration_p50_seconds: float | None
    duration_p95_seconds: float | None


class StatsView(BaseModel):
    """GET /api/stats."""

    scope: Literal["owner", "all"]
    as_of: datetime
    jobs_by_status: dict[str, int]
    oldest_running_age_seconds: float | None
    window: WindowStats


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The nearest-rank percentile: with the n values sorted ascending, the k-th smallest for
    k = ceil(percent * n / 100), at least 1. Always one of the values (no interpolation); the
    same as numpy's `percentile(..., method="inverted_cdf")`. None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-percent * len(ordered) // 100))  # ceil in integers: no float rounding
    return ordered[rank - 1]


def compute_stats(
    jobs: Iterable[Job], now: datetime, hours: int, scope: Literal["owner", "all"]
) -> StatsView:
    jobs = list(jobs)
    since = now - timedelta(hours=hours)
    running = [j.created_at for j in jobs if j.status is JobStatus.RUNNING]
    ended = [
        j for j in jobs
        if j.status in TERMINAL_STATUSES and j.completed_at is not None
        and since <= j.completed_at <= now
    ]
    durations = [
        (j.completed_at - j.created_at).total_seconds() for j in ended if j.completed_at
    ]
    failed = sum(1 for j in ended if j.status is JobStatus.FAILED)
    by_status = Counter(j.status.value for j in jobs)
    ended_by_status = Counter(j.status.value for j in ended)
    return StatsView(
        scope=scope,
        as_of=now,
        jobs_by_status={s.value: by_status.get(s.value, 0) for s in JobStatus},
        oldest_running_age_seconds=(now - min(running)).total_seconds() if running else None,
        window=WindowStats(
            hours=hours,
            since=since,
            terminal=len(ended),
            by_status={
                s.value: ended_by_status.get(s.value, 0)
                for s in JobStatus
                if s in TERMINAL_STATUSES
            },
            failure_rate=failed / len(ended) if ended else None,
            duration_p50_seconds=nearest_rank(durations, 50),
            duration_p95_seconds=nearest_rank(durations, 95),
        ),
    )


def read_jobs(table: TableClient, owner: str | None) -> list[Job]:
    """The job rows of `owner`, or of every owner for None."""
    jobs = job_rows().filter
    query = jobs if owner is None else f"PartitionKey eq @owner and {jobs}"
    parameters = {} if owner is None else {"owner": owner}
    with storage_errors("list jobs for stats"):
        return [
            job_from_entity(entity)
            for entity in table.query_entities(query, parameters=parameters, select=COLUMNS)
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
    jobs = await asyncio.to_thread(lambda: read_jobs(analyses_table(), owner))
    view = compute_stats(jobs, datetime.now(UTC), hours, "all" if owner is None else "owner")
    return json_response(view)
