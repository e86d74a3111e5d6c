"""/api/watchlists: a caller's named tickers re-analysed on a schedule, each by one eternal
orchestration (`orchestrators/watchlist.py`).

PUT creates or replaces (the answer that creates one shows its webhook secret, once), GET reads
(never the secret), POST .../run raises the `run_now` event, DELETE removes the row first (so no
webhook attempt starts after it answers), then terminates the orchestration and cancels the run
it has in flight as DELETE /api/batches/{id} does. Every route reads only the caller's own
partition, so another owner's watchlist answers exactly as an unknown name does.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import UTC, datetime

import azure.durable_functions as df
import azure.functions as func

from api.analyses import limited_body
from api.batches import cancel_children
from api.callers import owner_of
from api.responses import base_url, error_boundary, json_response
from shared import names
from shared.contracts import RetryPolicy
from shared.domain.batches import Batch
from shared.domain.models import JobStatus
from shared.domain.watchlists import (
    CreatedWatchlist,
    Watchlist,
    WatchlistPage,
    WatchlistRequest,
    WatchlistView,
    check_name,
    instance_id,
    parse_watchlist,
)
from shared.errors import InvalidBody, NotFound, StorageFailed
from shared.notify.addresses import check_webhook_url
from shared.notify.resolving import resolver
from shared.notify.signing import new_secret
from shared.settings import Settings, get_settings
from shared.store.batches import BatchStore
from shared.store.watchlists import WatchlistStore
from shared.watch_contracts import WatchSignal, WatchState

bp = df.Blueprint()
log = logging.getLogger(__name__)

_RUNNING = (
    df.OrchestrationRuntimeStatus.Running,
    df.OrchestrationRuntimeStatus.Pending,
    df.OrchestrationRuntimeStatus.ContinuedAsNew,
)


def read_watchlist(req: func.HttpRequest, settings: Settings) -> WatchlistRequest:
    body = limited_body(req, settings.max_body_bytes)
    try:
        data = json.loads(body.decode("utf-8")) if body else None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBody(
            'the body must be a JSON object like {"tickers": ["MSFT"], "schedule": "0 0 9 * * *"}'
        ) from exc
    request = parse_watchlist(
        data, settings.batch_max_tickers, settings.watchlist_min_interval_seconds,
        datetime.now(UTC),
    )
    if request.webhook_url is not None:
        check_webhook_url(
            request.webhook_url,
            resolve=resolver(),
            allow_loopback_http=settings.webhook_allow_loopback_http,
        )
    return request


def state_of(watchlist: Watchlist, settings: Settings) -> WatchState:
    return WatchState(
        owner=watchlist.owner,
        name=watchlist.name,
        schedule=watchlist.schedule,
        retry=RetryPolicy(
            first_retry_ms=settings.activity_retry_first_ms,
            max_attempts=settings.activity_max_attempts,
        ),
    )


async def _runtime_status(
    client: df.DurableOrchestrationClient, instance: str
) -> df.OrchestrationRuntimeStatus | None:
    try:
        status = await client.get_status(instance)
    except Exception:
        return None
    return getattr(status, "runtime_status", None) if status else None


async def _signal(
    client: df.DurableOrchestrationClient, watchlist: Watchlist, signal: WatchSignal,
    settings: Settings,
) -> None:
    """Tell the watchlist's orchestration; start a fresh one when none is running."""
    instance = watchlist.instance_id
    if await _runtime_status(client, instance) in _RUNNING:
        try:
            await client.raise_event(instance, names.WATCHLIST_EVENT, signal.model_dump())
            return
        except Exception:
            log.info("watchlist %s: the event was not taken; starting it again", instance)
    try:
        await client.start_new(
            names.WATCHLIST_ORCHESTRATOR, instance,
            state_of(watchlist, settings).model_dump(mode="json"),
        )
        if signal.action == "run_now":
            await client.raise_event(instance, names.WATCHLIST_EVENT, signal.model_dump())
    except Exception as exc:
        log.exception("watchlist %s: the orchestration did not start", instance)
        raise StorageFailed("the watchlist's schedule could not be started; try again") \
            from exc


def find(req: func.HttpRequest) -> Watchlist:
    name = check_name(req.route_params.get("name", ""))
    watchlist = WatchlistStore().get(owner_of(req), name)
    if watchlist is None:
        raise NotFound("no watchlist with that name")
    return watchlist


