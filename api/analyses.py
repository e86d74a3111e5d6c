"""/api/analyses: submit a ticker, read, list and cancel a caller's jobs.

Every route reads only the caller's own partition (`api/callers.py`), so another owner's job
answers exactly as an unknown id does.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from pydantic import BaseModel, ValidationError

from api.callers import owner_of
from api.responses import base_url, error_boundary, error_response, json_response
from shared import names, telemetry
from shared.contracts import AnalysisInput, FailJob, RetryPolicy
from shared.domain.as_of import check_as_of, shown
from shared.domain.models import (
    TERMINAL_STATUSES,
    Accepted,
    AnalysisRequest,
    Job,
    JobError,
    JobPage,
    JobStatus,
    JobView,
    Stage,
    normalize_ticker,
)
from shared.errors import (
    BodyTooLarge,
    InvalidAsOf,
    InvalidBody,
    InvalidQuery,
    InvalidTicker,
    LengthRequired,
    NotCancellable,
    NotFound,
    StockMemoError,
    StorageFailed,
    orchestration_failure,
)
from shared.settings import Settings, get_settings
from shared.sources.factory import market_data_provider
from shared.store.admission import Admission, IdempotencyClaim, check_idempotency_key
from shared.store.jobs import JobStore

bp = df.Blueprint()
log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_PAGE = 20
MAX_PAGE = 100


def limited_body(req: func.HttpRequest, max_bytes: int) -> bytes:
    """The body, unless it (or its declared Content-Length) is over `max_bytes`, or it was sent
    chunked without a length (the host never hands such a body to the app)."""
    declared = req.headers.get("content-length", "")
    if not declared and "chunked" in req.headers.get("transfer-encoding", "").lower():
        raise LengthRequired("send the body with a Content-Length; chunked bodies are not read")
    body = req.get_body()
    if (declared.isdigit() and int(declared) > max_bytes) or len(body) > max_bytes:
        raise BodyTooLarge(f"the body is over {max_bytes} bytes")
    return body


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
        if field == "as_of":
            raise InvalidAsOf(
                str(first["msg"]).removeprefix("Value error, "),
                field=field, value=shown(data.get("as_of")),
            ) from exc
        raise InvalidTicker(str(first["msg"]).removeprefix("Value error, "), field=field) from exc


def admit_as_of(as_of: date | None, tickers: list[str], settings: Settings) -> None:
    """Refuse (InvalidAsOf) an `as_of` after today (UTC) or before the first day the market
    data provider has for any of `tickers` (its `first_date`: no market fetch). Blocking: the
    history provider reads its store's manifest, so call it in a worker thread."""
    if as_of is None:
        return
    today = datetime.now(UTC).date()
    check_as_of(as_of, today, {})
    provider = market_data_provider(settings)
    check_as_of(as_of, today, {ticker: provider.first_date(ticker) for ticker in tickers})


def page_limit(req: func.HttpRequest) -> int:
    """The `limit` query parameter of a listing: 1 to MAX_PAGE, DEFAULT_PAGE when absent."""
    raw_limit = req.params.get("limit", str(DEFAULT_PAGE))
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE:
        raise InvalidQuery(f"limit must be a whole number from 1 to {MAX_PAGE}", field="limit")
    return int(raw_limit)


def job_view(job: Job, base: str) -> JobView:
    """The public shape of a job (snake_case; the owner stays out)."""
    return JobView.of(job, f"{base}/api/analyses/{job.id}/report")


def reconcile(job: Job, status: Any) -> Job:
    """A row still running whose orchestration has ended shows as the orchestration ended."""
    if job.status in TERMINAL_STATUSES or status is None:
        return job
    runtime = getattr(status, "runtime_status", None)
    if runtime == df.OrchestrationRuntimeStatus.Terminated:
        return job.model_copy(update={"status": JobStatus.CANCELLED, "stage": Stage.CANCELLED})
    if runtime == df.OrchestrationRuntimeStatus.Failed:
        code, message = orchestration_failure(str(status.output or "the orchestration failed"))
        error = JobError(code=code, message=message, stage=job.stage)
        return job.model_copy(
            update={"status": JobStatus.FAILED, "stage": Stage.FAILED, "error": error}
        )
    return job


async def durable_status(client: df.DurableOrchestrationClient, job_id: str) -> Any:
    try:
        return await client.get_status(job_id)
    except Exception:  # the row stays the answer when the task hub cannot be read
        log.warning("job %s: durable status unavailable", job_id, exc_info=True)
        return None


def find_job(req: func.HttpRequest) -> Job:
    """The caller's job named in the route; NotFound for an unknown id or another's job."""
    job_id = req.route_params.get("id", "")
    job = JobStore().get(owner_of(req), job_id) if job_id.isalnum() else None
    if job is None:
        raise NotFound("no analysis with that id")
    return job


def read_submission[R: BaseModel](
    req: func.HttpRequest, settings: Settings, parse: Callable[[bytes], R]
) -> tuple[str, R, IdempotencyClaim | None]:
    """A POST that starts work: its caller, its body as `parse` reads it (within
    MAX_BODY_BYTES), and the claim of its Idempotency-Key, if it has one."""
    owner = owner_of(req)
    body = limited_body(req, settings.max_body_bytes)
    key = req.headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        check_idempotency_key(key)
    request = parse(body)
    claim = IdempotencyClaim.of(owner, key, request) if key is not None else None
    return owner, request, claim


