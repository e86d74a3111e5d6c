"""Fetch one symbol's market snapshot (the ticker or SPY) and keep it as a work blob."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names
from shared.artifacts import ArtifactStore, work_blob
from shared.errors import UnknownTicker
from shared.evidence import MarketRequest, MarketSnapshot, MarketSummary
from shared.providers import market_data_provider
from shared.settings import get_settings

bp = df.Blueprint()
log = logging.getLogger(__name__)


def fetch(request: MarketRequest) -> MarketSummary:
    """Unknown symbols are a typed outcome; transient failures raise so Durable retries."""
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, f"market_{request.symbol}")
    stored = artifacts.read_model(name, MarketSnapshot)
    if stored is None:
        provider = market_data_provider(get_settings())
        try:
            snapshot = provider.fetch(request.symbol)
        except UnknownTicker as exc:
            log.info("job %s: %s unknown to %s", request.job_id, request.symbol, provider.name)
            return MarketSummary(
                outcome="unknown_ticker",
                symbol=request.symbol,
                source=provider.name,
                message=exc.message,
            )
        stored = artifacts.write_model_once(name, snapshot)
    return MarketSummary(outcome="ok", symbol=request.symbol, source=stored.source, artifact=name)


@bp.activity_trigger(input_name="payload", activity=names.FETCH_MARKET_DATA)
def fetch_market_data(payload: dict[str, Any]) -> dict[str, Any]:
    return fetch(MarketRequest.model_validate(payload)).model_dump(mode="json")
