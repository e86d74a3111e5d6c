"""Job row updates the orchestrator asks for: stage changes and failure."""

from __future__ import annotations

import logging

import azure.durable_functions as df

from shared import names, telemetry
from shared.contracts import FailJob, StageResult, StageUpdate
from shared.domain.models import JobStatus
from shared.store.jobs import JobStore

bp = df.Blueprint()
log = logging.getLogger(__name__)


def set_stage(update: StageUpdate) -> StageResult | None:
    """Returns the job's status and stage as they end up (a terminal job is never moved)."""
    job = JobStore().set_stage(update)
    if job is None:
        return None
    log.info("job %s: status=%s stage=%s", update.job_id, job.status, job.stage)
    return StageResult(status=job.status, stage=job.stage)


def fail(failure: FailJob) -> StageResult | None:
    job = JobStore().fail(failure)
    if job is None:
        return None
    log.warning(
        "job %s: %s (%s at %s)", failure.job_id, job.status, failure.error.code, failure.error.stage
    )
    if job.status is JobStatus.FAILED:
        telemetry.record_job_failed(failure.job_id, failure.error.code)
    return StageResult(status=job.status, stage=job.stage)


def _answer(result: StageResult | None) -> dict | None:
    return None if result is None else result.model_dump(mode="json")


@bp.activity_trigger(input_name="payload", activity=names.SET_JOB_STAGE)
def set_job_stage(payload: dict) -> dict | None:
    update = StageUpdate.model_validate(payload)
    with telemetry.activity_span(names.SET_JOB_STAGE, update.job_id):
        return _answer(set_stage(update))


@bp.activity_trigger(input_name="payload", activity=names.FAIL_JOB)
def fail_job(payload: dict) -> dict | None:
    failure = FailJob.model_validate(payload)
    with telemetry.activity_span(names.FAIL_JOB, failure.job_id):
        return _answer(fail(failure))
