"""The analyst page, served by the function app itself, and the views it needs beside the API.

- `GET /api/ui`, `GET /api/ui/{asset}`: the page and its script and stylesheet (`api/static/`),
  with the server's ticker rule and `BATCH_MAX_TICKERS` filled in, so the page checks as it does.
  Anonymous on purpose: they hold no data and no secret, and a key in the page's URL is what we
  must avoid. Every call the page makes goes to the function-level API below and in analyses.py.
- `GET /api/analyses/{id}/chart.svg`: the ticker against SPY from the stored evidence.
- `GET /api/analyses/{id}/evidence`: the evidence JSON, as a download.
- The memo as sanitised HTML is `GET /api/analyses/{id}/report?format=html` (api/reports.py),
  sent with `document_response` from here.

Job lookups are scoped to the caller (`owner_of`), with the API's 404 for anyone else's job.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path

import azure.durable_functions as df
import azure.functions as func

from api.callers import owner_of
from api.responses import error_boundary, error_response
from shared.domain.evidence import QuantResult
from shared.domain.models import TICKER_RE, Job, JobStatus
from shared.errors import NotCompleted, NotFound, StorageFailed
from shared.render.chart import chart_svg
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore, evidence_blob
from shared.store.jobs import JobStore

bp = df.Blueprint()
log = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml; charset=utf-8",
}
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Whatever opens these directly (a tab, an <img>) gets no scripts, no plugins, no framing.
DOCUMENT_CSP = "default-src 'none'; frame-ancestors 'none'; sandbox"
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Asset:
    body: bytes
    content_type: str
    etag: str


def _asset(body: bytes, content_type: str) -> Asset:
    return Asset(body, content_type, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')


@lru_cache(maxsize=4)
def page(auth_mode: str, batch_max_tickers: int) -> Asset:
    """index.html with the auth mode, the server's ticker rule and its batch size filled in."""
    template = (STATIC / "index.html").read_text(encoding="utf-8")
    html = (
        template.replace("{{AUTH_MODE}}", escape(auth_mode))
        .replace("{{TICKER_PATTERN}}", escape(ticker_pattern()))
        .replace("{{BATCH_MAX_TICKERS}}", str(batch_max_tickers))
    )
    return _asset(html.encode("utf-8"), "text/html; charset=utf-8")


@lru_cache(maxsize=len(ASSETS))
def static_asset(name: str) -> Asset:
    return _asset((STATIC / name).read_bytes(), ASSETS[name])


def ticker_pattern() -> str:
    """The server's ticker rule without its anchors, as an HTML `pattern` (checked upper-cased)."""
    return TICKER_RE.pattern.removeprefix("^").removesuffix("$")


def _serve(req: func.HttpRequest, asset: Asset, headers: dict[str, str]) -> func.HttpResponse:
    base = {**COMMON_HEADERS, **headers, "ETag": asset.etag, "Cache-Control": "no-cache"}
    if req.headers.get("If-None-Match") == asset.etag:
        return func.HttpResponse(status_code=304, headers=base)
    return func.HttpResponse(asset.body, status_code=200, headers={
        **base, "Content-Type": asset.content_type})


@bp.route(route="ui", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@error_boundary
async def ui_page(req: func.HttpRequest) -> func.HttpResponse:
    settings = get_settings()
    mode = "easyauth" if settings.auth_mode == "easyauth" else "function-key"
    return _serve(req, page(mode, settings.batch_max_tickers), {
        "Content-Security-Policy": PAGE_CSP,
        "X-Frame-Options": "DENY",
    })


@bp.route(route="ui/{asset}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@error_boundary
async def ui_asset(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("asset", "")
    if name not in ASSETS:
        return error_response(NotFound.code, "no such file", NotFound.http_status)
    return _serve(req, static_asset(name), {})


def _load(req: func.HttpRequest, blob: Callable[[str, str], str]) -> tuple[Job, bytes | None]:
    """The caller's job, and the named blob once it is completed (None before)."""
    job_id = req.route_params.get("id", "")
    job = JobStore().get(owner_of(req), job_id) if job_id.isalnum() else None
    if job is None:
        raise NotFound("no analysis with that id")
    if job.status is not JobStatus.COMPLETED:
        return job, None
    data = ArtifactStore().read(blob(job.ticker, job.id))
    if data is None:
        raise StorageFailed("a stored file of this analysis is missing")
    return job, data


def _not_completed(job: Job) -> func.HttpResponse:
    """The API's 409 for a report that is not there (yet), with the job's status."""
    return error_response(
        NotCompleted.code,
        f"the analysis is {job.status.value}; no report yet",
        NotCompleted.http_status,
        status=job.status.value,
    )


def document_response(
    body: str | bytes, content_type: str, extra: dict[str, str] | None = None
) -> func.HttpResponse:
    """A completed job's file: its blobs are write-once, so the browser may keep it a while."""
    return func.HttpResponse(body, status_code=200, headers={
        **COMMON_HEADERS,
        "Content-Type": content_type,
        "Content-Security-Policy": DOCUMENT_CSP,
        "Cache-Control": "private, max-age=300",
        **(extra or {}),
    })


@bp.route(route="analyses/{id}/chart.svg", methods=["GET"])
@error_boundary
async def analysis_chart(req: func.HttpRequest) -> func.HttpResponse:
    job, data = await asyncio.to_thread(_load, req, evidence_blob)
    if data is None:
        return _not_completed(job)
    quant = QuantResult.model_validate(json.loads(data)["quant"])
    svg = chart_svg(quant.ticker_series, quant.benchmark_series)
    return document_response(svg, "image/svg+xml; charset=utf-8")


@bp.route(route="analyses/{id}/evidence", methods=["GET"])
@error_boundary
async def analysis_evidence(req: func.HttpRequest) -> func.HttpResponse:
    job, data = await asyncio.to_thread(_load, req, evidence_blob)
    if data is None:
        return _not_completed(job)
    disposition = f'attachment; filename="{job.ticker}-{job.id}-evidence.json"'
    return document_response(
        data, "application/json; charset=utf-8", {"Content-Disposition": disposition}
    )
