"""`python -m stockmemo watch` and `python -m stockmemo watchlists` against the real app on the
local host (issue 17 item 6): create a watchlist (its webhook secret printed once, with the
warning), run it once through the API, list it with the run's changes; refusals exit 2 with the
code, field and value."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from devhost.host import DevHost
from tests.app_env import key_header

ROOT = Path(__file__).resolve().parents[2]
YEARLY = "0 0 0 1 1 *"  # never due during the test: the run comes from POST .../run


def cli(host: DevHost, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKMEMO_API_KEY": host.function_key}  # as a user sets it
    return subprocess.run(
        [sys.executable, "-m", "stockmemo", *args, "--api", host.base_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def watchlist(host: DevHost, name: str) -> dict[str, Any]:
    answer = requests.get(f"{host.base_url}/api/watchlists/{name}", headers=key_header(host),
                          timeout=10)
    answer.raise_for_status()
    view: dict[str, Any] = answer.json()
    return view


def test_watch_creates_prints_the_secret_once_and_watchlists_lists_the_last_run(
    host: DevHost,
) -> None:
    created = cli(host, "watch", "cli-tech", "aapl", "msft,AAPL", "--schedule", YEARLY)
    assert created.returncode == 0, created.stderr
    assert created.stdout.startswith("created watchlist cli-tech: AAPL, MSFT on '0 0 0 1 1 *'")
    assert "shown only now" in created.stderr
    secrets = [line for line in created.stdout.splitlines() if line.startswith("webhook_secret: ")]
    assert len(secrets) == 1 and len(secrets[0].split(": ", 1)[1]) >= 32

    replaced = cli(host, "watch", "cli-tech", "AAPL", "MSFT", "--schedule", YEARLY)
    assert replaced.returncode == 0, replaced.stderr
    assert replaced.stdout.startswith("replaced watchlist cli-tech:")
    assert "webhook_secret" not in replaced.stdout + replaced.stderr  # only the creating answer

    listed = cli(host, "watchlists")
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["NAME", "TICKERS", "SCHEDULE", "NEXT", "RUN", "(UTC)", "LAST", "RUN"]
    row = next(r for r in rows if r.startswith("cli-tech "))
    assert "AAPL,MSFT" in row and YEARLY in row and row.endswith("no runs yet")

    started = requests.post(f"{host.base_url}/api/watchlists/cli-tech/run",
                            headers=key_header(host), timeout=10)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 120
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        runs = watchlist(host, "cli-tech")["runs"]
        if runs and runs[0]["status"] != "running":
            break
        time.sleep(0.5)
    assert runs and runs[0]["status"] == "completed", runs

    listed = cli(host, "watchlists")
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in listed.stdout.splitlines() if r.startswith("cli-tech "))
    run = runs[0]
    assert "completed: " in row and f"[batch {run['batch_id']}]" in row
    for change in run["changes"]:
        after = change["verdict_after"]
        before = change["verdict_before"]
        shown = f"{change['ticker']} new {after}" if before is None else (
            f"{change['ticker']} {before}→{after}")
        assert shown in row, (shown, row)


def test_watch_refusals_exit_2_with_code_field_and_value(host: DevHost) -> None:
    bad_name = cli(host, "watch", "Not_OK", "AAPL", "--schedule", YEARLY)
    assert bad_name.returncode == 2 and bad_name.stdout == ""
    assert "error: invalid_watchlist:" in bad_name.stderr
    assert "field name" in bad_name.stderr and "value 'Not_OK'" in bad_name.stderr

    bad_ticker = cli(host, "watch", "cli-bad", "AAPL", "not a ticker", "--schedule", YEARLY)
    assert bad_ticker.returncode == 2
    assert "field tickers[1]" in bad_ticker.stderr and "value 'NOT A TICKER'" in bad_ticker.stderr

    too_often = cli(host, "watch", "cli-bad", "AAPL", "--schedule", "*/5 * * * * *")
    assert too_often.returncode == 2
    assert "error: invalid_schedule:" in too_often.stderr and "field schedule" in too_often.stderr

    private = cli(host, "watch", "cli-bad", "AAPL", "--schedule", YEARLY,
                  "--webhook-url", "https://10.1.2.3/hook")
    assert private.returncode == 2 and "field webhook_url" in private.stderr

    listed = cli(host, "watchlists")
    assert listed.returncode == 0 and "cli-bad" not in listed.stdout  # nothing was written


def test_watchlists_against_an_unreachable_api_exits_3() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "stockmemo", "watchlists", "--api", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 3 and "error: unreachable:" in run.stderr


def test_a_run_line_shows_each_verdict_change_and_the_excess_return() -> None:
    from stockmemo.watchlists import last_run_text

    line = last_run_text({"runs": [{
        "status": "completed", "batch_id": "ab" * 16,
        "changes": [
            {"ticker": "AAPL", "verdict_before": "hold", "verdict_after": "buy",
             "excess_return": 0.031},
            {"ticker": "MSFT", "verdict_before": None, "verdict_after": "sell"},
            {"ticker": "NVDA", "verdict_before": "buy", "verdict_after": None},
        ],
    }, {"status": "skipped", "reason": "older"}]})
    assert line == ("completed: AAPL hold→buy (+3.1% vs benchmark); MSFT new sell; "
                    f"NVDA no memo [batch {'ab' * 16}]")
    assert last_run_text({"runs": [{"status": "skipped", "reason": "over the quota"}]}) == (
        "skipped (over the quota)")
