"""The evidence an earlier step kept as a work blob, read back by a later step.

A missing blob is a storage failure, never an empty result: the step that wrote it finished, so
its output must be there. (The news is the exception: no artifact means research failed, and
the gaps say why.)
"""

from __future__ import annotations

from shared.domain.evidence import DataGap, MarketSnapshot, NewsResult, QuantResult
from shared.errors import StorageFailed
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore


def load_snapshot(artifacts: ArtifactStore, name: str) -> MarketSnapshot:
    snapshot = artifacts.read_model(name, MarketSnapshot)
    if snapshot is None:
        raise StorageFailed(f"market snapshot {name} is missing from storage")
    return snapshot


def load_quant(artifacts: ArtifactStore, name: str) -> QuantResult:
    quant = artifacts.read_model(name, QuantResult)
    if quant is None:
        raise StorageFailed(f"quant output {name} is missing from storage")
    return quant


def load_news(artifacts: ArtifactStore, name: str | None, gaps: list[DataGap]) -> NewsResult:
    """The stored news, or a failed news set carrying why research failed."""
    if name:
        news = artifacts.read_model(name, NewsResult)
        if news is None:
            raise StorageFailed(f"news {name} is missing from storage")
        return news
    return NewsResult(provider=get_settings().news_provider, status="failed", gaps=gaps)
