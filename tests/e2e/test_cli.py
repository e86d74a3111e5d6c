"""The command-line client against the local host, as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from devhost.host import DevHost

ROOT = Path(__file__).resolve().parents[2]


def cli(host: DevHost, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKMEMO_API_KEY": host.function_key}  # as a user sets it
    return subprocess.run(
        [sys.executable, "-m", "stockmemo", "analyze", *args, "--api", host.base_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_analyze_prints_stages_and_the_memo(host: DevHost) -> None:
    run = cli(host, "nvda")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("# NVDA research memo")
    assert "SIMULATED DATA" in run.stdout and "*This memo is not investment advice.*" in run.stdout
    stages = [line.split("stage: ")[1] for line in run.stderr.splitlines() if "stage: " in line]
    assert stages[0] in ("queued", "gathering_evidence") and stages[-1] == "completed"
    assert "stored as reports/NVDA/" in run.stderr


def test_a_failed_job_exits_non_zero_with_its_code(host: DevHost) -> None:
    run = cli(host, "ZZZZ")
    assert run.returncode == 1
    assert "error: unknown_ticker:" in run.stderr and run.stdout == ""


def test_a_refused_ticker_exits_2_with_the_code(host: DevHost) -> None:
    run = cli(host, "not a ticker")
    assert run.returncode == 2 and "error: invalid_ticker:" in run.stderr


def test_an_unreachable_api_exits_3() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "stockmemo", "analyze", "MSFT", "--api", "http://127.0.0.1:9"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 3 and "error: unreachable:" in run.stderr