@bp.route(route="watchlists/{name}", methods=["PUT"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def put_watchlist(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    settings = get_settings()
    owner = owner_of(req)
    name = check_name(req.route_params.get("name", ""))
    request = await asyncio.to_thread(read_watchlist, req, settings)
    now = datetime.now(UTC)
    new = Watchlist(
        owner=owner,
        name=name,
        tickers=request.tickers,
        schedule=request.schedule,
        webhook_url=request.webhook_url,
        webhook_secret=new_secret(),
        base_url=base_url(req),
        created_at=now,
        updated_at=now,
    )
    stored, created = await asyncio.to_thread(WatchlistStore().put, new)
    await _signal(
        client, stored, WatchSignal(action="update", schedule=stored.schedule), settings
    )
    log.info("watchlist %s: %s for %s", stored.instance_id,
             "created" if created else "replaced", ",".join(stored.tickers))
    view = WatchlistView.of(stored, now)
    if created:
        answer = CreatedWatchlist(**view.model_dump(), webhook_secret=stored.webhook_secret)
        return json_response(answer, status=201)
    return json_response(view)


@bp.route(route="watchlists", methods=["GET"])
@error_boundary
async def list_watchlists(req: func.HttpRequest) -> func.HttpResponse:
    found = await asyncio.to_thread(WatchlistStore().all, owner_of(req))
    now = datetime.now(UTC)
    return json_response(WatchlistPage(items=[WatchlistView.of(w, now) for w in found]))


@bp.route(route="watchlists/{name}", methods=["GET"])
@error_boundary
async def get_watchlist(req: func.HttpRequest) -> func.HttpResponse:
    watchlist = await asyncio.to_thread(find, req)
    return json_response(WatchlistView.of(watchlist, datetime.now(UTC)))


@bp.route(route="watchlists/{name}/run", methods=["POST"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def run_watchlist_now(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    watchlist = await asyncio.to_thread(find, req)
    await _signal(client, watchlist, WatchSignal(action="run_now"), get_settings())
    return json_response(WatchlistView.of(watchlist, datetime.now(UTC)), status=202)


async def _terminate(client: df.DurableOrchestrationClient, instance: str, why: str) -> None:
    try:
        await client.terminate(instance, why)
    except Exception:  # never started, or already over
        log.info("instance %s: not terminated (not running)", instance)


async def cancel_run(client: df.DurableOrchestrationClient, owner: str, batch_id: str) -> None:
    """Cancel a run's batch as DELETE /api/batches/{id} does: its row, its orchestration, then
    every unfinished child, row then orchestration."""
    now = datetime.now(UTC)

    def cancel(current: Batch) -> Batch:
        return current.model_copy(update={"status": JobStatus.CANCELLED, "completed_at": now})

    ended = await asyncio.to_thread(BatchStore().change, owner, batch_id, cancel)
    if ended is None or ended.status is not JobStatus.CANCELLED or ended.completed_at != now:
        return  # not admitted, or it had ended
    await _terminate(client, batch_id, "the watchlist was deleted")
    _, children = await asyncio.to_thread(cancel_children, ended, now)
    await asyncio.gather(
        *(_terminate(client, job_id, "the watchlist was deleted") for job_id in children)
    )


@bp.route(route="watchlists/{name}", methods=["DELETE"])
@bp.durable_client_input(client_name="client")
@error_boundary
async def delete_watchlist(
    req: func.HttpRequest, client: df.DurableOrchestrationClient
) -> func.HttpResponse:
    """The row first (no webhook attempt starts once it is gone: the delivery asks before each),
    then the orchestration, then the run it has in flight."""
    owner = owner_of(req)
    name = check_name(req.route_params.get("name", ""))
    removed = await asyncio.to_thread(WatchlistStore().delete, owner, name)
    if removed is None:
        raise NotFound("no watchlist with that name")
    await _terminate(client, instance_id(owner, name), "the watchlist was deleted")
    for run in removed.runs:
        if run.status == "running" and run.batch_id:
            await cancel_run(client, owner, run.batch_id)
    log.info("watchlist %s: deleted", removed.instance_id)
    return func.HttpResponse(status_code=204)
