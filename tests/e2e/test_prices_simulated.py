"""GET /api/prices/{symbol} and GET /api/track-record with the simulated provider (the session's
default host): prices say they are simulated, and the track record and a backtest are refused,
since forward returns on made-up prices mean nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import requests

from devhost.host import DevHost
from tests.app_env import key_header

ROOT = Path(__file__).resolve().parents[2]


def test_simulated_prices_say_so(host: DevHost) -> None:
    answer = requests.get(f"{host.base_url}/api/prices/msft",
                          params={"start": "2024-01-01", "end": "2024-03-01"},
                          headers=key_header(host), timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["simulated"] is True and body["source"] == "simulated"
    assert body["dates"][0] == "2024-01-01" and body["dates"][-1] == "2024-03-01"
    weekdays = [date(2024, 1, 1) + timedelta(days=i) for i in range(61)]
    assert body["dates"] == [d.isoformat() for d in weekdays if d.weekday() < 5]
    assert len(body["closes"]) == len(body["dates"])


def test_the_track_record_is_refused_on_simulated_prices(host: DevHost) -> None:
    answer = requests.get(f"{host.base_url}/api/track-record", headers=key_header(host),
                          timeout=30)
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "track_record_unavailable"


def test_a_backtest_on_simulated_prices_is_refused(host: DevHost, tmp_path: Path) -> None:
    env = {**os.environ, "STOCKMEMO_API_KEY": host.function_key}
    run = subprocess.run(
        [sys.executable, "-m", "stockmemo", "backtest", "--tickers", "AAPL,MSFT", "--start",
         "2024-01-01", "--end", "2024-06-01", "--every", "21", "--output", str(tmp_path),
         "--api", host.base_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 2 and "simulated" in run.stderr
    assert not list(tmp_path.iterdir())
