"""Timer triggers under devhost, as the WebJobs timer extension runs them: NCRONTAB with seconds,
`%SETTING%` schedules, runOnStartup, the schedule monitor and IsPastDue, a durable client on a
timer; every run goes through the runtime in a worker."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.keys import host_id
from devhost.ncrontab import parse_schedule
from devhost.timers import MONITOR_CONTAINER
from tests.control import Board
from tests.devhost.conftest import APPS, app_root, running_host
from tests.devhost.helpers import wait_until

APP = "tests.devhost.apps.timers.function_app:app"
MINUTE = "0 * * * * *"


def _root(tmp_path: Path, hub: str) -> Path:
    return app_root(tmp_path / hub, APPS / "timers", {"MINUTELY_SCHEDULE": MINUTE})


def _status_blob(azurite: Azurite, hub: str, function: str) -> str:
    return f"timers/{host_id(hub)}/Host.Functions.{function}/status"


def _start(host_url: str, key: str, instance: str) -> dict:
    url = f"{host_url}/runtime/webhooks/durabletask/instances/{instance}?code={key}"
    return requests.get(url, timeout=10).json()


def test_a_one_second_timer_fires_through_the_runtime_and_is_not_past_due(
    tmp_path: Path, azurite: Azurite
) -> None:
    root = _root(tmp_path, "DevhostTimerSecond")
    board = Board(root / "board")
    with running_host(APP, root, azurite, board, hub_name="DevhostTimerSecond") as host:
        time.sleep(3.0)
        runs = board.records("every_second")
        pids = set(host.worker_pids)
    assert len(runs) >= 2
    assert all(run["past_due"] is False for run in runs)
    assert {run["pid"] for run in runs} <= pids
    # More than once a minute: the schedule monitor is off, so no status reaches the function.
    assert all(run["status"] == {} for run in runs)
    assert runs[0]["schedule"] == {"AdjustForDST": True}
    starts = [run["at"] for run in runs]
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(0.5 < gap < 1.5 for gap in gaps), gaps


def test_run_on_startup_from_a_setting_schedule_with_a_durable_client(
    tmp_path: Path, azurite: Azurite
) -> None:
    hub = "DevhostTimerStartup"
    root = _root(tmp_path, hub)
    board = Board(root / "board")
    with running_host(APP, root, azurite, board, hub_name=hub) as host:
        (run,) = wait_until(lambda: board.records("minutely"), what="the startup run")
        assert run["past_due"] is False
        done = wait_until(
            lambda: (s := _start(host.base_url, host.system_key, run["instance"]))
            and s.get("runtimeStatus") == "Completed"
            and s,
            what="the orchestration the timer started",
        )
        assert done["output"] == {"past_due": False}
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    stored = json.loads(
        blobs.get_blob_client(MONITOR_CONTAINER, _status_blob(azurite, hub, "minutely"))
        .download_blob()
        .readall()
    )
    last = datetime.fromisoformat(stored["Last"])
    assert datetime.fromisoformat(stored["Next"]) == parse_schedule(MINUTE).next_after(last)


def test_a_missed_occurrence_runs_at_start_with_past_due_set(
    tmp_path: Path, azurite: Azurite
) -> None:
    """The schedule monitor found Next in the past: one run at start with IsPastDue true (and no
    separate runOnStartup run), carrying the stored status."""
    hub = "DevhostTimerPastDue"
    root = _root(tmp_path, hub)
    board = Board(root / "board")
    last = (datetime.now(UTC) - timedelta(minutes=3)).replace(second=0, microsecond=0)
    missed = last + timedelta(minutes=1)
    status = {"Last": last.isoformat(), "Next": missed.isoformat(), "LastUpdated": last.isoformat()}
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.get_container_client(MONITOR_CONTAINER)
    if not container.exists():
        container.create_container()
    container.upload_blob(_status_blob(azurite, hub, "minutely"), json.dumps(status))

    with running_host(APP, root, azurite, board, hub_name=hub):
        (run,) = wait_until(lambda: board.records("minutely"), what="the past-due run")
        time.sleep(0.5)  # no second startup run follows
        assert len(board.records("minutely")) == 1
    assert run["past_due"] is True
    assert datetime.fromisoformat(run["status"]["Next"]) == missed


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("* * * * * *", "2026-01-01T00:00:00.400", "2026-01-01T00:00:01"),
        ("0 30 3 * * *", "2026-01-01T03:30:00", "2026-01-02T03:30:00"),
        ("*/15 * * * * *", "2026-01-01T00:00:16", "2026-01-01T00:00:30"),
        ("0 0 9-17/4 * * Mon-Fri", "2026-01-02T17:00:00", "2026-01-05T09:00:00"),
        ("0 0 0 29 Feb *", "2026-03-01T00:00:00", "2028-02-29T00:00:00"),
        ("0 * * * *", "2026-01-01T00:30:00", "2026-01-01T01:00:00"),  # five fields
        ("0 0 0 13 * 5", "2026-01-01T00:00:00", "2026-02-13T00:00:00"),  # day AND weekday
        ("00:00:05", "2026-01-01T00:00:00.300", "2026-01-01T00:00:05.300"),  # a TimeSpan
    ],
)
def test_ncrontab_next_occurrences(expression: str, after: str, expected: str) -> None:
    moment = datetime.fromisoformat(after).replace(tzinfo=UTC)
    assert parse_schedule(expression).next_after(moment) == datetime.fromisoformat(
        expected
    ).replace(tzinfo=UTC)


@pytest.mark.parametrize("expression", ["* * * *", "61 * * * * *", "0 0 0 1 Foo *", "x"])
def test_schedules_the_timer_trigger_refuses(expression: str) -> None:
    with pytest.raises(Exception, match="valid"):
        parse_schedule(expression)
