"""`python -m stockmemo backtest` end to end, as a user runs it: the real app on the local host
with MARKET_DATA_PROVIDER=history (the sample in Azurite) and the offline writer, a tiny window
(2 tickers, 3 decision dates), then the same command again, and one too large to start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.store import table_name
from shared.settings import ANALYSES_TABLE
from shared.store.rows import batch_rows
from tests.app_env import APP, app_folder, app_settings, key_header
from tests.e2e.conftest import StorageCounts
from tests.price_sample import load_sample, raw_closes

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoBacktest"
WINDOW = ("--tickers", "aapl,MSFT", "--start", "2019-01-01", "--end", "2019-03-31",
          "--every", "21")
# The S&P 500 index's trading days of 2019-01-02..2019-03-29, every 21st from the first.
DATES = ["2019-01-02", "2019-02-01", "2019-03-05"]


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    load_sample(azurite.connection_string)
    root = app_folder(tmp_path_factory.mktemp("backtest-app"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, MARKET_DATA_PROVIDER="history"):
            with DevHost(APP, root=Path(root), port=0) as running:
                yield running


def backtest(host: DevHost, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "STOCKMEMO_API_KEY": host.function_key}
    return subprocess.run(
        [sys.executable, "-m", "stockmemo", "backtest", *args, "--api", host.base_url],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )


class Counts(StorageCounts):
    """This host's orchestration instances, every row of the analyses table, every report blob
    and the batch rows among those rows."""

    def snapshot(self) -> dict[str, int]:
        counted = super().snapshot()
        counted["instances"] = self._entities(table_name(HUB))
        table = self.tables.get_table_client(ANALYSES_TABLE)
        counted["batches"] = sum(1 for _ in table.query_entities(
            f"{batch_rows().filter}", select=["RowKey"]))
        return counted


def excess(ticker: str, as_of: str, horizon: int) -> float | None:
    """The forward excess return from the raw sample file, by pandas."""
    frame = raw_closes()
    series = frame[ticker].dropna()
    t = series.index.searchsorted(as_of, side="right") - 1
    if t < 0 or t + horizon >= len(series):
        return None
    start, end = series.index[t], series.index[t + horizon]
    bench = frame["SP500"]
    return float((series.iloc[t + horizon] / series.iloc[t] - 1)
                 - (bench.loc[end] / bench.loc[start] - 1))


def test_a_backtest_scores_each_verdict_and_a_rerun_starts_nothing(
    host: DevHost, azurite: Azurite, tmp_path: Path
) -> None:
    counts = Counts(azurite.connection_string)
    out = tmp_path / "results"
    first = backtest(host, *WINDOW, "--output", str(out))
    assert first.returncode == 0, first.stderr
    assert ("backtest: 2 tickers x 3 decision dates (every 21 trading days of S&P 500 index "
            "from 2019-01-01 to 2019-03-31) = 6 analyses") in first.stderr
    assert f"results in {out}/: backtest.json, backtest.md, long_short.svg, calibration.svg" in (
        first.stderr)
    assert first.stdout.startswith("| Horizon | Scored | Dates | IC (95% interval) |")
    assert "| 21 trading days | 6 of 6 | 3 |" in first.stdout

    document = json.loads((out / "backtest.json").read_text())
    decisions = document["decisions"]
    assert len(decisions) == 6
    assert sorted({d["as_of"] for d in decisions}) == DATES
    assert {d["ticker"] for d in decisions} == {"AAPL", "MSFT"}
    for decision in decisions:
        assert set(decision) == {"ticker", "as_of", "job_id", "verdict", "confidence",
                                 "forward_excess_return"}
        assert decision["verdict"] in ("buy", "hold", "sell")
        for horizon in (21, 63):
            expected = excess(decision["ticker"], decision["as_of"], horizon)
            assert decision["forward_excess_return"][str(horizon)] == pytest.approx(expected)
    assert set(document["summary"]) == {"21", "63"}
    assert document["summary"]["21"]["n_decisions"] == 6
    assert document["backtest"]["benchmark"] == {"symbol": "SP500", "name": "S&P 500 index"}
    assert document["backtest"]["decision_dates"] == DATES

    # Each decision is a point-in-time job of its batch, completed as of that date.
    api = requests.Session()
    api.headers.update(key_header(host))
    for decision in decisions:
        job = api.get(f"{host.base_url}/api/analyses/{decision['job_id']}", timeout=10).json()
        assert job["as_of"] == decision["as_of"] and job["status"] == "completed"
        assert job["verdict"] == decision["verdict"]

    markdown = (out / "backtest.md").read_text()
    assert markdown.startswith("# Backtest: 2 tickers, 3 decision dates")
    assert "S&P 500 index" in markdown
    for chart in ("long_short.svg", "calibration.svg"):
        assert (out / chart).read_text().startswith("<svg")

    # The same command again: every batch answers under its Idempotency-Key, nothing starts.
    before = counts.snapshot()
    again = backtest(host, *WINDOW, "--output", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert counts.snapshot() == before
    assert json.loads((tmp_path / "again" / "backtest.json").read_text())["decisions"] == (
        decisions)
    ids = sorted(line.split("batch ")[1] for line in first.stderr.splitlines()
                 if line.startswith("as of ") and line.count(" ") == 4)
    ids_again = sorted(line.split("batch ")[1] for line in again.stderr.splitlines()
                       if line.startswith("as of ") and line.count(" ") == 4)
    assert len(ids) == 3 and ids == ids_again


def test_more_than_200_analyses_stop_before_anything_starts_without_yes(
    host: DevHost, azurite: Azurite, tmp_path: Path
) -> None:
    counts = Counts(azurite.connection_string)
    before = counts.snapshot()
    run = backtest(host, "--tickers", "AAPL,MSFT", "--start", "2018-01-01", "--end",
                   "2018-12-31", "--every", "2", "--output", str(tmp_path))
    # 2018 has 251 trading days: 126 dates x 2 tickers.
    assert run.returncode == 2
    assert "= 252 analyses" in run.stderr
    assert "error: 252 analyses is more than 200; rerun with --yes" in run.stderr
    assert counts.snapshot() == before and not list(tmp_path.iterdir())


def test_one_ticker_is_refused_with_exit_2(host: DevHost) -> None:
    one = backtest(host, "--tickers", "AAPL", "--start", "2019-01-01", "--end", "2019-02-01",
                   "--every", "5")
    assert one.returncode == 2 and "at least 2 tickers" in one.stderr
