"""OpenTelemetry for the app: a span per activity and per external call, and the job metrics.

Providers. In Azure the Functions Python worker sets up the global OpenTelemetry providers
itself (`configure_azure_monitor()`, with `PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true`
and host.json `"telemetryMode": "OpenTelemetry"`). This module only asks the global API for a
tracer and a meter: our code never configures an exporter (a second `configure_azure_monitor()`
would send everything twice), tests install in-memory providers, and without any provider every
call here is a no-op.

One trace per job. A job's activities run as separate invocations, each under the Functions
host's own trace, and nothing but our models crosses to them. So the trace is derived from the
job instead of carried: the job id is a uuid4 hex (128 random bits, which is what W3C asks of a
trace id), and its first 32 hex digits *are* the trace id (any other id is hashed to 128 bits).
Each activity span starts as the child of a synthetic remote parent in that trace (span id from
a hash of the job id, flagged sampled), so every span of one job, in any invocation, on any
instance, shares one trace id: one operation in Application Insights. The synthetic parent is
never exported, so the activity spans show as the top of the trace; each links to the span
that was current when the activity started (the host's invocation), so that path is kept.
Log records written inside these spans carry the same trace id, so a job's logs correlate too.
Sampling: Azure Monitor's samplers score the trace id, so a job is kept or dropped as a whole
under a fixed percentage (`OTEL_TRACES_SAMPLER=microsoft.fixed_percentage`); the distro's
default, rate-limited sampler moves its percentage with load, so under load a job near the line
may keep only some of its activity spans.

Attributes: `stockmemo.job_id`, `stockmemo.ticker`, `stockmemo.provider`, `stockmemo.outcome`
(`ok`, or the error code), and for model calls `gen_ai.request.model`,
`gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`. Nothing secret goes in: ids, tickers,
provider and model names, codes and counts only. Exceptions are not recorded as span events
(their messages may quote a request or an SDK's answer): a failed span gets its error code and
the exception's type name.

Metrics (at least once, like the activities that record them: a step Durable runs twice may
count twice): `stockmemo.jobs.started`, `stockmemo.jobs.completed`, `stockmemo.jobs.failed`
(`error.code`), `stockmemo.stage.duration` (seconds of each activity run, attributes `stage`,
`activity` and `stockmemo.outcome`), `stockmemo.llm.tokens` (`direction` input or output).
"""

from __future__ import annotations

import hashlib
import string
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)

from shared import names
from shared.domain.models import Stage
from shared.errors import StockMemoError

JOB_ID = "stockmemo.job_id"
TICKER = "stockmemo.ticker"
PROVIDER = "stockmemo.provider"
OUTCOME = "stockmemo.outcome"
ACTIVITY = "activity"
STAGE = "stage"
ERROR_CODE = "error.code"
ERROR_TYPE = "error.type"
DIRECTION = "direction"
GEN_AI_SYSTEM = "gen_ai.system"
GEN_AI_OPERATION = "gen_ai.operation.name"
GEN_AI_MODEL = "gen_ai.request.model"
GEN_AI_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
OK = "ok"

# The job stage each activity serves: the `stage` attribute of stockmemo.stage.duration.
ACTIVITY_STAGES: dict[str, str] = {
    names.FETCH_MARKET_DATA: Stage.GATHERING_EVIDENCE.value,
    names.RESEARCH_NEWS: Stage.GATHERING_EVIDENCE.value,
    names.RUN_QUANT_ANALYST: Stage.GATHERING_EVIDENCE.value,
    names.WRITE_MEMO: Stage.WRITING_MEMO.value,
    names.PERSIST_REPORT: Stage.PERSISTING.value,
    names.SET_JOB_STAGE: "bookkeeping",
    names.FAIL_JOB: "bookkeeping",
}

tracer = trace.get_tracer(__name__)
meter = metrics.get_meter(__name__)

JOBS_STARTED = meter.create_counter(
    "stockmemo.jobs.started", unit="{job}", description="Analyses accepted and started."
)
JOBS_COMPLETED = meter.create_counter(
    "stockmemo.jobs.completed", unit="{job}", description="Analyses that stored their memo."
)
JOBS_FAILED = meter.create_counter(
    "stockmemo.jobs.failed", unit="{job}", description="Analyses that ended failed, by error.code."
)
STAGE_DURATION = meter.create_histogram(
    "stockmemo.stage.duration", unit="s", description="Wall time of each activity run, by stage."
)
LLM_TOKENS = meter.create_counter(
    "stockmemo.llm.tokens", unit="{token}", description="Model tokens billed, by direction."
)

_JOB = otel_context.create_key("stockmemo.job")
_HEX = frozenset(string.hexdigits)


@dataclass(frozen=True)
class JobRef:
    job_id: str
    ticker: str | None = None

    def attributes(self) -> dict[str, str]:
        found = {JOB_ID: self.job_id}
        if self.ticker:
            found[TICKER] = self.ticker
        return found


def job_trace_id(job_id: str) -> int:
    """The job's trace id: the first 32 hex digits of its id (a uuid4 hex), else a hash."""
    head = job_id[:32]
    if len(head) == 32 and set(head) <= _HEX:
        value = int(head, 16)
    else:
        value = int.from_bytes(hashlib.sha256(job_id.encode()).digest()[:16], "big")
    return value or 1  # the all-zero id is invalid


def job_parent_span_id(job_id: str) -> int:
    """The span id of the job's synthetic parent: a hash of the job id, never zero."""
    return int.from_bytes(hashlib.sha256(f"{job_id}/job".encode()).digest()[:8], "big") or 1


