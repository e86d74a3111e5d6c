"""/api/health: storage reachable, and which providers are active with complete settings."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df
import azure.functions as func
from azure.core.exceptions import AzureError

from api.responses import error_boundary, json_response
from shared.domain.models import HealthView
from shared.errors import StockMemoError
from shared.settings import Settings, get_settings
from shared.store.clients import analyses_table, reports_container

bp = df.Blueprint()
log = logging.getLogger(__name__)

OFFLINE_PROVIDERS = {"simulated", "none", "offline"}


def storage_check() -> dict[str, Any]:
    try:
        next(iter(analyses_table().query_entities("PartitionKey eq 'health'", results_per_page=1)),
             None)
        reports_container().get_container_properties()
    except (AzureError, StockMemoError) as exc:
        log.warning("health: storage unreachable: %s", type(exc).__name__)
        return {"ok": False, "detail": f"storage unreachable ({type(exc).__name__})"}
    return {"ok": True}


def provider_checks(settings: Settings) -> dict[str, dict[str, Any]]:
    market = settings.market_data_provider
    news = settings.news_provider
    llm = settings.llm_provider
    llm_complete = {
        "offline": True,
        "openai": settings.openai_api_key is not None,
        "azure_openai": bool(settings.azure_openai_endpoint and settings.azure_openai_deployment),
    }[llm]
    return {
        "market_data": {"provider": market, "settings_complete": True},
        "news": {
            "provider": news,
            "settings_complete": news != "firecrawl" or settings.firecrawl_api_key is not None,
        },
        "llm": {
            "provider": llm,
            "settings_complete": llm_complete,
            # LLM_TRAINING_CUTOFF, for clients that score memos (the backtest): null when unset.
            "training_cutoff": (
                settings.llm_training_cutoff.isoformat() if settings.llm_training_cutoff else None
            ),
        },
    }


@bp.route(route="health", methods=["GET"])
@error_boundary
async def health(req: func.HttpRequest) -> func.HttpResponse:
    settings = get_settings()
    checks: dict[str, Any] = {"storage": storage_check(), **provider_checks(settings)}
    if not checks["storage"]["ok"]:
        status, code = "unhealthy", 503
    elif any(not checks[k]["settings_complete"] for k in ("market_data", "news", "llm")) or any(
        checks[k]["provider"] in OFFLINE_PROVIDERS for k in ("market_data", "news", "llm")
    ):
        status, code = "degraded", 200
    else:
        status, code = "healthy", 200
    return json_response(HealthView(status=status, checks=checks), status=code)
