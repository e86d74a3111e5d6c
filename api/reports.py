"""/api/analyses/{id}/report: the memo of a completed job, through the API or as a short link.

The `reports` container is private. By default the memo comes through this route; with
`?link=sas` the answer is a read-only URL to that one blob, valid SAS_TTL_SECONDS at most.
Only a completed job has a report: any other status answers 409, whatever is in storage.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import azure.durable_functions as df
import azure.functions as func

from api.analyses import find_job
from api.pages import document_response
from api.responses import error_boundary, error_response, json_response
from shared.domain.models import JobStatus
from shared.errors import InvalidQuery, NotCompleted, StorageFailed
from shared.render.memo_html import render_report_html
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore, memo_blob

bp = df.Blueprint()
log = logging.getLogger(__name__)

LINK_KINDS = ("sas",)
FORMATS = ("markdown", "html")


@bp.route(route="analyses/{id}/report", methods=["GET"])
@error_boundary
async def get_report(req: func.HttpRequest) -> func.HttpResponse:
    job = find_job(req)
    link = req.params.get("link")
    if link is not None and link not in LINK_KINDS:
        raise InvalidQuery("link must be 'sas' (or left out for the memo itself)", field="link")
    form = req.params.get("format", "markdown")
    if form not in FORMATS:
        raise InvalidQuery("format must be 'markdown' or 'html'", field="format")
    if job.status is not JobStatus.COMPLETED:
        return error_response(
            NotCompleted.code,
            f"the analysis is {job.status.value}; no report yet",
            NotCompleted.http_status,
            status=job.status,
        )
    name = memo_blob(job.ticker, job.id)
    store = ArtifactStore()
    if link is not None:
        settings = get_settings()
        answer = store.read_link(
            name,
            timedelta(seconds=settings.sas_ttl_seconds),
            delegated=settings.uses_identity_storage,
        )
        log.info("job %s: report link until %s", job.id, answer.expires_at.isoformat())
        # The URL is a credential for a while: no cache may keep it.
        return json_response(answer, headers={"Cache-Control": "no-store"})
    memo = store.read(name)
    if memo is None:
        raise StorageFailed("the memo is missing from storage")
    if form == "html":
        html = render_report_html(memo.decode("utf-8"))
        return document_response(html, "text/html; charset=utf-8")
    return func.HttpResponse(memo, status_code=200, mimetype="text/markdown", charset="utf-8")
