"""Job row updates the orchestrator asks for: stage changes and failure."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names
from shared.jobs import JobStore
from shared.models import FailJob, StageUpdate

bp = df.Blueprint()
log = logging.getLogger(__name__)


def set_stage(update: StageUpdate) -> dict[str, str] | None:
    """Returns the job's status and stage as they end up (a terminal job is never moved)."""
    job = JobStore().set_stage(update)
    if job is None:
        return None
    log.info("job %s: status=%s stage=%s", update.job_id, job.status, job.stage)
    return {"status": job.status.value, "stage": job.stage.value}


def fail(failure: FailJob) -> dict[str, str] | None:
    job = JobStore().fail(failure)
    if job is None:
        return None
    log.warning(
        "job %s: %s (%s at %s)", failure.job_id, job.status, failure.error.code, failure.error.stage
    )
    return {"status": job.status.value, "stage": job.stage.value}


@bp.activity_trigger(input_name="payload", activity=names.SET_JOB_STAGE)
def set_job_stage(payload: dict[str, Any]) -> dict[str, str] | None:
    return set_stage(StageUpdate.model_validate(payload))


@bp.activity_trigger(input_name="payload", activity=names.FAIL_JOB)
def fail_job(payload: dict[str, Any]) -> dict[str, str] | None:
    return fail(FailJob.model_validate(payload))
