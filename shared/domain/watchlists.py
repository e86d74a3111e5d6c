"""Watchlists: a caller's named list of tickers re-analysed on a schedule, and its last runs.

Pure: the request rule (name, tickers, schedule, webhook URL's presence), the row's model, the
runs it keeps and the views the API answers with. The schedule is NCRONTAB with seconds, UTC
(`ncrontab`, the parser the timer trigger uses), and must not run more often than
WATCHLIST_MIN_INTERVAL_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ncrontab import CronSchedule, ScheduleError, parse_schedule
from shared.domain.models import normalize_ticker
from shared.errors import InvalidBody, InvalidSchedule, InvalidTicker, InvalidWatchlist
from shared.notify.delivery import DeliveryReport
from shared.notify.payload import TickerChange

NAME = re.compile(r"^[a-z0-9-]{1,40}$")
NAME_RULE = "1-40 characters of a-z, 0-9 and '-'"
RUNS_KEPT = 10
# How far ahead the interval rule looks: a week covers daily and weekly patterns.
_INTERVAL_HORIZON = timedelta(days=8)
_INTERVAL_OCCURRENCES = 2000

RunStatus = Literal["completed", "failed", "cancelled", "skipped"]
Trigger = Literal["schedule", "run_now"]


def instance_id(owner: str, name: str) -> str:
    """The watchlist's one orchestration: the same owner and name give the same instance."""
    digest = hashlib.sha256(json.dumps([owner, name]).encode()).hexdigest()
    return f"watch-{digest[:32]}"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidWatchlist(f"a watchlist name is {NAME_RULE}", field="name", value=name[:60])
    return name


def schedule_of(expression: str) -> CronSchedule:
    """The six-field NCRONTAB schedule (seconds first); InvalidSchedule otherwise."""
    if len(expression.split()) != 6:
        raise InvalidSchedule(
            "schedule must be NCRONTAB with six fields, seconds first (UTC), "
            "e.g. '0 30 9 * * 1-5'",
            field="schedule",
        )
    try:
        schedule = parse_schedule(expression)
    except ScheduleError as exc:
        raise InvalidSchedule(str(exc), field="schedule") from exc
    assert isinstance(schedule, CronSchedule)  # six fields are always cron
    return schedule


def check_interval(schedule: CronSchedule, minimum_seconds: int, start: datetime) -> None:
    """InvalidSchedule when two consecutive times of the schedule, from `start` over the next
    week or so, are closer than `minimum_seconds`."""
    try:
        at = schedule.next_after(start)
        end = at + _INTERVAL_HORIZON
        for _ in range(_INTERVAL_OCCURRENCES):
            following = schedule.next_after(at)
            if (following - at).total_seconds() < minimum_seconds:
                raise InvalidSchedule(
                    f"the schedule runs more often than every {minimum_seconds} seconds "
                    "(WATCHLIST_MIN_INTERVAL_SECONDS)",
                    field="schedule",
                )
            if following > end:
                return
            at = following
    except ScheduleError as exc:
        raise InvalidSchedule(str(exc), field="schedule") from exc


class WatchlistRequest(BaseModel):
    """Body of PUT /api/watchlists/{name}, as admitted."""

    tickers: list[str]
    schedule: str
    webhook_url: str | None = None


