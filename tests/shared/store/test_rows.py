"""The `analyses` table's keys and ranges (shared/store/rows.py): the layout rows are stored in."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.data.tables import TableClient, TableServiceClient

from devhost.azurite import Azurite
from shared.domain.models import Grounding, Verdict
from shared.store.rows import (
    KeyRange,
    ReportLogRow,
    idem_row_key,
    idem_rows,
    job_row_key,
    job_rows,
    log_row_key,
    log_rows,
    quota_row_key,
    quota_rows,
)

AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
TICKERS = ["A", "AA", "BRK", "BRK-B", "BRK.B", "MSFT"]


def every_kind() -> dict[str, set[str]]:
    """A few keys of each kind, with tickers that share a beginning."""
    ids = [uuid.UUID(int=n).hex for n in (1, 2, 3)]
    return {
        "job": {job_row_key(i) for i in ids},
        **{
            f"log {t}": {log_row_key(t, AT - timedelta(days=n), i) for n, i in enumerate(ids)}
            for t in TICKERS
        },
        "idem": {idem_row_key(o, "k") for o in ("anonymous", "someone-else")},
        "quota": {quota_row_key(AT - timedelta(hours=n)) for n in range(3)},
    }


def test_the_keys_are_the_stored_layout() -> None:
    job_id = "0123456789abcdef0123456789abcdef"
    assert job_row_key(job_id) == f"job_{job_id}"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    # DateTime.MaxValue.Ticks minus the ticks at 1970-01-01, 19 digits: what rows hold today.
    assert log_row_key("MSFT", epoch, job_id) == f"log_MSFT_2534023007999999999_{job_id}"
    assert log_row_key("MSFT", epoch + timedelta(microseconds=1), job_id) == (
        f"log_MSFT_2534023007999999989_{job_id}"
    )
    scoped = hashlib.sha256(b"anonymous\norder-7").hexdigest()
    assert idem_row_key("anonymous", "order-7") == f"idem_{scoped}"
    assert quota_row_key(AT) == "quota_2026030405"


def test_keys_read_the_clock_in_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    local = AT.astimezone(plus_two)
    assert quota_row_key(local) == quota_row_key(AT)
    assert log_row_key("MSFT", local, "x") == log_row_key("MSFT", AT, "x")


def test_idem_keys_are_per_owner() -> None:
    assert idem_row_key("a", "k") != idem_row_key("b", "k")
    assert idem_row_key("a", "k") != idem_row_key("a", "k2")


def test_report_log_keys_sort_newest_first() -> None:
    times = [datetime(1999, 12, 31, 23, 59, 59, tzinfo=UTC), AT - timedelta(microseconds=1), AT,
             AT + timedelta(microseconds=1), AT + timedelta(days=3650)]
    keys = [log_row_key("MSFT", t, "0" * 32) for t in times]
    assert sorted(keys) == list(reversed(keys))
    assert len({len(k) for k in keys}) == 1  # fixed width, so text order is time order
    # The same instant: the job id breaks the tie.
    assert log_row_key("MSFT", AT, "a" * 32) < log_row_key("MSFT", AT, "b" * 32)


def test_each_range_holds_exactly_its_kind() -> None:
    kinds = every_kind()
    everything = set().union(*kinds.values())
    assert len(everything) == sum(len(keys) for keys in kinds.values())
    ranges = {"job": job_rows(), "idem": idem_rows(), "quota": quota_rows(),
              **{f"log {t}": log_rows(t) for t in TICKERS}}
    for kind, key_range in ranges.items():
        assert {k for k in everything if k in key_range} == kinds[kind], kind
    every_log = set().union(*(kinds[f"log {t}"] for t in TICKERS))
    assert {k for k in everything if k in log_rows()} == every_log


def test_quota_rows_before_an_hour_are_the_earlier_hours() -> None:
    hours = [quota_row_key(AT - timedelta(hours=n)) for n in range(4)]
    earlier = quota_rows(before=AT - timedelta(hours=1))
    assert [h for h in hours if h in earlier] == hours[2:]
    assert job_row_key("x") not in earlier and idem_row_key("o", "k") not in earlier


def test_filter_text() -> None:
    assert job_rows().filter == "RowKey ge 'job_' and RowKey lt 'job`'"
    assert idem_rows().filter == "RowKey ge 'idem_' and RowKey lt 'idem`'"
    assert log_rows().filter == "RowKey ge 'log_' and RowKey lt 'log`'"
    assert log_rows("BRK.B") == KeyRange("log_BRK.B_", "log_BRK.B`")
    assert quota_rows(before=AT).filter == (
        "RowKey ge 'quota_' and RowKey lt 'quota_2026030405'"
    )
    assert KeyRange("it's_", "z").filter == "RowKey ge 'it''s_' and RowKey lt 'z'"


def test_a_prefix_ends_in_the_separator() -> None:
    with pytest.raises(ValueError, match="ends in"):
        KeyRange.prefixed("job")


def test_the_report_log_row_is_the_entity_stored_today() -> None:
    row = ReportLogRow(
        owner="anonymous", job_id="j1", ticker="MSFT", verdict=Verdict.HOLD, confidence=0.5,
        grounding=Grounding.GROUNDED, completed_at=AT, memo_blob="reports/MSFT/j1/memo.md",
        evidence_blob="reports/MSFT/j1/evidence.json", evidence_hash="ab" * 32,
    )
    assert row.entity() == {
        "PartitionKey": "anonymous",
        "RowKey": log_row_key("MSFT", AT, "j1"),
        "JobId": "j1",
        "Ticker": "MSFT",
        "Verdict": "hold",
        "Confidence": 0.5,
        "Grounding": "grounded",
        "CompletedAt": AT,
        "MemoBlob": "reports/MSFT/j1/memo.md",
        "EvidenceBlob": "reports/MSFT/j1/evidence.json",
        "EvidenceHash": "ab" * 32,
    }
    assert row.row_key in log_rows("MSFT")
    assert all(type(v) in (str, float, datetime) for v in row.entity().values())


@pytest.fixture
def table(azurite: Azurite) -> Iterator[TableClient]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"rows{uuid.uuid4().hex[:12]}")
    yield client
    service.delete_table(client.table_name)


def test_storage_selects_the_same_rows(table: TableClient) -> None:
    """The filters as Azurite runs them select what the ranges hold, newest log row first."""
    kinds = every_kind()
    for key in set().union(*kinds.values()):
        table.create_entity({"PartitionKey": "p", "RowKey": key})

    def selected(key_range: KeyRange) -> list[str]:
        return [e["RowKey"] for e in table.query_entities(key_range.filter)]

    assert set(selected(job_rows())) == kinds["job"]
    assert set(selected(idem_rows())) == kinds["idem"]
    assert set(selected(quota_rows())) == kinds["quota"]
    for ticker in TICKERS:
        newest_first = sorted(kinds[f"log {ticker}"])
        assert selected(log_rows(ticker)) == newest_first, ticker
        assert newest_first[0] == log_row_key(ticker, AT, uuid.UUID(int=1).hex)
