"""/api/analyses: submit a ticker, read a job, list a ticker's jobs, download the memo."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import ValidationError

from api.callers import owner_of
from api.responses import base_url, error_boundary, error_response, json_response
from shared import names
from shared.artifacts import ArtifactStore, memo_blob
from shared.errors import (
    InvalidBody,
    InvalidQuery,
    InvalidTicker,
    NotCompleted,
    NotFound,
    StockMemoError,
    StorageFailed,
    code_from_failure,
)
from shared.jobs import JobStore
from shared.models import (
    TERMINAL_STATUSES,
    AnalysisInput,
    AnalysisRequest,
    FailJob,
    Job,
    JobError,
    JobStatus,
    RetryPolicy,
    Stage,
    normalize_ticker,
)
from shared.settings import get_settings

bp = df.Blueprint()
log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"
DEFAULT_PAGE = 20
MAX_PAGE = 100


def parse_request(body: bytes) -> AnalysisRequest:
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBody("the body must be a JSON object like {\"ticker\": \"AAPL\"}") from exc
    if not isinstance(data, dict):
        raise InvalidBody("the body must be a JSON object like {\"ticker\": \"AAPL\"}")
    try:
        return AnalysisRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        if first["type"] == "extra_forbidden":
            raise InvalidBody(f"unknown field '{field}'", field=field) from exc
        if first["type"] == "missing":
            raise InvalidBody(f"missing field '{field}'", field=field) from exc
        raise InvalidTicker(str(first["msg"]).removeprefix("Value error, "), field=field) from exc


def job_view(job: Job, base: str) -> dict[str, Any]:
    """The public shape of a job (snake_case; the owner stays out)."""
    view = job.model_dump(mode="json", exclude={"owner"}, exclude_none=True)
    view["report_url"] = f"{base}/api/analyses/{job.id}/report"
    return view


def reconcile(job: Job, status: Any) -> Job:
    """A row still running whose orchestration has ended shows as the orchestration ended."""
    if job.status in TERMINAL_STATUSES or status is None:
        return job
    runtime = getattr(status, "runtime_status", None)
    if runtime == df.OrchestrationRuntimeStatus.Terminated:
        return job.model_copy(update={"status": JobStatus.CANCELLED, "stage": Stage.CANCELLED})
    if runtime == df.OrchestrationRuntimeStatus.Failed:
        message = str(status.output or "the orchestration failed")
        error = JobError(
            code=code_from_failure(message, "internal_error"),
            message=message.splitlines()[0][:500],
            stage=job.stage,
        )
        return job.model_copy(
            update={"status": JobStatus.FAILED, "stage": Stage.FAILED, "error": error}
        )
    return job


async def _durable_status(client: df.DurableOrchestrationClient, job_id: str) -> Any:
    try:
        return await client.get_status(job_id)
    except Exception:  # the row stays the answer when the task hub cannot be read
        log.warning("job %s: durable status unavailable", job_id, exc_info=True)
        return None


def _find(req: func.HttpRequest) -> Job:
    job_id = req.route_params.get("id", "")
    job = JobStore().get(owner_of(req), job_id) if job_id.isalnum() else None
    if job is None:
        raise NotFound("no analysis with that id")
    return job


@bp.route(route="analyses", methods=["POST"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def submit_analysis(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    request = parse_request(req.get_body())
    settings = get_settings()
    owner = owner_of(req)
    job = Job(
        id=uuid.uuid4().hex,
        owner=owner,
        ticker=request.ticker,
        status=JobStatus.QUEUED,
        stage=Stage.QUEUED,
        created_at=datetime.now(UTC),
    )
    store = JobStore()
    store.create(job)
    payload = AnalysisInput(
        job_id=job.id,
        owner=owner,
        ticker=job.ticker,
        created_at=job.created_at,
        deadline_seconds=settings.job_deadline_seconds,
        retry=RetryPolicy(
            first_retry_ms=settings.activity_retry_first_ms,
            max_attempts=settings.activity_max_attempts,
        ),
    )
    try:
        await client.start_new(
            names.ANALYSIS_ORCHESTRATOR, job.id, payload.model_dump(mode="json")
        )
    except Exception as exc:
        log.exception("job %s: the orchestration did not start", job.id)
        error = JobError(code="storage_failed", message="the job could not be started",
                         stage=Stage.QUEUED)
        try:
            store.fail(FailJob(job_id=job.id, owner=owner, error=error, at=datetime.now(UTC)))
        except StockMemoError:
            log.warning("job %s: could not mark the unstarted job failed", job.id)
        raise StorageFailed("the job could not be started; try again") from exc
    log.info("job %s: started for %s", job.id, job.ticker)

    base = base_url(req)
    status_url = f"{base}/api/analyses/{job.id}"
    body: dict[str, Any] = {
        "id": job.id,
        "statusQueryGetUri": status_url,
        "reportUri": f"{status_url}/report",
    }
    if settings.expose_durable_management_urls:
        body["management"] = client.create_http_management_payload(job.id)
    return json_response(
        body, status=202, headers={"Location": status_url, "Retry-After": RETRY_AFTER_SECONDS}
    )


@bp.route(route="analyses/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def get_analysis(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    job = _find(req)
    if job.status not in TERMINAL_STATUSES:
        job = reconcile(job, await _durable_status(client, job.id))
    headers = {} if job.status in TERMINAL_STATUSES else {"Retry-After": RETRY_AFTER_SECONDS}
    return json_response(job_view(job, base_url(req)), headers=headers)


@bp.route(route="analyses/{id}/report", methods=["GET"])
@error_boundary
async def get_report(req: func.HttpRequest) -> func.HttpResponse:
    job = _find(req)
    if job.status is not JobStatus.COMPLETED:
        return error_response(
            NotCompleted.code,
            f"the analysis is {job.status.value}; no report yet",
            NotCompleted.http_status,
            status=job.status.value,
        )
    memo = ArtifactStore().read(memo_blob(job.ticker, job.id))
    if memo is None:
        raise StorageFailed("the memo is missing from storage")
    return func.HttpResponse(memo, status_code=200, mimetype="text/markdown", charset="utf-8")


@bp.route(route="analyses", methods=["GET"])
@error_boundary
async def list_analyses(req: func.HttpRequest) -> func.HttpResponse:
    try:
        ticker = normalize_ticker(req.params.get("ticker"))
    except ValueError as exc:
        raise InvalidTicker(str(exc), field="ticker") from exc
    raw_limit = req.params.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidQuery(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    jobs, cursor = JobStore().list_for_ticker(
        owner_of(req), ticker, int(raw_limit), req.params.get("cursor") or None
    )
    base = base_url(req)
    return json_response({"items": [job_view(j, base) for j in jobs], "next_cursor": cursor})
