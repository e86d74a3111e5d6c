"""`make demo`'s script: real prices as of the sample's last day, or a named ticker on
simulated prices, saying which. Runs `python -m demo` as the Makefile does (its own Azurite and
host), so it is the slowest of the e2e tests (~10 s each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_demo(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "demo", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=240, check=False,
    )


def test_the_demo_writes_a_memo_on_real_prices_with_its_as_of_date() -> None:
    done = run_demo()
    assert done.returncode == 0, done.stderr[-2000:]
    memo = done.stdout[done.stdout.index("# MSFT research memo"):]
    assert "**As of 2022-12-28**" in "\n".join(memo.splitlines()[:5])
    assert "SIMULATED DATA" not in memo
    assert "- Market data provider: history: skfolio S&P 500 sample" in memo
    assert "S&P 500 index" in memo
    assert "real prices (the skfolio sample) as of 2022-12-28" in done.stderr


def test_a_named_ticker_runs_on_simulated_prices_and_says_so() -> None:
    done = run_demo("NVDA")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "NVDA on SIMULATED market data" in done.stderr
    assert "SIMULATED DATA" in done.stdout and "**As of" not in done.stdout
