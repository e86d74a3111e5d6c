"""Job and API models: what the routes accept and return, and what the orchestrator carries."""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.as_of import AS_OF_RULE, parse_as_of

TICKER_RE = re.compile(r"^[A-Z0-9.\-]{1,10}$")
TICKER_RULE = "1-10 characters: letters, digits, '.' or '-'"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


class Stage(StrEnum):
    QUEUED = "queued"
    GATHERING_EVIDENCE = "gathering_evidence"
    WRITING_MEMO = "writing_memo"
    PERSISTING = "persisting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Verdict(StrEnum):
    BUY = "buy"
    HOLD = "hold"
    SELL = "sell"


class Grounding(StrEnum):
    GROUNDED = "grounded"
    UNGROUNDED = "ungrounded"
    NOT_APPLICABLE = "not_applicable"


def normalize_ticker(value: object) -> str:
    """Upper-case and check a ticker; raises ValueError with the rule when it is not one."""
    if not isinstance(value, str):
        raise ValueError(f"ticker must be a string of {TICKER_RULE}")
    ticker = value.strip().upper()
    if not TICKER_RE.fullmatch(ticker):
        raise ValueError(f"ticker must be {TICKER_RULE}")
    return ticker


class AnalysisRequest(BaseModel):
    """Body of POST /api/analyses."""

    model_config = ConfigDict(extra="forbid")

    ticker: str = Field(description=f"Stock symbol, {TICKER_RULE}; upper-cased.")
    as_of: date | None = Field(
        default=None,
        exclude_if=lambda v: v is None,  # a body without as_of hashes as it always did
        description=f"A point-in-time analysis: {AS_OF_RULE}, not in the future nor before "
        "the provider's data begins. Every piece of evidence is dated on or before it.",
    )

    @field_validator("ticker", mode="before")
    @classmethod
    def _ticker(cls, value: object) -> str:
        return normalize_ticker(value)

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, value: object) -> date | None:
        return parse_as_of(value)


class JobError(BaseModel):
    code: str
    message: str
    stage: Stage


class Usage(BaseModel):
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Job(BaseModel):
    """A job as stored in the `analyses` table and returned by GET /api/analyses/{id}."""

    id: str
    owner: str
    ticker: str
    status: JobStatus
    stage: Stage
    created_at: datetime
    started_at: datetime | None = None
    completed_at: datetime | None = None
    verdict: Verdict | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    grounding: Grounding | None = None
    error: JobError | None = None
    usage: Usage | None = None
    batch_id: str | None = None
    as_of: date | None = None


# The public API's bodies. The handlers build their answers from these models and
# /api/openapi.json is generated from them, so the document and the code cannot drift apart.
# An optional field that is None is left out of the answer, unless the model says otherwise.


def _none(value: object) -> bool:
    return value is None


def optional_field(description: str | None = None) -> Any:
    return Field(default=None, exclude_if=_none, description=description)


class JobView(BaseModel):
    """A job as GET /api/analyses/{id} returns it: the stored job without its owner."""

    id: str = Field(description="The job id (32 hex characters).")
    ticker: str
    status: JobStatus
    stage: Stage
    created_at: datetime
    started_at: datetime | None = optional_field()
    completed_at: datetime | None = optional_field()
    verdict: Verdict | None = optional_field()
    confidence: float | None = Field(default=None, ge=0, le=1, exclude_if=_none)
    grounding: Grounding | None = optional_field()
    error: JobError | None = optional_field()
    usage: Usage | None = optional_field()
    batch_id: str | None = optional_field("The batch this job belongs to, if any.")
    as_of: date | None = optional_field("The date of a point-in-time analysis, if any.")
    report_url: str = Field(description="GET this for the memo once the job is completed.")

    @classmethod
    def of(cls, job: Job, report_url: str) -> JobView:
        return cls.model_validate({**job.model_dump(exclude={"owner"}), "report_url": report_url})


class JobPage(BaseModel):
    """One page of GET /api/analyses, newest first."""

    items: list[JobView]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last one."
    )


class Accepted(BaseModel):
    """The 202 answer of POST /api/analyses (also for a replay of the same Idempotency-Key)."""

    id: str
    statusQueryGetUri: str  # camelCase: the public field name
    reportUri: str  # camelCase: the public field name
    management: dict[str, str] | None = optional_field(
        "Durable management URLs; only with EXPOSE_DURABLE_MANAGEMENT_URLS=true."
    )


class ReportLink(BaseModel):
    """GET /api/analyses/{id}/report?link=sas: a read-only link to that one memo blob."""

    url: str
    expires_at: datetime


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable machine-readable code (see the README).")
    message: str = Field(description="For people; may change.")
    field: str | None = optional_field("The one field at fault, if any.")
    value: str | None = optional_field("The offending value, e.g. the bad ticker of a batch.")
    status: JobStatus | None = optional_field(
        "The job's status, with not_completed and not_cancellable."
    )


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"code", "message", ...}}."""

    error: ErrorDetail


class HealthView(BaseModel):
    """GET /api/health."""

    status: Literal["healthy", "degraded", "unhealthy"]
    checks: dict[str, dict[str, Any]]
