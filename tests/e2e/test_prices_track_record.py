"""GET /api/prices/{symbol} and GET /api/track-record through the real app on the local host:
with MARKET_DATA_PROVIDER=history (the sample in Azurite), the closes are the sample file's and
the track record of seeded live memos equals `summarise` over an independently scored list.
(The simulated provider's side: `test_prices_simulated.py`.)

The history host runs AUTH_MODE=easyauth, so each test's memos sit in a partition of its own
(a fresh object id), whatever other modules left in the session's `analyses` table."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.data.tables import TableServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.domain.models import Job, JobStatus, Stage, Usage, Verdict
from shared.domain.track_record import Decision, TrackRecord, summarise
from shared.settings import ANALYSES_TABLE
from shared.store.jobs import job_row
from tests.app_env import APP, app_folder, app_settings, key_header
from tests.e2e.test_backtest import excess
from tests.price_sample import load_sample, raw_closes

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoPrices"
CUTOFF = date(2018, 1, 1)


@pytest.fixture(scope="module")
def history(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    load_sample(azurite.connection_string)
    root = app_folder(tmp_path_factory.mktemp("prices-app"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, MARKET_DATA_PROVIDER="history",
                          AUTH_MODE="easyauth", LLM_TRAINING_CUTOFF=CUTOFF.isoformat()):
            with DevHost(APP, root=Path(root), port=0) as running:
                yield running


def caller(owner: str) -> dict[str, str]:
    claims = {"claims": [{"typ": "oid", "val": owner}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode()}


def get(host: DevHost, path: str, owner: str | None = None, **query: str) -> requests.Response:
    headers = {**key_header(host), **caller(owner or str(uuid.uuid4()))}
    return requests.get(f"{host.base_url}/api/{path}", params=query, headers=headers,
                        timeout=30)


# -- prices ----------------------------------------------------------------------------------


def test_a_range_of_closes_is_the_sample_files(history: DevHost) -> None:
    answer = get(history, "prices/aapl", start="2020-01-01", end="2020-01-31")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["symbol"] == body["requested"] == "AAPL"
    assert body["source"] == "history" and body["simulated"] is False
    assert body["benchmark"] is False and body["name"] is None
    assert body["dataset"] == "skfolio S&P 500 sample" and body["currency"] == "USD"
    raw = raw_closes()["AAPL"].loc["2020-01-01":"2020-01-31"].dropna()
    assert body["dates"] == [d.date().isoformat() for d in raw.index]
    assert body["closes"] == pytest.approx(list(raw.values), rel=1e-12)
    assert len(body["dates"]) == 21


def test_spy_answers_the_sp500_index_named(history: DevHost) -> None:
    body = get(history, "prices/SPY", start="2022-12-20").json()
    assert body["requested"] == "SPY" and body["symbol"] == "SP500"
    assert body["name"] == "S&P 500 index" and body["benchmark"] is True
    assert body["dates"][-1] == "2022-12-28" and body["dates"][0] == "2022-12-20"
    raw = raw_closes()["SP500"].loc["2022-12-20":]
    assert body["closes"] == pytest.approx(list(raw.values), rel=1e-12)


def test_without_a_range_every_close(history: DevHost) -> None:
    body = get(history, "prices/KO").json()
    assert body["dates"][0] == "1990-01-02" and body["dates"][-1] == "2022-12-28"
    assert len(body["closes"]) == int(raw_closes()["KO"].notna().sum())


def test_a_range_without_closes_is_empty_not_an_error(history: DevHost) -> None:
    answer = get(history, "prices/KO", start="2030-01-01", end="2030-12-31")
    assert answer.status_code == 200 and answer.json()["dates"] == []


@pytest.mark.parametrize(
    ("query", "field", "value"),
    [
        ({"start": "2020-1-1"}, "start", "2020-1-1"),
        ({"end": "2020-02-30"}, "end", "2020-02-30"),
        ({"start": "yesterday"}, "start", "yesterday"),
        ({"start": "2020-03-01", "end": "2020-02-01"}, "end", "2020-02-01"),
    ],
)
def test_a_bad_date_is_invalid_query_with_field_and_value(
    history: DevHost, query: dict[str, str], field: str, value: str
) -> None:
    answer = get(history, "prices/AAPL", **query)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_query" and error["field"] == field
    assert error["value"] == value


def test_an_unknown_symbol_is_404_unknown_ticker(history: DevHost) -> None:
    answer = get(history, "prices/NVDA")
    assert answer.status_code == 404
    error = answer.json()["error"]
    assert error["code"] == "unknown_ticker" and error["value"] == "NVDA"


def test_a_malformed_symbol_is_invalid_ticker(history: DevHost) -> None:
    answer = get(history, "prices/BAD!")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_ticker"


# -- the track record ------------------------------------------------------------------------

SEEDED = [  # ticker, completion date, verdict, confidence, model calls
    (ticker, date(2016, 2, 10) + timedelta(days=91 * k), verdict, confidence, calls)
    for k in range(10)
    for ticker, verdict, confidence, calls in (
        ("AAPL", (Verdict.BUY, Verdict.HOLD, Verdict.SELL)[k % 3], 0.35 + 0.05 * (k % 5), 0),
        ("JPM", (Verdict.SELL, Verdict.BUY, Verdict.HOLD)[k % 3], 0.6, 2 if k < 3 else 0),
        ("XOM", (Verdict.HOLD, Verdict.SELL, Verdict.BUY)[k % 3], 0.45 + 0.1 * (k % 4), 0),
    )
]


def job(owner: str, ticker: str, completed: datetime, verdict: Verdict, confidence: float,
        calls: int = 0, status: JobStatus = JobStatus.COMPLETED,
        as_of: date | None = None) -> Job:
    return Job(
        id=uuid.uuid4().hex, owner=owner, ticker=ticker, status=status,
        stage=Stage(status.value), created_at=completed - timedelta(seconds=30),
        started_at=completed - timedelta(seconds=29), completed_at=completed, verdict=verdict,
        confidence=confidence, usage=Usage(llm_calls=calls), as_of=as_of,
    )


SEEDED_ROWS: list[tuple[str, str]] = []


def seed(azurite: Azurite, jobs: list[Job]) -> None:
    """Completed job rows without memos, for the statistics only: removed after each test
    (`unseed`), since the session's storage is shared and a completed row without its memo is
    what the trust tests' no-false-success check looks for."""
    table = TableServiceClient.from_connection_string(
        azurite.connection_string).create_table_if_not_exists(ANALYSES_TABLE)
    for item in jobs:
        row = job_row(item)
        table.upsert_entity(row)
        SEEDED_ROWS.append((row["PartitionKey"], row["RowKey"]))


