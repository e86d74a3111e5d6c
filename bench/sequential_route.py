"""`POST /api/bench/sequential` (body `{"ticker": ...}`): writes the job row as
`POST /api/analyses` does, and starts the bench-only sequential orchestrator instead of the
real one. Bench only: no quota, no Idempotency-Key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from api.analyses import orchestration_input, parse_request
from api.callers import owner_of
from api.responses import error_boundary, json_response
from bench.sequential import SEQUENTIAL_ORCHESTRATOR
from shared.domain.models import Job, JobStatus, Stage
from shared.settings import get_settings
from shared.store.jobs import JobStore

bp = df.Blueprint()


@bp.route(route="bench/sequential", methods=["POST"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def start_sequential(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    request = parse_request(req.get_body())
    settings = get_settings()
    job = Job(
        id=uuid.uuid4().hex,
        owner=owner_of(req),
        ticker=request.ticker,
        status=JobStatus.QUEUED,
        stage=Stage.QUEUED,
        created_at=datetime.now(UTC),
    )
    JobStore().create(job)
    payload = orchestration_input(job, settings)
    await client.start_new(SEQUENTIAL_ORCHESTRATOR, job.id, payload.model_dump(mode="json"))
    return json_response({"id": job.id}, status=202)
