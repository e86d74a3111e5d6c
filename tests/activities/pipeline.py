"""Run a job's activities in order, as the orchestrator would, up to the persist input."""

from __future__ import annotations

from datetime import datetime

from activities.decision import decide
from activities.market_data import fetch
from activities.news_research import research
from activities.quant_analyst import analyze
from shared.contracts import MarketRequest, MemoInput, NewsRequest, PersistInput, QuantInput
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.domain.models import Job


def run_to_persist(job: Job, completed_at: datetime) -> PersistInput:
    subject = fetch(MarketRequest(job_id=job.id, ticker=job.ticker, symbol=job.ticker))
    bench = fetch(MarketRequest(job_id=job.id, ticker=job.ticker, symbol=BENCHMARK_SYMBOL))
    assert subject.artifact and bench.artifact
    quant = analyze(QuantInput(job_id=job.id, ticker=job.ticker, subject_artifact=subject.artifact,
                               benchmark_artifact=bench.artifact))
    news = research(NewsRequest(job_id=job.id, ticker=job.ticker))
    assert quant.artifact
    decision = decide(MemoInput(job_id=job.id, owner=job.owner, ticker=job.ticker,
                                quant_artifact=quant.artifact, news_artifact=news.artifact))
    return PersistInput(
        job_id=job.id, owner=job.owner, ticker=job.ticker, created_at=job.created_at,
        completed_at=completed_at, quant_artifact=quant.artifact,
        news_artifact=news.artifact, decision_artifact=decision.artifact,
    )
