"""The activities against real Azurite, called as Durable would call them (also twice)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from activities.decision import decide
from activities.job_stage import fail, set_stage
from activities.market_data import fetch
from activities.persist import persist
from activities.quant_analyst import analyze
from devhost.azurite import Azurite
from shared.contracts import (
    FailJob,
    MarketRequest,
    MemoInput,
    PersistInput,
    QuantInput,
    StageResult,
    StageUpdate,
)
from shared.domain.evidence import DataGap
from shared.domain.models import Job, JobError, JobStatus, Stage
from shared.store.artifacts import ArtifactStore, evidence_blob, memo_blob
from shared.store.jobs import JobStore
from tests.activities.pipeline import run_to_persist
from tests.app_env import app_settings

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture
def env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with app_settings(monkeypatch, azurite.connection_string):
        yield


def new_job(ticker: str = "MSFT", owner: str = "anonymous") -> Job:
    job = Job(
        id=uuid.uuid4().hex, owner=owner, ticker=ticker, status=JobStatus.QUEUED,
        stage=Stage.QUEUED, created_at=NOW,
    )
    JobStore().create(job)
    return job


def blob_names(prefix: str) -> list[str]:
    return sorted(b.name for b in ArtifactStore().container.list_blobs(name_starts_with=prefix))


def test_pipeline_writes_memo_evidence_job_and_log(env: None) -> None:
    job = new_job()
    set_stage(StageUpdate(job_id=job.id, owner=job.owner, status=JobStatus.RUNNING,
                          stage=Stage.GATHERING_EVIDENCE, at=NOW))
    result = persist(run_to_persist(job, NOW + timedelta(seconds=5)))

    assert result.job_status is JobStatus.COMPLETED
    stored = JobStore().get(job.owner, job.id)
    assert stored is not None and stored.status is JobStatus.COMPLETED
    assert stored.verdict is result.verdict and stored.confidence == result.confidence
    assert stored.started_at == NOW
    memo = (ArtifactStore().read(memo_blob(job.ticker, job.id)) or b"").decode()
    assert memo.startswith("# MSFT research memo") and "SIMULATED DATA" in memo[:400]
    assert "## Data gaps" in memo and not re.search(r"\bnan\b", memo, re.IGNORECASE)
    logs = [e for e in JobStore().log_entries(job.owner, job.ticker) if e["JobId"] == job.id]
    assert len(logs) == 1 and logs[0]["MemoBlob"] == memo_blob(job.ticker, job.id)


def test_every_activity_twice_changes_nothing(env: None) -> None:
    job = new_job("AAPL")
    first = persist(run_to_persist(job, NOW + timedelta(seconds=5)))
    prefix = f"{job.ticker}/{job.id}/"
    blobs = {n: ArtifactStore().read(n) for n in blob_names(prefix)}
    entities = sorted(e["RowKey"] for e in JobStore().table.list_entities())

    # Every activity again, with the same inputs.
    again = persist(run_to_persist(job, NOW + timedelta(seconds=5)))

    assert again == first
    assert {n: ArtifactStore().read(n) for n in blob_names(prefix)} == blobs
    assert sorted(e["RowKey"] for e in JobStore().table.list_entities()) == entities
    assert memo_blob(job.ticker, job.id) in blobs and evidence_blob(job.ticker, job.id) in blobs


def test_unknown_ticker_is_a_typed_outcome(env: None) -> None:
    job = new_job("ZZZZ")
    summary = fetch(MarketRequest(job_id=job.id, ticker=job.ticker, symbol=job.ticker))
    assert summary.outcome == "unknown_ticker" and summary.artifact is None
    assert blob_names(f"{job.ticker}/{job.id}/") == []


def test_missing_benchmark_degrades_the_memo_visibly(env: None) -> None:
    job = new_job("NVDA")
    subject = fetch(MarketRequest(job_id=job.id, ticker=job.ticker, symbol=job.ticker))
    assert subject.artifact
    gap = DataGap(source="benchmark SPY", code="market_data_unavailable", message="SPY timed out")
    quant = analyze(QuantInput(job_id=job.id, ticker=job.ticker, subject_artifact=subject.artifact,
                               benchmark_gaps=[gap]))
    assert quant.completeness_score < 1 and "beta_1y" in quant.missing
    assert quant.artifact
    decision = decide(MemoInput(job_id=job.id, owner=job.owner, ticker=job.ticker,
                                quant_artifact=quant.artifact, news_artifact=None,
                                news_gaps=[DataGap(source="news", code="news_unavailable",
                                                   message="news search failed")]))
    assert decision.confidence <= quant.completeness_score
    persist(PersistInput(job_id=job.id, owner=job.owner, ticker=job.ticker, created_at=NOW,
                         completed_at=NOW, quant_artifact=quant.artifact, news_gaps=[],
                         decision_artifact=decision.artifact))
    memo = (ArtifactStore().read(memo_blob(job.ticker, job.id)) or b"").decode()
    gaps = memo.split("## Data gaps", 1)[1].split("## Provenance", 1)[0]
    assert "SPY timed out" in gaps and "beta_1y" in gaps


def test_terminal_job_is_never_moved(env: None) -> None:
    job = new_job()
    error = JobError(code="timeout", message="late", stage=Stage.WRITING_MEMO)
    fail(FailJob(job_id=job.id, owner=job.owner, error=error, at=NOW))
    after = set_stage(StageUpdate(job_id=job.id, owner=job.owner, status=JobStatus.RUNNING,
                                  stage=Stage.PERSISTING, at=NOW))
    assert after == StageResult(status=JobStatus.FAILED, stage=Stage.FAILED)
    stored = JobStore().get(job.owner, job.id)
    assert stored is not None and stored.error == error
