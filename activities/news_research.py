"""News research: the configured provider's articles, kept as a work blob."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.contracts import NewsRequest, NewsSummary
from shared.domain.evidence import NewsResult
from shared.settings import get_settings
from shared.sources.factory import news_provider
from shared.store.artifacts import ArtifactStore, work_blob

bp = df.Blueprint()
log = logging.getLogger(__name__)


def research(request: NewsRequest) -> NewsSummary:
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, "news")
    result = artifacts.read_model(name, NewsResult)
    if result is None:
        provider = news_provider(get_settings())
        with telemetry.external_span("news search", provider.name) as call:
            result = (
                provider.search(request.ticker, request.as_of) if request.as_of is not None
                else provider.search(request.ticker)
            )
            call.span.set_attributes(
                {"stockmemo.news.status": result.status,
                 "stockmemo.news.articles": len(result.articles)}
            )
        result = artifacts.write_model_once(name, result)
    log.info("job %s: news %s, %d articles", request.job_id, result.status, len(result.articles))
    return NewsSummary(
        provider=result.provider,
        status=result.status,
        article_count=len(result.articles),
        gaps=result.gaps,
        artifact=name,
    )


@bp.activity_trigger(input_name="payload", activity=names.RESEARCH_NEWS)
def research_news(payload: dict) -> dict[str, Any]:
    request = NewsRequest.model_validate(payload)
    with telemetry.activity_span(names.RESEARCH_NEWS, request.job_id, request.ticker):
        return research(request).model_dump(mode="json")
