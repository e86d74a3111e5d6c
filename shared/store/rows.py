"""The rows of the `analyses` table: every kind's RowKey, its key range, and the report-log row.

PartitionKey is the owner; the RowKey's prefix says what a row is:
- `job_{id}`: the job (`shared/store/jobs.py`);
- `log_{TICKER}_{inverted ticks}_{id}`: a completed job's report-log entry, newest first within
  a ticker (`ReportLogRow`, written by persist in the transaction that completes the job);
- `idem_{sha256(owner, key)}`: the job an Idempotency-Key named (`shared/store/admission.py`);
- `quota_{yyyymmddhh}`: a caller's admissions in one UTC clock hour (admission too);
- `batch_{id}`: a batch of jobs and its items (`shared/store/batches.py`);
- `watch_{name}`: a watchlist, its webhook secret and its last runs
  (`shared/store/watchlists.py`; names are `a-z`, `0-9` and '-', never '_').

Every prefix ends in '_', and '`' is the character right after '_', so the keys of one kind are
exactly those from 'job_' (included) to 'job`' (excluded): `KeyRange.prefixed` says so once.
Tickers are letters, digits, '.' and '-' (no '_'), so `log_MSFT_` never starts another ticker's
keys.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.domain.models import Grounding, Verdict

_JOB = "job_"
_LOG = "log_"
_IDEM = "idem_"
_QUOTA = "quota_"
_BATCH = "batch_"
_WATCH = "watch_"
_SEPARATOR = "_"
_AFTER_SEPARATOR = "`"  # chr(ord("_") + 1): the first key past every key with a given prefix

_EPOCH_TICKS = 621355968000000000  # .NET ticks at 1970-01-01
_MAX_TICKS = 3155378975999999999  # DateTime.MaxValue.Ticks


def job_row_key(job_id: str) -> str:
    return f"{_JOB}{job_id}"


def batch_row_key(batch_id: str) -> str:
    return f"{_BATCH}{batch_id}"


def watch_row_key(name: str) -> str:
    return f"{_WATCH}{name}"


def log_row_key(ticker: str, completed_at: datetime, job_id: str) -> str:
    """Newest first in key order: inverted .NET ticks of the completion time."""
    ticks = _EPOCH_TICKS + int(completed_at.astimezone(UTC).timestamp() * 10_000_000)
    return f"{_log_prefix(ticker)}{_MAX_TICKS - ticks:019d}{_SEPARATOR}{job_id}"


def idem_row_key(owner: str, key: str) -> str:
    """One row per (owner, Idempotency-Key): two callers' equal keys never meet."""
    scoped = hashlib.sha256(f"{owner}\n{key}".encode()).hexdigest()
    return f"{_IDEM}{scoped}"


def quota_row_key(at: datetime) -> str:
    """The counter of the UTC clock hour `at` falls in."""
    return f"{_QUOTA}{at.astimezone(UTC):%Y%m%d%H}"


def _log_prefix(ticker: str) -> str:
    return f"{_LOG}{ticker}{_SEPARATOR}"


@dataclass(frozen=True)
class KeyRange:
    """RowKeys from `lo` (included) up to `hi` (excluded)."""

    lo: str
    hi: str

    @classmethod
    def prefixed(cls, prefix: str) -> KeyRange:
        """Every key that starts with `prefix`, which ends in '_'."""
        if not prefix.endswith(_SEPARATOR):
            raise ValueError(f"{prefix!r}: a row prefix ends in {_SEPARATOR!r}")
        return cls(prefix, prefix[: -len(_SEPARATOR)] + _AFTER_SEPARATOR)

    @property
    def filter(self) -> str:
        """The OData filter text selecting this range (quotes doubled, as OData escapes them)."""
        return f"RowKey ge {_literal(self.lo)} and RowKey lt {_literal(self.hi)}"

    def __contains__(self, row_key: object) -> bool:
        return isinstance(row_key, str) and self.lo <= row_key < self.hi


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def job_rows() -> KeyRange:
    return KeyRange.prefixed(_JOB)


def batch_rows() -> KeyRange:
    return KeyRange.prefixed(_BATCH)


def watch_rows() -> KeyRange:
    return KeyRange.prefixed(_WATCH)


def log_rows(ticker: str | None = None) -> KeyRange:
    """Every report-log row, or one ticker's (newest first in key order)."""
    return KeyRange.prefixed(_LOG if ticker is None else _log_prefix(ticker))


def idem_rows() -> KeyRange:
    return KeyRange.prefixed(_IDEM)


def quota_rows(before: datetime | None = None) -> KeyRange:
    """Every quota row, or those of the clock hours before the one `before` falls in."""
    every = KeyRange.prefixed(_QUOTA)
    return every if before is None else KeyRange(every.lo, quota_row_key(before))


class ReportLogRow(BaseModel):
    """A completed job's report-log entry, as persist writes it beside the completed job row."""

    model_config = ConfigDict(frozen=True)

    owner: str
    job_id: str
    ticker: str
    verdict: Verdict
    confidence: float
    grounding: Grounding
    completed_at: datetime
    memo_blob: str
    evidence_blob: str
    evidence_hash: str

    @property
    def row_key(self) -> str:
        return log_row_key(self.ticker, self.completed_at, self.job_id)

    def entity(self) -> dict[str, Any]:
        """The entity, with the properties rows have always been stored with."""
        return {
            "PartitionKey": self.owner,
            "RowKey": self.row_key,
            "JobId": self.job_id,
            "Ticker": self.ticker,
            "Verdict": self.verdict.value,
            "Confidence": self.confidence,
            "Grounding": self.grounding.value,
            "CompletedAt": self.completed_at,
            "MemoBlob": self.memo_blob,
            "EvidenceBlob": self.evidence_blob,
            "EvidenceHash": self.evidence_hash,
        }