@bp.route(route="analyses", methods=["POST"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def submit_analysis(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    settings = get_settings()
    owner, request, claim = read_submission(req, settings, parse_request)
    await asyncio.to_thread(admit_as_of, request.as_of, [request.ticker], settings)
    job = Job(
        id=uuid.uuid4().hex,
        owner=owner,
        ticker=request.ticker,
        status=JobStatus.QUEUED,
        stage=Stage.QUEUED,
        created_at=datetime.now(UTC),
        as_of=request.as_of,
    )
    # In a worker thread: the transaction may back off and retry under contention.
    admitted = await asyncio.to_thread(
        Admission().admit, job, claim, settings.analyses_per_hour
    )
    if admitted.replay:
        log.info("job %s: replayed for its Idempotency-Key", admitted.job_id)
    else:
        await start(client, job, settings)
    return accepted(req, client, admitted.job_id, settings)


def orchestration_input(job: Job, settings: Settings) -> AnalysisInput:
    """What the orchestrator gets: the job, plus the settings it may not read itself."""
    return AnalysisInput(
        job_id=job.id,
        owner=job.owner,
        ticker=job.ticker,
        created_at=job.created_at,
        as_of=job.as_of,
        deadline_seconds=settings.job_deadline_seconds,
        retry=RetryPolicy(
            first_retry_ms=settings.activity_retry_first_ms,
            max_attempts=settings.activity_max_attempts,
        ),
    )


async def start(client: df.DurableOrchestrationClient, job: Job, settings: Settings) -> None:
    """Start the orchestration of a job row just written; on failure the job ends failed."""
    payload = orchestration_input(job, settings)
    try:
        await client.start_new(
            names.ANALYSIS_ORCHESTRATOR, job.id, payload.model_dump(mode="json")
        )
    except Exception as exc:
        log.exception("job %s: the orchestration did not start", job.id)
        error = JobError(code="storage_failed", message="the job could not be started",
                         stage=Stage.QUEUED)
        try:
            JobStore().fail(
                FailJob(job_id=job.id, owner=job.owner, error=error, at=datetime.now(UTC))
            )
        except StockMemoError:
            log.warning("job %s: could not mark the unstarted job failed", job.id)
        raise StorageFailed("the job could not be started; try again") from exc
    log.info("job %s: started for %s", job.id, job.ticker)
    telemetry.record_job_started(job.id, job.ticker)


def accepted(
    req: func.HttpRequest,
    client: df.DurableOrchestrationClient,
    job_id: str,
    settings: Settings,
    collection: str = "analyses",
) -> func.HttpResponse:
    """202 with the job's (or, under `collection` "batches", the batch's) URLs: the same answer
    for the first request and for a replay."""
    status_url = f"{base_url(req)}/api/{collection}/{job_id}"
    body = Accepted(id=job_id, statusQueryGetUri=status_url, reportUri=f"{status_url}/report")
    if settings.expose_durable_management_urls:
        body.management = client.create_http_management_payload(job_id)
    return json_response(
        body, status=202, headers={"Location": status_url, "Retry-After": RETRY_AFTER_SECONDS}
    )


@bp.route(route="analyses/{id}", methods=["GET"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def get_analysis(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    job = find_job(req)
    if job.status not in TERMINAL_STATUSES:
        job = reconcile(job, await durable_status(client, job.id))
    headers = {} if job.status in TERMINAL_STATUSES else {"Retry-After": RETRY_AFTER_SECONDS}
    return json_response(job_view(job, base_url(req)), headers=headers)


@bp.route(route="analyses/{id}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def cancel_analysis(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """Cancel a queued or running job: the row first (ETag-guarded), then the orchestration.

    The row is what every later step checks (a stage change, persist's transaction), so even
    an activity already running when the cancel arrives cannot complete the job.
    """
    job = find_job(req)
    if job.status not in TERMINAL_STATUSES:
        ended = JobStore().cancel(job.owner, job.id, datetime.now(UTC))
        if ended is None:
            raise NotFound("no analysis with that id")
        if ended.status is JobStatus.CANCELLED:
            try:
                await client.terminate(job.id, "cancelled by the caller")
            except Exception:  # not started yet, or already over: its next step sees the row
                log.warning("job %s: could not terminate the orchestration", job.id,
                            exc_info=True)
            log.info("job %s: cancelled", job.id)
            return json_response(job_view(ended, base_url(req)), status=202)
        job = ended
    return error_response(
        NotCancellable.code,
        f"the analysis is {job.status.value}; only a queued or running one can be cancelled",
        NotCancellable.http_status,
        status=job.status,
    )


@bp.route(route="analyses", methods=["GET"])
@error_boundary
async def list_analyses(req: func.HttpRequest) -> func.HttpResponse:
    owner = owner_of(req)
    try:
        ticker = normalize_ticker(req.params.get("ticker"))
    except ValueError as exc:
        raise InvalidTicker(str(exc), field="ticker") from exc
    jobs, cursor = JobStore().list_for_ticker(
        owner, ticker, page_limit(req), req.params.get("cursor") or None
    )
    base = base_url(req)
    return json_response(JobPage(items=[job_view(j, base) for j in jobs], next_cursor=cursor))
