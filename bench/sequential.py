"""The seed's shape, for comparison only: the same activities, strictly one after another.

A bench-only orchestrator (`bench_sequential_orchestrator`), started by
`bench.sequential_route`. Same job row, same activities and inputs as the real orchestrator,
without the fan-out (and without the deadline timer).
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df

from shared import names
from shared.contracts import (
    AnalysisInput,
    DecisionSummary,
    FailJob,
    MarketRequest,
    MarketSummary,
    MemoInput,
    NewsRequest,
    NewsSummary,
    PersistInput,
    QuantInput,
    QuantSummary,
    StageUpdate,
)
from shared.domain.models import JobError, JobStatus, Stage

SEQUENTIAL_ORCHESTRATOR = "bench_sequential_orchestrator"
BENCHMARK_SYMBOL = "SPY"

bp = df.Blueprint()
Steps = Generator[Any, Any, Any]


def _now(context: df.DurableOrchestrationContext) -> datetime:
    now = context.current_utc_datetime
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def _stage(
    context: df.DurableOrchestrationContext, job: AnalysisInput, stage: Stage
) -> StageUpdate:
    return StageUpdate(
        job_id=job.job_id, owner=job.owner, status=JobStatus.RUNNING, stage=stage, at=_now(context)
    )


def _steps(context: df.DurableOrchestrationContext, job: AnalysisInput) -> Steps:
    retry = df.RetryOptions(job.retry.first_retry_ms, job.retry.max_attempts)

    def call(name: str, payload: Any) -> Any:
        return context.call_activity_with_retry(name, retry, payload.model_dump(mode="json"))

    yield call(names.SET_JOB_STAGE, _stage(context, job, Stage.GATHERING_EVIDENCE))
    subject = MarketSummary.model_validate((yield call(
        names.FETCH_MARKET_DATA,
        MarketRequest(job_id=job.job_id, ticker=job.ticker, symbol=job.ticker),
    )))
    benchmark = MarketSummary.model_validate((yield call(
        names.FETCH_MARKET_DATA,
        MarketRequest(job_id=job.job_id, ticker=job.ticker, symbol=BENCHMARK_SYMBOL),
    )))
    news = NewsSummary.model_validate((yield call(
        names.RESEARCH_NEWS, NewsRequest(job_id=job.job_id, ticker=job.ticker)
    )))
    assert subject.artifact is not None
    quant = QuantSummary.model_validate((yield call(
        names.RUN_QUANT_ANALYST,
        QuantInput(
            job_id=job.job_id,
            ticker=job.ticker,
            subject_artifact=subject.artifact,
            benchmark_artifact=benchmark.artifact,
        ),
    )))
    assert quant.artifact is not None
    yield call(names.SET_JOB_STAGE, _stage(context, job, Stage.WRITING_MEMO))
    memo_input = MemoInput(
        job_id=job.job_id,
        owner=job.owner,
        ticker=job.ticker,
        quant_artifact=quant.artifact,
        news_artifact=news.artifact,
    )
    decision = DecisionSummary.model_validate((yield call(names.WRITE_MEMO, memo_input)))
    yield call(names.SET_JOB_STAGE, _stage(context, job, Stage.PERSISTING))
    stored = yield call(
        names.PERSIST_REPORT,
        PersistInput(
            job_id=job.job_id,
            owner=job.owner,
            ticker=job.ticker,
            created_at=job.created_at,
            completed_at=_now(context),
            quant_artifact=quant.artifact,
            news_artifact=news.artifact,
            decision_artifact=decision.artifact,
        ),
    )
    return stored


@bp.orchestration_trigger(context_name="context", orchestration=SEQUENTIAL_ORCHESTRATOR)
def bench_sequential_orchestrator(context: df.DurableOrchestrationContext) -> Steps:
    job = AnalysisInput.model_validate(context.get_input())
    try:
        return (yield from _steps(context, job))
    except Exception as exc:  # the bench reports the job as failed; it never retries
        error = JobError(code="internal_error", message=str(exc)[:500], stage=Stage.FAILED)
        failure = FailJob(job_id=job.job_id, owner=job.owner, error=error, at=_now(context))
        yield context.call_activity(names.FAIL_JOB, failure.model_dump(mode="json"))
        return {"status": JobStatus.FAILED.value}
