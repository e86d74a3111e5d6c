"""The command-line client against the local host, as a user runs it: one ticker, and several
as one batch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import requests

from devhost.host import DevHost
from tests.app_env import key_header

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


def stage_lines(stderr: str) -> dict[str, list[str]]:
    """Each ticker's stage lines (`  AAPL stage: writing_memo`), in the order printed."""
    stages: dict[str, list[str]] = {}
    for line in stderr.splitlines():
        if " stage: " in line and not line.startswith("  stage: "):
            ticker, stage = line.strip().split(" stage: ", 1)
            stages.setdefault(ticker, []).append(stage)
    return stages


def test_several_tickers_are_one_batch_with_each_stage_and_the_comparison(
    host: DevHost,
) -> None:
    run = cli(host, "aapl", "msft,ZZZZC", "AAPL")
    assert run.returncode == 0, run.stderr  # a failed child does not fail the batch
    assert run.stdout.startswith("# Comparison memo: ")
    for ticker in ("AAPL", "MSFT", "ZZZZC"):
        assert ticker in run.stdout.splitlines()[0]
    assert "*This comparison is not investment advice.*" in run.stdout
    assert "SIMULATED DATA" in run.stdout and "## Ranking" in run.stdout

    submitted = run.stderr.splitlines()[0]
    assert submitted.startswith("submitted AAPL, MSFT, ZZZZC: batch ")
    batch_id = submitted.rsplit(" ", 1)[1]
    batch = requests.get(f"{host.base_url}/api/batches/{batch_id}",
                         headers=key_header(host), timeout=10).json()
    assert batch["status"] == "completed" and batch["tickers"] == ["AAPL", "MSFT", "ZZZZC"]

    stages = stage_lines(run.stderr)
    assert set(stages) == {"AAPL", "MSFT", "ZZZZC"}
    order = ["queued", "gathering_evidence", "writing_memo", "persisting", "completed", "failed"]
    for ticker, seen in stages.items():
        names = [s.split(" (")[0] for s in seen]
        assert names == sorted(names, key=order.index), f"{ticker} went back: {seen}"
        assert len(names) == len(set(names)), f"{ticker} repeated a stage: {seen}"
    items = {item["ticker"]: item for item in batch["items"]}
    for ticker in ("AAPL", "MSFT"):
        item = items[ticker]
        assert stages[ticker][-1] == (f"completed (verdict {item['verdict']} at confidence "
                                      f"{item['confidence']})")
    assert stages["ZZZZC"][-1].startswith("failed (unknown_ticker: ")
    assert f"batch {batch_id}: 2 completed, 1 failed; report URL " in run.stderr


def test_a_refused_batch_exits_2_with_the_code_field_and_value(host: DevHost) -> None:
    run = cli(host, "AAPL", "bad one!")
    assert run.returncode == 2 and run.stdout == ""
    assert "error: invalid_ticker: " in run.stderr
    assert "(field tickers[1], value 'BAD ONE!')" in run.stderr


def test_a_cancelled_batch_exits_non_zero(host: DevHost) -> None:
    # 20 tickers at BATCH_CONCURRENCY 5, 150 ms a market call: seconds of work, and the cancel
    # goes out the moment the CLI names the batch.
    tickers = [f"CXL{i}" for i in range(20)]
    env = {**os.environ, "STOCKMEMO_API_KEY": host.function_key}
    process = subprocess.Popen(
        [sys.executable, "-m", "stockmemo", "analyze", *tickers, "--api", host.base_url],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert first.startswith("submitted CXL0, "), first
        batch_id = first.strip().rsplit(" ", 1)[1]
        cancelled = requests.delete(f"{host.base_url}/api/batches/{batch_id}",
                                    headers=key_header(host), timeout=10)
        assert cancelled.status_code == 202, cancelled.text
        stdout, rest = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, first + rest
    assert stdout == ""
    assert rest.rstrip().splitlines()[-1].startswith("error: cancelled: the batch did not "
                                                     "complete (")
