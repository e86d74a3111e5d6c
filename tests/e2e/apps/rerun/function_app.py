"""The real app plus one test route that starts a watchlist-style re-analysis of a ticker:
`POST /api/test/reruns/{ticker}` writes a queued job row and starts the real analysis
orchestration with `previous` set to the caller's latest completed live memo of that ticker
(`shared.store.previous.latest_live_memo`), as a watchlist run's batch hands each child its
previous memo. It answers `{"id", "previous"}`; the job is then followed through the real
`GET /api/analyses/{id}`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from api.analyses import orchestration_input
from api.callers import owner_of
from shared import names
from shared.domain.models import Job, JobStatus, Stage
from shared.settings import get_settings
from shared.store.jobs import JobStore
from shared.store.previous import latest_live_memo
from tests.real_app import real_app

app = real_app()


@app.function_name("test_rerun")
@app.route(route="test/reruns/{ticker}", methods=["POST"])
@app.durable_client_input(client_name="client")
async def rerun(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    owner, ticker = owner_of(req), req.route_params["ticker"].upper()
    previous = latest_live_memo(owner, ticker)
    job = Job(id=uuid.uuid4().hex, owner=owner, ticker=ticker, status=JobStatus.QUEUED,
              stage=Stage.QUEUED, created_at=datetime.now(UTC))
    JobStore().create(job)
    payload = orchestration_input(job, get_settings()).model_copy(update={"previous": previous})
    await client.start_new(names.ANALYSIS_ORCHESTRATOR, job.id, payload.model_dump(mode="json"))
    body = {"id": job.id, "previous": previous.job_id if previous else None}
    return func.HttpResponse(json.dumps(body), status_code=202, mimetype="application/json")


__all__ = ["app"]
