"""The analysis orchestrator with its first step moved after the fan-out: the variant the
recorded-history test must catch. It registers under the real orchestrator's name."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared import names
from shared.contracts import AnalysisInput

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)


@app.orchestration_trigger(context_name="context", orchestration=names.ANALYSIS_ORCHESTRATOR)
def reordered(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
    job = AnalysisInput.model_validate(context.get_input())
    retry = df.RetryOptions(job.retry.first_retry_ms, job.retry.max_attempts)
    yield context.call_activity_with_retry(names.RESEARCH_NEWS, retry, {"job_id": job.job_id})
    return None
