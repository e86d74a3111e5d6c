"""The function app: one DFApp, one blueprint per module. Nothing else happens here."""

import azure.durable_functions as df
import azure.functions as func

from activities import (
    batch,
    decision,
    job_stage,
    market_data,
    news_research,
    persist,
    quant_analyst,
)
from activities import watchlist as watchlist_activities
from api import (
    analyses,
    batches,
    health,
    openapi,
    pages,
    prices,
    reports,
    stats,
    track_record,
    watchlists,
)
from maintenance import retention
from orchestrators import analysis
from orchestrators import batch as batch_orchestration
from orchestrators import watchlist as watchlist_orchestration

app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

for blueprint in (
    analyses.bp,
    batches.bp,
    reports.bp,
    health.bp,
    pages.bp,
    openapi.bp,
    stats.bp,
    prices.bp,
    track_record.bp,
    watchlists.bp,
    analysis.bp,
    job_stage.bp,
    market_data.bp,
    news_research.bp,
    quant_analyst.bp,
    decision.bp,
    persist.bp,
    batch_orchestration.bp,
    batch.bp,
    watchlist_orchestration.bp,
    watchlist_activities.bp,
    retention.bp,
):
    app.register_functions(blueprint)
