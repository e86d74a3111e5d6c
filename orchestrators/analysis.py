"""The analysis orchestration: evidence fan-out, the strategist, persistence, under a deadline.

Critical path: max(max(market, spy) + quant, news) + strategist + persist. The Quant Analyst is
scheduled as soon as both market snapshots are in, without waiting for the news.
Every wait races the deadline timer; any failure ends the job `failed` with its stage and code:
a failed activity's own code (read from its envelope, `shared.errors.read_failure`), and
`internal_error` for anything that is not one of our errors, in an activity or here.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
from pydantic import BaseModel

from orchestrators.context import as_output, now
from shared import names
from shared.contracts import (
    AnalysisInput,
    AnalysisOutput,
    DecisionSummary,
    FailJob,
    MarketRequest,
    MarketSummary,
    MemoInput,
    NewsRequest,
    NewsSummary,
    PersistInput,
    PersistResult,
    QuantInput,
    QuantSummary,
    StageResult,
    StageUpdate,
)
from shared.domain.evidence import BENCHMARK_SYMBOL, DataGap
from shared.domain.models import JobError, JobStatus, Stage
from shared.errors import job_failure

bp = df.Blueprint()

BENCHMARK_GAP_SOURCE = f"benchmark {BENCHMARK_SYMBOL}"

Steps = Generator[Any, Any, Any]


class DeadlinePassed(Exception):
    """The deadline timer won a race."""


class JobEnded(Exception):
    """A step ended the job with a typed outcome (unknown ticker, cancelled meanwhile)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _failed(task: Any) -> bool:
    return isinstance(task.result, Exception)


def race(context: df.DurableOrchestrationContext, task: Any, deadline: Any) -> Steps:
    """Wait for `task` or the deadline; a failed task raises its error here."""
    winner = yield context.task_any([task, deadline])
    if winner is deadline:
        raise DeadlinePassed()
    if _failed(task):
        raise task.result
    return task.result


def step(
    context: df.DurableOrchestrationContext,
    activity: str,
    payload: BaseModel,
    retry: df.RetryOptions,
    deadline: Any,
) -> Steps:
    """Call one activity with the retry policy, racing the deadline."""
    task = context.call_activity_with_retry(activity, retry, payload.model_dump(mode="json"))
    return (yield from race(context, task, deadline))


def set_stage(
    context: df.DurableOrchestrationContext,
    job: AnalysisInput,
    status: JobStatus,
    stage: Stage,
    retry: df.RetryOptions,
    deadline: Any,
) -> Steps:
    context.set_custom_status({"stage": stage.value, "status": status.value})
    update = StageUpdate(
        job_id=job.job_id, owner=job.owner, status=status, stage=stage, at=now(context)
    )
    answer = yield from step(context, names.SET_JOB_STAGE, update, retry, deadline)
    row = None if answer is None else StageResult.model_validate(answer)
    if row is None or row.status not in (JobStatus.RUNNING, status):
        ended = row.status.value if row else "missing"
        raise JobEnded(ended, f"the job is {ended}; stopping")


def gather_evidence(
    context: df.DurableOrchestrationContext,
    job: AnalysisInput,
    retry: df.RetryOptions,
    deadline: Any,
) -> Steps:
    """Market (ticker and SPY) and news in parallel; the Quant Analyst once both markets are in."""

    def fetch(symbol: str) -> Any:
        request = MarketRequest(
            job_id=job.job_id, ticker=job.ticker, symbol=symbol, as_of=job.as_of
        )
        return context.call_activity_with_retry(
            names.FETCH_MARKET_DATA, retry, request.model_dump(mode="json")
        )

    subject, benchmark = fetch(job.ticker), fetch(BENCHMARK_SYMBOL)
    news = context.call_activity_with_retry(
        names.RESEARCH_NEWS,
        retry,
        NewsRequest(job_id=job.job_id, ticker=job.ticker, as_of=job.as_of).model_dump(
            mode="json"
        ),
    )
    pending: list[Any] = [subject, benchmark, news]
    subject_summary: MarketSummary | None = None
    benchmark_summary: MarketSummary | None = None
    benchmark_gaps: list[DataGap] = []
    benchmark_done = False
    news_summary: NewsSummary | None = None
    news_gaps: list[DataGap] = []
    quant: Any = None
    quant_summary: QuantSummary | None = None

    while pending:
        winner = yield context.task_any([*pending, deadline])
        if winner is deadline:
            raise DeadlinePassed()
        pending.remove(winner)
        if winner is subject:
            if _failed(subject):
                raise subject.result
            subject_summary = MarketSummary.model_validate(subject.result)
            if subject_summary.outcome == "unknown_ticker":
                raise JobEnded("unknown_ticker", subject_summary.message or "unknown ticker")
        elif winner is benchmark:
            benchmark_done = True
            if _failed(benchmark):
                code, message = job_failure(benchmark.result)
                benchmark_gaps.append(
                    DataGap(source=BENCHMARK_GAP_SOURCE, code=code, message=message)
                )
            else:
                benchmark_summary = MarketSummary.model_validate(benchmark.result)
                if benchmark_summary.outcome != "ok":
                    benchmark_gaps.append(
                        DataGap(
                            source=BENCHMARK_GAP_SOURCE,
                            code=benchmark_summary.outcome,
                            message=benchmark_summary.message or "benchmark unavailable",
                        )
                    )
                    benchmark_summary = None
        elif winner is news:
            if _failed(news):
                code, message = job_failure(news.result)
                news_gaps.append(DataGap(source="news", code=code, message=message))
            else:
                news_summary = NewsSummary.model_validate(news.result)
        elif winner is quant:
            if _failed(quant):
                raise quant.result
            quant_summary = QuantSummary.model_validate(quant.result)

        if quant is None and subject_summary is not None and benchmark_done:
            assert subject_summary.artifact is not None
            request = QuantInput(
                job_id=job.job_id,
                ticker=job.ticker,
                subject_artifact=subject_summary.artifact,
                benchmark_artifact=benchmark_summary.artifact if benchmark_summary else None,
                benchmark_gaps=benchmark_gaps,
                as_of=job.as_of,
            )
            quant = context.call_activity_with_retry(
                names.RUN_QUANT_ANALYST, retry, request.model_dump(mode="json")
            )
            pending.append(quant)

    assert quant_summary is not None and quant_summary.artifact is not None
    return quant_summary, news_summary, news_gaps


