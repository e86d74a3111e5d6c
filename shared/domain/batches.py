"""Batches: several tickers analysed together, each as an ordinary job, then compared.

A batch is a row of its own beside its children's job rows (`shared/store/batches.py`); its
items say, per ticker, which job it is and how that job ended as far as the batch knows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.domain.as_of import parse_as_of, shown
from shared.domain.models import (
    TERMINAL_STATUSES,
    Job,
    JobError,
    JobStatus,
    Stage,
    Usage,
    Verdict,
    normalize_ticker,
    optional_field,
)
from shared.errors import InvalidAsOf, InvalidBatch, InvalidBody, InvalidTicker

# One admission transaction holds the batch row, every child's job row, the quota row and the
# idempotency row, and Table Storage takes at most 100 operations in one.
TRANSACTION_LIMIT = 100
MAX_BATCH_TICKERS = TRANSACTION_LIMIT - 4
MIN_BATCH_TICKERS = 2


def parse_batch_as_of(data: Any) -> date | None:
    """The optional `as_of` of a `{"tickers": [...], "as_of": "YYYY-MM-DD"}` body (call after
    parse_tickers); InvalidAsOf when it is not such a date."""
    value = data.get("as_of") if isinstance(data, dict) else None
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise InvalidAsOf(str(exc), field="as_of", value=shown(value)) from exc


def parse_tickers(data: Any, max_tickers: int) -> list[str]:
    """The distinct tickers of a `{"tickers": [...]}` body, in the order first given.

    Each ticker follows the single-analysis rule; equal ones after normalising count once.
    Raises InvalidBody (not an object, no list, unknown field), InvalidTicker (names the
    offending value and its index) or InvalidBatch (fewer than 2 or more than `max_tickers`).
    """
    if not isinstance(data, dict):
        raise InvalidBody('the body must be a JSON object like {"tickers": ["AAPL", "MSFT"]}')
    unknown = sorted(set(data) - {"tickers", "as_of"})
    if unknown:
        raise InvalidBody(f"unknown field '{unknown[0]}'", field=unknown[0])
    if "tickers" not in data:
        raise InvalidBody("missing field 'tickers'", field="tickers")
    raw = data["tickers"]
    if not isinstance(raw, list):
        raise InvalidBody("tickers must be a list of ticker strings", field="tickers")
    tickers: list[str] = []
    for index, value in enumerate(raw):
        try:
            ticker = normalize_ticker(value)
        except ValueError as exc:
            raise InvalidTicker(
                f"tickers[{index}]: {exc}", field=f"tickers[{index}]", value=_shown(value)
            ) from exc
        if ticker not in tickers:
            tickers.append(ticker)
    if not MIN_BATCH_TICKERS <= len(tickers) <= max_tickers:
        raise InvalidBatch(
            f"a batch takes {MIN_BATCH_TICKERS} to {max_tickers} distinct tickers; "
            f"this one has {len(tickers)}",
            field="tickers",
        )
    return tickers


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


class BatchItem(BaseModel):
    """One ticker of a batch: its job, and how that job stands."""

    ticker: str
    id: str = Field(description="The child job's id: GET /api/analyses/{id}.")
    status: JobStatus
    stage: Stage | None = optional_field("The child's stage, as its own job shows it.")
    verdict: Verdict | None = optional_field()
    confidence: float | None = Field(default=None, ge=0, le=1, exclude_if=lambda v: v is None)
    error_code: str | None = optional_field("Why the child failed.")
    error_message: str | None = optional_field()

    @classmethod
    def of(cls, job: Job) -> BatchItem:
        """The item of a child job, as its row says."""
        return cls(
            ticker=job.ticker,
            id=job.id,
            status=job.status,
            stage=job.stage,
            verdict=job.verdict,
            confidence=job.confidence,
            error_code=job.error.code if job.error else None,
            error_message=job.error.message if job.error else None,
        )


class BatchCounts(BaseModel):
    queued: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @classmethod
    def of(cls, items: list[BatchItem]) -> BatchCounts:
        counts = cls()
        for item in items:
            setattr(counts, item.status.value, getattr(counts, item.status.value) + 1)
        return counts


class Batch(BaseModel):
    """A batch as stored in the `analyses` table."""

    id: str
    owner: str
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    items: list[BatchItem]
    error: JobError | None = None
    report_blob: str | None = None
    usage: Usage | None = None  # the Portfolio Strategist's call (the children's are theirs)
    as_of: date | None = None  # a point-in-time batch: every child carries it

    @property
    def tickers(self) -> list[str]:
        return [item.ticker for item in self.items]

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_STATUSES


class BatchView(BaseModel):
    """A batch as GET /api/batches/{id} returns it."""

    id: str = Field(description="The batch id (32 hex characters).")
    status: JobStatus
    created_at: datetime
    started_at: datetime | None = optional_field()
    completed_at: datetime | None = optional_field()
    tickers: list[str]
    items: list[BatchItem]
    counts: BatchCounts
    error: JobError | None = optional_field()
    usage: Usage | None = optional_field(
        "The comparison's own model call; each child's calls are on its job."
    )
    as_of: date | None = optional_field("The date of a point-in-time batch, if any.")
    report_url: str = Field(description="GET this for the comparison memo once completed.")
    chart_url: str = Field(description="All tickers and the benchmark rebased to 100 (SVG).")

    @classmethod
    def of(cls, batch: Batch, base: str) -> BatchView:
        url = f"{base}/api/batches/{batch.id}"
        return cls(
            id=batch.id,
            status=batch.status,
            created_at=batch.created_at,
            started_at=batch.started_at,
            completed_at=batch.completed_at,
            tickers=batch.tickers,
            items=batch.items,
            counts=BatchCounts.of(batch.items),
            error=batch.error,
            usage=batch.usage,
            as_of=batch.as_of,
            report_url=f"{url}/report",
            chart_url=f"{url}/chart.svg",
        )


class BatchPage(BaseModel):
    """One page of GET /api/batches, newest first."""

    model_config = ConfigDict(extra="forbid")

    items: list[BatchView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last one."
    )
