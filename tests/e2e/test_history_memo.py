"""The real app on the local host with MARKET_DATA_PROVIDER=history: a memo (and a batch's
comparison) on the sample's real prices, measured against the S&P 500 index and saying so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.app_env import APP, app_folder, app_settings, key_header, keyed
from tests.e2e.test_analysis_http import follow, submit
from tests.e2e.test_batches import follow_batch
from tests.price_sample import load_sample

HUB = "StockMemoHistory"


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    load_sample(azurite.connection_string)
    root = app_folder(tmp_path_factory.mktemp("history-app"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, MARKET_DATA_PROVIDER="history"):
            with DevHost(APP, root=Path(root), port=0) as running:
                yield running


def test_a_memo_on_real_prices_names_the_sp500_index_as_its_benchmark(host: DevHost) -> None:
    answer = submit(host, {"ticker": "aapl"})
    assert answer.status_code == 202, answer.text
    job, _ = follow(host, answer.json()["statusQueryGetUri"], timeout=120)
    assert job["status"] == "completed", job

    api = keyed(host)
    memo = api.get(answer.json()["reportUri"], timeout=10).text
    assert memo.startswith("# AAPL research memo") and "SIMULATED DATA" not in memo
    assert "| S&P 500 index return, 1y (252 trading days) (`spy_return_1y`) |" in memo
    assert "Excess return vs S&P 500 index, 1y" in memo and "Beta vs S&P 500 index" in memo
    assert "benchmark (S&P 500 index) 1y return" in memo  # the quant note
    assert "- Benchmark: S&P 500 index (SP500, history: skfolio S&P 500 sample)" in memo
    assert "- Market data provider: history: skfolio S&P 500 sample" in memo
    assert "SPY" not in memo
    # The store's last day, and fundamentals the store does not hold, missing with why.
    assert "| 2022-12-28 |" in memo
    for metric_id in ("market_cap", "pe_ratio", "eps", "beta"):
        assert f"- Metric `{metric_id}` (" in memo
    assert memo.count("not in the price store (it holds daily closes only)") == 4
    assert "19 of 23 metrics available (completeness 0.83)." in memo
    assert job["confidence"] <= 0.83

    chart = api.get(f"{host.base_url}/api/analyses/{job['id']}/chart.svg", timeout=10)
    assert chart.status_code == 200
    assert "AAPL against S&amp;P 500 index" in chart.text and "SPY" not in chart.text

    evidence = api.get(f"{host.base_url}/api/analyses/{job['id']}/evidence", timeout=10)
    assert evidence.status_code == 200, evidence.text
    quant = evidence.json()["quant"]
    assert quant["benchmark_series"]["symbol"] == "SP500"
    assert quant["benchmark_series"]["label"] == "S&P 500 index"


def test_a_ticker_the_store_does_not_hold_fails_as_unknown(host: DevHost) -> None:
    answer = submit(host, {"ticker": "NVDA"})
    job, _ = follow(host, answer.json()["statusQueryGetUri"], timeout=120)
    assert job["status"] == "failed" and job["error"]["code"] == "unknown_ticker"


def test_a_batch_comparison_names_the_sp500_index(host: DevHost) -> None:
    answer = requests.post(
        f"{host.base_url}/api/batches", json={"tickers": ["JPM", "XOM"]},
        headers=key_header(host), timeout=10,
    )
    assert answer.status_code == 202, answer.text
    body = answer.json()
    batch = follow_batch(host, body["statusQueryGetUri"], timeout=180)
    assert batch["status"] == "completed", batch
    api = keyed(host)
    comparison = api.get(body["reportUri"], timeout=10).text
    assert "S&P 500 index" in comparison and "SPY" not in comparison
    chart = api.get(f"{host.base_url}/api/batches/{body['id']}/chart.svg", timeout=10).text
    assert "S&amp;P 500 index" in chart and "SPY" not in chart
