"""The notification body: canonical bytes, the summary line, the checked fields."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.domain.models import Verdict
from shared.notify.payload import NotificationBody, TickerChange, notification_body, summary_line

BATCH = "0123456789abcdef0123456789abcdef"


def change(ticker: str, before: Verdict | None, after: Verdict | None, n: int = 1) -> TickerChange:
    return TickerChange(
        ticker=ticker, job_id=f"{n:032x}", verdict_before=before, verdict_after=after,
        confidence_before=0.5 if before else None, confidence_after=0.7 if after else None,
        excess_return=0.031 if before and after else None,
    )


def test_the_body_carries_every_field_and_is_canonical_json() -> None:
    changes = [change("AAPL", Verdict.HOLD, Verdict.BUY, 1),
               change("MSFT", Verdict.BUY, Verdict.HOLD, 2)]
    urls = {"AAPL": "https://app.example.com/api/analyses/1/report",
            "comparison": "https://app.example.com/api/batches/b/comparison"}
    raw = notification_body("tech", "run-7", BATCH, changes, urls)
    data = json.loads(raw)
    assert set(data) == {"watchlist", "run_id", "batch_id", "changes", "report_urls", "text"}
    assert data["changes"][0] == {
        "ticker": "AAPL", "job_id": "00000000000000000000000000000001",
        "verdict_before": "hold", "verdict_after": "buy", "confidence_before": 0.5,
        "confidence_after": 0.7, "excess_return": 0.031,
    }
    assert data["text"] == "Watchlist tech: 2 changed — AAPL hold→buy, MSFT buy→hold"
    assert raw == json.dumps(data, sort_keys=True, separators=(",", ":"),
                             ensure_ascii=False).encode("utf-8")
    # the same run gives the same bytes (so the same signature on every retry)
    assert raw == notification_body("tech", "run-7", BATCH, list(changes), dict(urls))
    assert NotificationBody.model_validate_json(raw).text == data["text"]


def test_the_line_names_changes_first_memos_and_missing_memos() -> None:
    changes = [change("AAPL", Verdict.HOLD, Verdict.HOLD), change("NVDA", None, Verdict.BUY),
               change("TSLA", Verdict.SELL, None), change("MSFT", Verdict.BUY, Verdict.SELL)]
    assert summary_line("tech", changes) == (
        "Watchlist tech: 1 changed — MSFT buy→sell, NVDA buy (first memo), TSLA no memo"
    )
    assert summary_line("tech", changes[:1]) == "Watchlist tech: no verdict changed (1 ticker)"
    assert summary_line("tech", []) == "Watchlist tech: no verdict changed (0 tickers)"


def test_a_long_run_keeps_the_line_short() -> None:
    changes = [change(f"T{i}", Verdict.BUY, Verdict.SELL, i) for i in range(30)]
    line = summary_line("big", changes)
    assert line.startswith("Watchlist big: 30 changed — T0 buy→sell, ")
    assert line.endswith(", and 10 more") and "T19 " in line and "T20 " not in line
    assert "\n" not in line


@pytest.mark.parametrize(
    "fields",
    [{"job_id": "not-hex"}, {"job_id": "0" * 31}, {"job_id": "A" * 32},
     {"ticker": "aapl"}, {"ticker": ""}, {"confidence_after": 1.5},
     {"excess_return": float("nan")}, {"extra": 1}],
)
def test_changes_are_checked(fields: dict[str, object]) -> None:
    data: dict[str, object] = {"ticker": "AAPL", "job_id": "f" * 32, **fields}
    with pytest.raises(ValidationError):
        TickerChange.model_validate(data)


@pytest.mark.parametrize(
    ("watchlist", "batch_id"), [("Tech", BATCH), ("a" * 41, BATCH), ("tech", "b" * 31)]
)
def test_the_body_checks_its_own_fields(watchlist: str, batch_id: str) -> None:
    with pytest.raises(ValidationError):
        notification_body(watchlist, "run", batch_id, [], {})
