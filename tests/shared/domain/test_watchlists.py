"""The watchlist rule: names, tickers, six-field schedules no more frequent than the minimum,
the orchestration's instance id, and the runs a row keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.domain.watchlists import (
    RUNS_KEPT,
    Watchlist,
    WatchlistView,
    WatchRun,
    check_name,
    instance_id,
    parse_watchlist,
)
from shared.errors import InvalidSchedule, InvalidTicker, InvalidWatchlist

NOW = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)


def parse(body: object, min_interval: int = 3600) -> Any:
    return parse_watchlist(body, 25, min_interval, NOW)


def test_a_watchlist_takes_one_to_max_distinct_tickers_upper_cased() -> None:
    request = parse({"tickers": ["msft", "MSFT", "aapl"], "schedule": "0 30 21 * * 1-5"})
    assert request.tickers == ["MSFT", "AAPL"]
    assert parse({"tickers": ["nvda"], "schedule": "0 0 9 * * *"}).tickers == ["NVDA"]
    with pytest.raises(InvalidWatchlist):
        parse({"tickers": [], "schedule": "0 0 9 * * *"})
    with pytest.raises(InvalidWatchlist):
        parse_watchlist({"tickers": ["A", "B", "C"], "schedule": "0 0 9 * * *"}, 2, 3600, NOW)
    with pytest.raises(InvalidTicker):
        parse({"tickers": ["OK", "no spaces"], "schedule": "0 0 9 * * *"})


@pytest.mark.parametrize(
    "schedule",
    [
        "0 9 * * *",  # five fields: seconds are required
        "hourly",
        "01:00:00",  # a TimeSpan is the timer trigger's, not a watchlist's
        "0 61 * * * *",
        "* * * * * *",  # every second
        "0 */30 * * * *",  # every half hour, under the hour's minimum
        "0 0,1 * * * *",  # hourly on average, but two runs a minute apart
        "0 0 9 31 2 *",  # never
    ],
)
def test_schedules_refused(schedule: str) -> None:
    with pytest.raises(InvalidSchedule):
        parse({"tickers": ["MSFT"], "schedule": schedule})


@pytest.mark.parametrize("schedule", ["0 0 * * * *", "0 30 21 * * 1-5", "0 0 0 1 1 *"])
def test_schedules_accepted(schedule: str) -> None:
    assert parse({"tickers": ["MSFT"], "schedule": schedule}).schedule == schedule


def test_the_minimum_interval_is_a_setting() -> None:
    assert parse({"tickers": ["MSFT"], "schedule": "*/5 * * * * *"}, min_interval=5)
    with pytest.raises(InvalidSchedule):
        parse({"tickers": ["MSFT"], "schedule": "*/5 * * * * *"}, min_interval=6)


def test_names() -> None:
    assert check_name("tech-2026") == "tech-2026"
    for bad in ("", "Tech", "a_b", "a" * 41, "é", "a/b"):
        with pytest.raises(InvalidWatchlist):
            check_name(bad)


def test_the_instance_id_is_the_owner_and_name_s_own() -> None:
    assert instance_id("ann", "tech") == instance_id("ann", "tech")
    assert instance_id("ann", "tech") != instance_id("bo", "tech")
    assert instance_id("ann\ntech", "x") != instance_id("ann", "tech\nx")
    assert instance_id("ann", "tech").startswith("watch-") and len(instance_id("a", "b")) == 38


def test_a_row_keeps_the_last_runs_newest_first_and_views_never_show_the_secret() -> None:
    watchlist = Watchlist(
        owner="ann", name="tech", tickers=["MSFT"], schedule="0 0 9 * * *",
        webhook_url="https://example.com/h", webhook_secret="s3cret", base_url="http://x",
        created_at=NOW, updated_at=NOW,
    )
    for n in range(RUNS_KEPT + 3):
        run = WatchRun(run_id=f"{n:032x}", trigger="schedule",
                       started_at=NOW + timedelta(hours=n), status="completed")
        watchlist = watchlist.with_run(run)
    assert len(watchlist.runs) == RUNS_KEPT
    assert watchlist.runs[0].run_id == f"{RUNS_KEPT + 2:032x}"
    view = WatchlistView.of(watchlist, NOW)
    assert "s3cret" not in view.model_dump_json() and "s3cret" not in repr(watchlist)
    assert view.next_run_at == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