def job_parent(job_id: str) -> SpanContext:
    """The remote parent every activity span of the job starts under."""
    return SpanContext(
        trace_id=job_trace_id(job_id),
        span_id=job_parent_span_id(job_id),
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def current_job() -> JobRef | None:
    """The job of the activity this code runs in, if any."""
    value = otel_context.get_value(_JOB)
    return value if isinstance(value, JobRef) else None


def error_code(exc: BaseException) -> str:
    """The stable code of an error: ours carry one; anything else is an internal error."""
    return exc.code if isinstance(exc, StockMemoError) else "internal_error"


class Traced:
    """The span of one unit of work; `outcome` is `ok` unless the code says otherwise."""

    def __init__(self, span: Span) -> None:
        self.span = span
        self.outcome = OK


@contextmanager
def _traced(
    name: str,
    kind: SpanKind,
    attributes: dict[str, Any],
    *,
    context: otel_context.Context | None = None,
    links: list[Link] | None = None,
) -> Iterator[Traced]:
    with tracer.start_as_current_span(
        name,
        context=context,
        kind=kind,
        attributes=attributes,
        links=links,
        record_exception=False,  # an exception's message is not ours to export
        set_status_on_exception=False,
    ) as span:
        traced = Traced(span)
        try:
            yield traced
        except BaseException as exc:
            traced.outcome = error_code(exc)
            span.set_attribute(ERROR_TYPE, type(exc).__name__)
            span.set_status(Status(StatusCode.ERROR, traced.outcome))
            raise
        finally:
            span.set_attribute(OUTCOME, traced.outcome)


@contextmanager
def activity_span(activity: str, job_id: str, ticker: str | None = None) -> Iterator[Traced]:
    """`activity <name>` in the job's trace; the spans and logs inside belong to the job.

    Records stockmemo.stage.duration for the run, whatever its outcome.
    """
    invocation = trace.get_current_span().get_span_context()
    job = JobRef(job_id, ticker)
    token = otel_context.attach(otel_context.set_value(_JOB, job))
    parent = trace.set_span_in_context(NonRecordingSpan(job_parent(job_id)))
    stage = ACTIVITY_STAGES.get(activity, "other")
    started = time.monotonic()
    traced: Traced | None = None
    try:
        with _traced(
            f"activity {activity}",
            SpanKind.INTERNAL,
            {**job.attributes(), ACTIVITY: activity, STAGE: stage},
            context=parent,
            links=[Link(invocation)] if invocation.is_valid else None,
        ) as traced:
            yield traced
    finally:
        outcome = traced.outcome if traced is not None else "internal_error"
        STAGE_DURATION.record(
            time.monotonic() - started, {STAGE: stage, ACTIVITY: activity, OUTCOME: outcome}
        )
        otel_context.detach(token)


@contextmanager
def external_span(
    name: str, provider: str, attributes: dict[str, Any] | None = None
) -> Iterator[Traced]:
    """A call leaving the process (market data, news, a model, storage), under the current
    span, carrying the current job's id and ticker."""
    job = current_job()
    found = {**(job.attributes() if job else {}), PROVIDER: provider, **(attributes or {})}
    with _traced(name, SpanKind.CLIENT, found) as traced:
        yield traced


@contextmanager
def storage_span(action: str) -> Iterator[Traced]:
    """`storage <verb>` for one storage operation (`write AAPL/<id>/memo.md`, `update job`)."""
    verb = action.split(" ", 1)[0] or "call"
    with external_span(
        f"storage {verb}", "azure_storage", {"stockmemo.storage.action": action}
    ) as traced:
        yield traced


@contextmanager
def llm_span(provider: str, model: str, purpose: str) -> Iterator[Traced]:
    """`chat <model>`: one request to the model, with the GenAI attributes."""
    with external_span(
        f"chat {model}",
        provider,
        {
            GEN_AI_SYSTEM: "az.ai.openai" if provider == "azure_openai" else "openai",
            GEN_AI_OPERATION: "chat",
            GEN_AI_MODEL: model,
            "stockmemo.llm.purpose": purpose,
        },
    ) as traced:
        yield traced


def record_llm_usage(traced: Traced, model: str, input_tokens: int, output_tokens: int) -> None:
    """A model call's token counts, on its span and on stockmemo.llm.tokens."""
    traced.span.set_attributes(
        {GEN_AI_INPUT_TOKENS: input_tokens, GEN_AI_OUTPUT_TOKENS: output_tokens}
    )
    LLM_TOKENS.add(input_tokens, {DIRECTION: "input", GEN_AI_MODEL: model})
    LLM_TOKENS.add(output_tokens, {DIRECTION: "output", GEN_AI_MODEL: model})


# Hooks for the job's life: one call each where it happens (submit, persist, fail_job).


def record_job_started(job_id: str, ticker: str) -> None:
    """A job was admitted and its orchestration started; the current span names the job."""
    JOBS_STARTED.add(1)
    trace.get_current_span().set_attributes({JOB_ID: job_id, TICKER: ticker})


def record_job_completed(job_id: str) -> None:
    """A job stored its memo and was marked completed."""
    JOBS_COMPLETED.add(1)
    trace.get_current_span().set_attribute(JOB_ID, job_id)


def record_job_failed(job_id: str, code: str) -> None:
    """A job ended failed with `code`."""
    JOBS_FAILED.add(1, {ERROR_CODE: code})
    trace.get_current_span().set_attributes({JOB_ID: job_id, ERROR_CODE: code})