def parse_watchlist(data: Any, max_tickers: int, min_interval: int, now: datetime) -> (
        WatchlistRequest):
    if not isinstance(data, dict):
        raise InvalidBody(
            'the body must be a JSON object like {"tickers": ["MSFT"], "schedule": "0 0 9 * * *"}'
        )
    unknown = sorted(set(data) - {"tickers", "schedule", "webhook_url"})
    if unknown:
        raise InvalidBody(f"unknown field '{unknown[0]}'", field=unknown[0])
    raw = data.get("tickers")
    if not isinstance(raw, list):
        raise InvalidWatchlist(
            f"tickers must be a list of 1 to {max_tickers} tickers", field="tickers"
        )
    tickers: list[str] = []
    for index, value in enumerate(raw):
        try:
            ticker = normalize_ticker(value)
        except ValueError as exc:
            shown = value if isinstance(value, str) else repr(value)
            raise InvalidTicker(
                f"tickers[{index}]: {exc}", field=f"tickers[{index}]", value=shown[:40]
            ) from exc
        if ticker not in tickers:
            tickers.append(ticker)
    if not 1 <= len(tickers) <= max_tickers:
        raise InvalidWatchlist(
            f"a watchlist holds 1 to {max_tickers} distinct tickers; this one has {len(tickers)}",
            field="tickers",
        )
    schedule = data.get("schedule")
    if not isinstance(schedule, str):
        raise InvalidSchedule("schedule must be an NCRONTAB string", field="schedule")
    check_interval(schedule_of(schedule), min_interval, now)
    url = data.get("webhook_url")
    if url is not None and not isinstance(url, str):
        raise InvalidBody("webhook_url must be a string", field="webhook_url")
    return WatchlistRequest(tickers=tickers, schedule=schedule.strip(), webhook_url=url)


class Notification(BaseModel):
    """How a run's webhook delivery went (every attempt's status or failure, no addresses)."""

    delivered: bool
    stopped: bool = False
    attempts: list[dict[str, Any]] = []

    @classmethod
    def of(cls, report: DeliveryReport) -> Notification:
        return cls(
            delivered=report.delivered,
            stopped=report.stopped,
            attempts=[
                a.model_dump(
                    mode="json",
                    include={"delivery_id", "delivered", "status", "failure", "error",
                             "started_at", "duration_ms"},
                )
                for a in report.attempts
            ],
        )


class WatchRun(BaseModel):
    """One run of a watchlist, as its row keeps it."""

    run_id: str
    trigger: Trigger
    started_at: datetime
    status: RunStatus | Literal["running"]
    batch_id: str | None = None
    reason: str | None = None
    completed_at: datetime | None = None
    changes: list[TickerChange] = []
    notification: Notification | None = None


class Watchlist(BaseModel):
    owner: str
    name: str
    tickers: list[str]
    schedule: str
    webhook_url: str | None = None
    webhook_secret: str | None = Field(default=None, repr=False)
    base_url: str
    created_at: datetime
    updated_at: datetime
    runs: list[WatchRun] = []  # newest first, at most RUNS_KEPT

    @property
    def instance_id(self) -> str:
        return instance_id(self.owner, self.name)

    def with_run(self, run: WatchRun) -> Watchlist:
        runs = [run, *(r for r in self.runs if r.run_id != run.run_id)]
        runs.sort(key=lambda r: r.started_at, reverse=True)
        return self.model_copy(update={"runs": runs[:RUNS_KEPT]})

    def run(self, run_id: str) -> WatchRun | None:
        return next((r for r in self.runs if r.run_id == run_id), None)


class WatchlistView(BaseModel):
    """A watchlist as GET answers it: never its webhook secret."""

    model_config = ConfigDict(extra="forbid")

    name: str
    tickers: list[str]
    schedule: str
    webhook_url: str | None = None
    next_run_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    runs: list[WatchRun] = Field(default=[], description="The last runs, newest first.")

    @classmethod
    def of(cls, watchlist: Watchlist, now: datetime) -> WatchlistView:
        try:
            next_run = schedule_of(watchlist.schedule).next_after(now)
        except InvalidSchedule:
            next_run = None
        return cls(
            name=watchlist.name,
            tickers=watchlist.tickers,
            schedule=watchlist.schedule,
            webhook_url=watchlist.webhook_url,
            next_run_at=next_run,
            created_at=watchlist.created_at,
            updated_at=watchlist.updated_at,
            runs=watchlist.runs,
        )


class CreatedWatchlist(WatchlistView):
    """The answer that creates a watchlist: the one time its webhook secret is shown."""

    webhook_secret: str | None = Field(
        default=None,
        description="The HMAC-SHA256 key (its UTF-8 bytes) of X-Stockmemo-Signature-256, shown "
        "only in the answer that creates the watchlist; replacing it keeps it.",
    )


class WatchlistPage(BaseModel):
    items: list[WatchlistView]