def run_job(
    context: df.DurableOrchestrationContext,
    job: AnalysisInput,
    deadline: Any,
    progress: list[Stage],
) -> Steps:
    retry = df.RetryOptions(job.retry.first_retry_ms, job.retry.max_attempts)
    yield from set_stage(context, job, JobStatus.RUNNING, Stage.GATHERING_EVIDENCE, retry, deadline)
    quant, news, news_gaps = yield from gather_evidence(context, job, retry, deadline)

    progress.append(Stage.WRITING_MEMO)
    yield from set_stage(context, job, JobStatus.RUNNING, Stage.WRITING_MEMO, retry, deadline)
    # A watchlist run's memo is compared with the previous one; a point-in-time memo never is.
    previous = job.previous if job.as_of is None else None
    memo_input = MemoInput(
        job_id=job.job_id,
        owner=job.owner,
        ticker=job.ticker,
        quant_artifact=quant.artifact,
        news_artifact=news.artifact if news else None,
        news_gaps=news_gaps,
        as_of=job.as_of,
        previous=previous,
    )
    decision = DecisionSummary.model_validate(
        (yield from step(context, names.WRITE_MEMO, memo_input, retry, deadline))
    )

    progress.append(Stage.PERSISTING)
    yield from set_stage(context, job, JobStatus.RUNNING, Stage.PERSISTING, retry, deadline)
    persist_input = PersistInput(
        job_id=job.job_id,
        owner=job.owner,
        ticker=job.ticker,
        created_at=job.created_at,
        completed_at=now(context),
        quant_artifact=quant.artifact,
        news_artifact=memo_input.news_artifact,
        news_gaps=news_gaps,
        decision_artifact=decision.artifact,
        as_of=job.as_of,
        previous=previous,
    )
    stored = PersistResult.model_validate(
        (yield from step(context, names.PERSIST_REPORT, persist_input, retry, deadline))
    )
    if stored.job_status is not JobStatus.COMPLETED:
        raise JobEnded(stored.job_status.value, f"the job is {stored.job_status.value}")
    return stored


@bp.orchestration_trigger(context_name="context", orchestration=names.ANALYSIS_ORCHESTRATOR)
def analysis_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    job = AnalysisInput.model_validate(context.get_input())
    deadline = context.create_timer(now(context) + timedelta(seconds=job.deadline_seconds))
    progress = [Stage.GATHERING_EVIDENCE]
    try:
        stored = yield from run_job(context, job, deadline, progress)
    except DeadlinePassed:
        code, message = "timeout", f"the job passed its deadline of {job.deadline_seconds}s"
    except JobEnded as ended:
        code, message = ended.code, ended.message
    except Exception as exc:
        # A failed activity ends with its own code (internal_error when it raised anything but
        # one of our errors); an exception this orchestrator's code raised is internal_error.
        code, message = job_failure(exc)
    else:
        if not deadline.is_completed:
            deadline.cancel()
        context.set_custom_status({"stage": Stage.COMPLETED.value, "status": "completed"})
        return as_output(
            AnalysisOutput(
                status=JobStatus.COMPLETED,
                verdict=stored.verdict,
                confidence=stored.confidence,
                memo_blob=stored.memo_blob,
            )
        )

    if not deadline.is_completed:
        deadline.cancel()
    if code in (JobStatus.CANCELLED.value, JobStatus.COMPLETED.value):
        context.set_custom_status({"stage": code, "status": code})
        return as_output(AnalysisOutput(status=JobStatus(code)))
    error = JobError(code=code, message=message, stage=progress[-1])
    context.set_custom_status({"stage": Stage.FAILED.value, "status": "failed"})
    failure = FailJob(job_id=job.job_id, owner=job.owner, error=error, at=now(context))
    retry = df.RetryOptions(job.retry.first_retry_ms, job.retry.max_attempts)
    yield context.call_activity_with_retry(names.FAIL_JOB, retry, failure.model_dump(mode="json"))
    return as_output(AnalysisOutput(status=JobStatus.FAILED, error=error))
