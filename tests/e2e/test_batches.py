"""POST /api/batches end to end over HTTP: the real app on the local host, Azurite, the
simulated market (symbols starting ZZZZ stay unknown), and the comparison checked against an
independent numpy computation from the children's stored evidence."""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import REPORTS_CONTAINER
from tests.app_env import key_header, keyed
from tests.e2e.conftest import StorageCounts

TERMINAL = ("completed", "failed", "cancelled")
YEAR = 252


def submit_batch(host: DevHost, body: Any, **headers: str) -> requests.Response:
    return requests.post(
        f"{host.base_url}/api/batches", json=body, headers={**key_header(host), **headers},
        timeout=30,
    )


def follow_batch(
    host: DevHost, url: str, timeout: float = 120, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    batch: dict[str, Any] = {}
    while time.monotonic() < deadline:
        sent = {**key_header(host), **(headers or {})}
        batch = requests.get(url, headers=sent, timeout=10).json()
        if batch["status"] in TERMINAL:
            return batch
        time.sleep(0.1)
    raise AssertionError(f"{url} did not finish: last seen {batch}")


def blob_json(azurite: Azurite, name: str) -> Any:
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    data = blobs.get_container_client(REPORTS_CONTAINER).download_blob(name).readall()
    return json.loads(data)


def closes(series: dict[str, Any]) -> dict[str, float]:
    return dict(zip(series["dates"], series["closes"], strict=True))


def independent_figures(evidence: list[dict[str, Any]]) -> dict[str, Any]:
    """The comparison's math redone with numpy, from the stored evidence documents."""
    prices = [closes(doc["quant"]["ticker_series"]) for doc in evidence]
    shared = sorted(set.intersection(*(set(p) for p in prices)))[-(YEAR + 1):]
    matrix = np.array([[p[d] for d in shared] for p in prices])
    returns = matrix[:, 1:] / matrix[:, :-1] - 1
    portfolio = returns.mean(axis=0)
    index = np.concatenate([[1.0], np.cumprod(1 + portfolio)])
    volatility = portfolio.std(ddof=1) * math.sqrt(YEAR)
    members = returns.std(axis=1, ddof=1) * math.sqrt(YEAR)
    bench = closes(evidence[0]["quant"]["benchmark_series"])
    pairs = [
        (p, bench[b] / bench[a] - 1)
        for p, a, b in zip(portfolio, shared, shared[1:], strict=False)
        if a in bench and b in bench
    ]
    ours, theirs = np.array(pairs).T
    return {
        "correlation": np.corrcoef(returns),
        "portfolio_return_1y": index[-1] - 1,
        "portfolio_volatility_1y": volatility,
        "portfolio_max_drawdown_1y": (index / np.maximum.accumulate(index) - 1).min(),
        "portfolio_beta_1y": np.cov(ours, theirs, ddof=1)[0, 1] / theirs.var(ddof=1),
        "diversification_ratio": members.mean() / volatility,
    }


def test_a_batch_of_four_with_one_unknown_ticker(host: DevHost, azurite: Azurite) -> None:
    api = keyed(host)
    answer = submit_batch(host, {"tickers": ["aapl", "MSFT", "nvda", "ZZZZQ"]})
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert set(body) == {"id", "statusQueryGetUri", "reportUri"}
    batch_id = body["id"]
    assert body["statusQueryGetUri"] == f"{host.base_url}/api/batches/{batch_id}"
    assert body["reportUri"] == f"{host.base_url}/api/batches/{batch_id}/report"
    assert answer.headers["Location"] == body["statusQueryGetUri"]

    batch = follow_batch(host, body["statusQueryGetUri"])
    assert batch["status"] == "completed", batch
    assert batch["tickers"] == ["AAPL", "MSFT", "NVDA", "ZZZZQ"]
    by_ticker = {item["ticker"]: item for item in batch["items"]}
    assert {t: i["status"] for t, i in by_ticker.items()} == {
        "AAPL": "completed", "MSFT": "completed", "NVDA": "completed", "ZZZZQ": "failed",
    }
    assert by_ticker["ZZZZQ"]["error_code"] == "unknown_ticker"
    assert batch["counts"] == {
        "queued": 0, "running": 0, "completed": 3, "failed": 1, "cancelled": 0,
    }

    # Every child is an ordinary job: its row, its memo, its place in the caller's listing.
    evidence = []
    for ticker in ("AAPL", "MSFT", "NVDA"):
        item = by_ticker[ticker]
        job = api.get(f"{host.base_url}/api/analyses/{item['id']}", timeout=10).json()
        assert job["status"] == "completed" and job["batch_id"] == batch_id
        assert job["verdict"] == item["verdict"] and job["confidence"] == item["confidence"]
        memo = api.get(job["report_url"], timeout=10)
        assert memo.status_code == 200 and ticker in memo.text
        evidence.append(
            api.get(f"{host.base_url}/api/analyses/{item['id']}/evidence", timeout=10).json()
        )
        listed = api.get(f"{host.base_url}/api/analyses", params={"ticker": ticker}, timeout=10)
        assert item["id"] in [j["id"] for j in listed.json()["items"]]
    failed = api.get(f"{host.base_url}/api/analyses/{by_ticker['ZZZZQ']['id']}", timeout=10)
    assert failed.json()["status"] == "failed"
    assert failed.json()["error"]["code"] == "unknown_ticker"

    report = api.get(body["reportUri"], timeout=10)
    assert report.status_code == 200
    assert report.headers["Content-Type"].startswith("text/markdown")
    for ticker in ("AAPL", "MSFT", "NVDA", "ZZZZQ"):
        assert ticker in report.text
    assert "unknown_ticker" in report.text
    assert "SIMULATED DATA" in report.text
    html = api.get(body["reportUri"], params={"format": "html"}, timeout=10)
    assert html.status_code == 200 and "<script" not in html.text.lower()
    chart = api.get(f"{host.base_url}/api/batches/{batch_id}/chart.svg", timeout=10)
    assert chart.status_code == 200 and chart.text.lstrip().startswith("<svg")
    for ticker in ("AAPL", "MSFT", "NVDA", "SPY"):
        assert ticker in chart.text

    stored = blob_json(azurite, f"batches/{batch_id}/comparison.json")["comparison"]
    expected = independent_figures(evidence)
    order = [ticker for ticker in stored["correlation"]["tickers"]]
    index = {t: i for i, t in enumerate(("AAPL", "MSFT", "NVDA"))}
    for i, first in enumerate(order):
        for j, second in enumerate(order):
            theirs = expected["correlation"][index[first], index[second]]
            assert round(stored["correlation"]["values"][i][j], 2) == round(theirs, 2)
            assert stored["correlation"]["values"][i][j] == pytest.approx(theirs, abs=1e-9)
    figures = {m["id"]: m["value"] for m in stored["portfolio"]["metrics"]}
    for metric_id in (
        "portfolio_return_1y", "portfolio_volatility_1y", "portfolio_max_drawdown_1y",
        "portfolio_beta_1y", "diversification_ratio",
    ):
        assert figures[metric_id] == pytest.approx(expected[metric_id], rel=1e-9), metric_id
    first, second = order[0], order[1]
    shown = f"{expected['correlation'][index[first], index[second]]:.2f}"
    assert shown in report.text

    listed = api.get(f"{host.base_url}/api/batches", timeout=10).json()
    assert batch_id in [b["id"] for b in listed["items"]]


BAD_BODIES = [
    ({"tickers": []}, "invalid_batch", "tickers", None),
    ({"tickers": ["AAPL"]}, "invalid_batch", "tickers", None),
    ({"tickers": ["AAPL", "aapl"]}, "invalid_batch", "tickers", None),
    ({"tickers": [f"T{n}" for n in range(26)]}, "invalid_batch", "tickers", None),
    ({"tickers": ["AAPL", "NOT A TICKER", "MSFT"]}, "invalid_ticker", "tickers[1]",
     "NOT A TICKER"),
    ({"tickers": ["AAPL", 42]}, "invalid_ticker", "tickers[1]", "42"),
    ({"tickers": "AAPL,MSFT"}, "invalid_body", "tickers", None),
    ({"ticker": "AAPL"}, "invalid_body", "ticker", None),
    (["AAPL", "MSFT"], "invalid_body", None, None),
]


@pytest.mark.parametrize(("body", "code", "field", "value"), BAD_BODIES)
def test_a_bad_batch_is_refused_and_writes_nothing(
    host: DevHost, counts: StorageCounts, body: Any, code: str, field: str | None,
    value: str | None,
) -> None:
    before = counts.snapshot()
    answer = submit_batch(host, body)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert error.get("field") == field
    assert error.get("value") == value
    assert counts.snapshot() == before


def test_an_idempotency_key_names_one_batch(host: DevHost, counts: StorageCounts) -> None:
    key = f"batch-{time.monotonic_ns()}"
    first = submit_batch(host, {"tickers": ["IDA", "IDB"]}, **{"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    after_first = counts.snapshot()
    # The same tickers, spelled otherwise, are the same batch.
    again = submit_batch(host, {"tickers": ["ida", " IDB", "IDA"]}, **{"Idempotency-Key": key})
    assert again.status_code == 202 and again.json() == first.json()
    other = submit_batch(host, {"tickers": ["IDA", "IDC"]}, **{"Idempotency-Key": key})
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_conflict"
    snapshot = counts.snapshot()
    assert snapshot["entities"] == after_first["entities"]
    follow_batch(host, first.json()["statusQueryGetUri"])
