"""Everything that crosses an orchestration or activity boundary, and nothing else.

Durable Functions hands these between the orchestrator and the activities as JSON: each
activity takes one of them (`model_dump(mode="json")`, rebuilt with `model_validate`) and
returns one, so fields can be added later without changing a signature, and what travels
through orchestration history stays small (bulky evidence is in Blob; a `*Summary` carries its
reference). One naming rule: an input is named for what it asks (`MarketRequest`,
`NewsRequest`, `QuantInput`, `MemoInput`, `PersistInput`, `StageUpdate`, `FailJob`); an output
is a `*Summary` when it stands for evidence kept in Blob and a `*Result` otherwise; the
orchestration takes `AnalysisInput` and returns `AnalysisOutput`. Their JSON is what recorded
histories hold: renaming a field breaks instances in flight.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.domain.evidence import DataGap
from shared.domain.models import Grounding, JobError, JobStatus, Stage, Verdict


def _absent(value: object) -> bool:
    return value is None


# `as_of` of a point-in-time analysis. Left out of the JSON when None, so an analysis without it
# sends exactly the inputs recorded histories hold (replay compares them).
AS_OF_FIELD = Field(default=None, exclude_if=_absent)
# `previous` of a watchlist run's memo (issue 17): the same rule, so every other input's JSON is
# what recorded histories hold.
PREVIOUS_FIELD = Field(default=None, exclude_if=_absent)


class RetryPolicy(BaseModel):
    first_retry_ms: int = Field(ge=1)
    max_attempts: int = Field(ge=1)

class PreviousMemo(BaseModel):
    """The owner's latest completed live memo (no as_of) of a ticker, which a watchlist run's
    memo is compared with ("Since the last memo"); its evidence stays in Blob."""

    job_id: str
    ticker: str
    completed_at: datetime
    verdict: Verdict
    confidence: float
    evidence_blob: str


class AnalysisInput(BaseModel):
    """The orchestration input; settings travel here because orchestrators read no environment."""

    job_id: str
    owner: str
    ticker: str
    created_at: datetime
    deadline_seconds: int = Field(ge=1)
    retry: RetryPolicy
    as_of: date | None = AS_OF_FIELD  # a point-in-time analysis; None: the latest data
    # The memo this one is compared with (a watchlist run); never set with as_of.
    previous: PreviousMemo | None = PREVIOUS_FIELD

class StageUpdate(BaseModel):
    """Input of the set_job_stage activity."""

    job_id: str
    owner: str
    status: JobStatus
    stage: Stage
    at: datetime

class FailJob(BaseModel):
    """Input of the fail_job activity."""

    job_id: str
    owner: str
    status: JobStatus = JobStatus.FAILED
    error: JobError
    at: datetime

class MarketRequest(BaseModel):
    """Input of fetch_market_data: one symbol (the ticker, or the SPY benchmark) for one job."""

    job_id: str
    ticker: str
    symbol: str
    as_of: date | None = AS_OF_FIELD

class MarketSummary(BaseModel):
    outcome: Literal["ok", "unknown_ticker"]
    symbol: str
    source: str
    message: str | None = None
    artifact: str | None = None

class NewsRequest(BaseModel):
    job_id: str
    ticker: str
    as_of: date | None = AS_OF_FIELD

class NewsSummary(BaseModel):
    provider: str
    status: Literal["ok", "empty", "disabled", "failed"]
    article_count: int = 0
    gaps: list[DataGap] = []
    artifact: str | None = None

class QuantInput(BaseModel):
    """Input of run_quant_analyst: where the market snapshots are, and what failed."""

    job_id: str
    ticker: str
    subject_artifact: str
    benchmark_artifact: str | None = None
    benchmark_gaps: list[DataGap] = []
    as_of: date | None = AS_OF_FIELD

class QuantSummary(BaseModel):
    """What crosses orchestration history from the Quant Analyst: small, with a blob reference."""

    outcome: Literal["ok", "unknown_ticker"]
    completeness_score: float = 0.0
    missing: list[str] = []
    gaps: list[DataGap] = []
    artifact: str | None = None

class MemoInput(BaseModel):
    """Input of write_memo: the job plus what the orchestrator learned about failed providers."""

    job_id: str
    owner: str
    ticker: str
    quant_artifact: str
    news_artifact: str | None = None
    news_gaps: list[DataGap] = []
    as_of: date | None = AS_OF_FIELD
    previous: PreviousMemo | None = PREVIOUS_FIELD

class DecisionSummary(BaseModel):
    verdict: Verdict
    confidence: float
    grounding: Grounding
    artifact: str

class PersistInput(BaseModel):
    job_id: str
    owner: str
    ticker: str
    created_at: datetime
    completed_at: datetime
    quant_artifact: str
    news_artifact: str | None = None
    news_gaps: list[DataGap] = []
    decision_artifact: str
    as_of: date | None = AS_OF_FIELD
    previous: PreviousMemo | None = PREVIOUS_FIELD

class PersistResult(BaseModel):
    job_status: JobStatus
    memo_blob: str
    evidence_blob: str
    verdict: Verdict
    confidence: float


class StageResult(BaseModel):
    """What set_job_stage and fail_job answer: the job's status and stage after the update
    (None instead, when the job row is gone)."""

    status: JobStatus
    stage: Stage


class AnalysisOutput(BaseModel):
    """The orchestration's output: how the job ended, and for a completed one its verdict and
    memo; for a failed one its error. Fields that do not apply are left out."""

    status: JobStatus
    verdict: Verdict | None = None
    confidence: float | None = None
    memo_blob: str | None = None
    error: JobError | None = None


class BatchChild(BaseModel):
    """One ticker of a batch: the job id made at admission is its sub-orchestration's id."""

    ticker: str
    job_id: str
    previous: PreviousMemo | None = PREVIOUS_FIELD  # a watchlist run: the memo to compare with


class BatchInput(BaseModel):
    """The batch orchestration's input: its children, how many run at once, and what each
    child's own AnalysisInput needs."""

    batch_id: str
    owner: str
    created_at: datetime
    children: list[BatchChild]
    concurrency: int = Field(ge=1)
    deadline_seconds: int = Field(ge=1)
    retry: RetryPolicy
    as_of: date | None = AS_OF_FIELD  # every child's as_of

    def child_input(self, child: BatchChild) -> AnalysisInput:
        return AnalysisInput(
            job_id=child.job_id,
            owner=self.owner,
            ticker=child.ticker,
            created_at=self.created_at,
            deadline_seconds=self.deadline_seconds,
            retry=self.retry,
            as_of=self.as_of,
            # A point-in-time memo is never compared with a live one.
            previous=child.previous if self.as_of is None else None,
        )


class BatchUpdate(BaseModel):
    """Input of update_batch: the batch starts (no child), or one child ended (its output, or
    why its orchestration failed)."""

    batch_id: str
    owner: str
    at: datetime
    child: BatchChild | None = None
    output: AnalysisOutput | None = None
    error: JobError | None = None


class BatchState(BaseModel):
    """What update_batch answers: the batch's status after the update (None: row gone)."""

    status: JobStatus


class CompareInput(BaseModel):
    """Input of compare_batch: the batch whose ended children are compared."""

    batch_id: str
    owner: str
    created_at: datetime
    as_of: date | None = AS_OF_FIELD  # the batch's point in time, shown in the comparison


class BatchOutput(BaseModel):
    """The batch orchestration's output."""

    status: JobStatus
    report_blob: str | None = None
    error: JobError | None = None