@pytest.fixture(autouse=True)
def unseed(azurite: Azurite) -> Iterator[None]:
    yield
    table = TableServiceClient.from_connection_string(
        azurite.connection_string).get_table_client(ANALYSES_TABLE)
    while SEEDED_ROWS:
        partition, row_key = SEEDED_ROWS.pop()
        table.delete_entity(partition, row_key)


def close(got: Any, expected: Any, path: str = "") -> None:
    """Equal, floats to 1e-9 relative (the store's closes are the file's numbers re-read)."""
    if isinstance(expected, dict):
        assert set(got) == set(expected), path
        for key in expected:
            close(got[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, list):
        assert len(got) == len(expected), path
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            close(a, b, f"{path}[{i}]")
    elif isinstance(expected, float) and isinstance(got, float | int):
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-12), path
    else:
        assert got == expected, path


@pytest.mark.parametrize("horizon", [21, 63])
def test_the_track_record_of_live_memos_equals_summarise_over_an_independent_list(
    history: DevHost, azurite: Azurite, horizon: int
) -> None:
    owner = str(uuid.uuid4())
    memos = [job(owner, t, datetime(d.year, d.month, d.day, 21, 30, tzinfo=UTC), v, c, calls)
             for t, d, v, c, calls in SEEDED]
    today = datetime.now(UTC)
    others = [
        # Not live: point-in-time memos belong to a backtest.
        job(owner, "AAPL", datetime(2017, 5, 2, 21, 0, tzinfo=UTC), Verdict.BUY, 0.9,
            as_of=date(2017, 5, 1)),
        # Not completed.
        job(owner, "AAPL", datetime(2017, 6, 2, 21, 0, tzinfo=UTC), Verdict.BUY, 0.9,
            status=JobStatus.FAILED),
        # Live, but its window has not passed (the sample ends in 2022): pending.
        job(owner, "KO", today, Verdict.BUY, 0.5),
        # Live, but the provider has no prices for it: pending, and named.
        job(owner, "NVDA", datetime(2017, 3, 1, 21, 0, tzinfo=UTC), Verdict.SELL, 0.5),
    ]
    seed(azurite, memos + others)

    answer = get(history, "track-record", owner=owner, horizon=str(horizon))
    assert answer.status_code == 200, answer.text
    body = answer.json()

    decisions = []
    for memo in memos:
        assert memo.completed_at is not None and memo.verdict is not None
        day = memo.completed_at.date()
        decisions.append(Decision(
            ticker=memo.ticker, as_of=day, job_id=memo.id, verdict=memo.verdict,
            confidence=memo.confidence or 0,
            forward_excess_return={str(horizon): excess(memo.ticker, day.isoformat(), horizon)},
        ))
    assert all(d.forward_excess_return[str(horizon)] is not None for d in decisions)
    expected = summarise(decisions, horizon, cutoff=CUTOFF)  # JPM's first three: a model's
    close(body["record"], expected.model_dump(mode="json"))
    record = TrackRecord.model_validate(body["record"])
    assert record.n_scored == len(SEEDED) == 30 and record.n_dates == 10
    assert record.contamination is not None
    assert record.contamination.flagged == sum(1 for d in decisions if d.as_of < CUTOFF) == 24

    assert body["horizon"] == horizon and body["provider"] == "history"
    assert body["benchmark"] == {"symbol": "SP500", "name": "S&P 500 index"}
    assert body["memos"] == len(SEEDED) + 2 and body["pending"] == 2
    assert body["unpriced"] == ["NVDA"] and body["model_written"] == 3


def test_without_model_written_memos_nothing_is_flagged(
    history: DevHost, azurite: Azurite
) -> None:
    owner = str(uuid.uuid4())
    seed(azurite, [job(owner, "KO", datetime(2016, 5, 2, 21, 0, tzinfo=UTC), Verdict.BUY, 0.5)])
    body = get(history, "track-record", owner=owner).json()
    assert body["horizon"] == 21 and body["record"]["contamination"] is None
    assert body["record"]["n_scored"] == 1 and body["record"]["verdict"] == "insufficient_data"


def test_a_caller_without_memos_gets_an_empty_record(history: DevHost) -> None:
    body = get(history, "track-record", horizon="63").json()
    assert body["memos"] == 0 and body["record"]["n_decisions"] == 0


def test_another_horizon_is_invalid_query(history: DevHost) -> None:
    answer = get(history, "track-record", horizon="5")
    assert answer.status_code == 400
    assert answer.json()["error"] | {"message": ""} == {
        "code": "invalid_query", "message": "", "field": "horizon", "value": "5"}
