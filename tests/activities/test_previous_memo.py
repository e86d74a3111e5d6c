"""What changed since the last memo, through the activities against real Azurite (issue 17,
item 4): which memo is the previous one, the section a watchlist run's memo gets, and that a
point-in-time memo never gets it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from activities.decision import decide
from activities.market_data import fetch
from activities.news_research import research
from activities.persist import persist
from activities.quant_analyst import analyze
from devhost.azurite import Azurite
from shared.contracts import (
    AnalysisInput,
    BatchChild,
    BatchInput,
    MarketRequest,
    MemoInput,
    NewsRequest,
    PersistInput,
    PreviousMemo,
    QuantInput,
    RetryPolicy,
)
from shared.domain.evidence import BENCHMARK_SYMBOL
from shared.domain.models import Grounding, Job, JobStatus, Stage, Verdict
from shared.store.artifacts import ArtifactStore, evidence_blob, memo_blob
from shared.store.jobs import JobStore
from shared.store.previous import latest_live_memo
from shared.store.rows import ReportLogRow
from tests.app_env import app_settings

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
OWNER = "watcher"


@pytest.fixture
def env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with app_settings(monkeypatch, azurite.connection_string):
        yield


def run_job(
    ticker: str,
    completed_at: datetime,
    *,
    as_of: date | None = None,
    previous: PreviousMemo | None = None,
    owner: str = OWNER,
) -> Job:
    """One job through every activity, as the orchestrator calls them."""
    job = Job(id=uuid.uuid4().hex, owner=owner, ticker=ticker, status=JobStatus.QUEUED,
              stage=Stage.QUEUED, created_at=completed_at - timedelta(seconds=5), as_of=as_of)
    JobStore().create(job)
    subject = fetch(MarketRequest(job_id=job.id, ticker=ticker, symbol=ticker, as_of=as_of))
    bench = fetch(MarketRequest(job_id=job.id, ticker=ticker, symbol=BENCHMARK_SYMBOL,
                                as_of=as_of))
    assert subject.artifact and bench.artifact
    quant = analyze(QuantInput(job_id=job.id, ticker=ticker, subject_artifact=subject.artifact,
                               benchmark_artifact=bench.artifact, as_of=as_of))
    news = research(NewsRequest(job_id=job.id, ticker=ticker, as_of=as_of))
    assert quant.artifact
    decision = decide(MemoInput(job_id=job.id, owner=owner, ticker=ticker,
                                quant_artifact=quant.artifact, news_artifact=news.artifact,
                                as_of=as_of, previous=previous))
    result = persist(PersistInput(
        job_id=job.id, owner=owner, ticker=ticker, created_at=job.created_at,
        completed_at=completed_at, quant_artifact=quant.artifact,
        news_artifact=news.artifact, decision_artifact=decision.artifact, as_of=as_of,
        previous=previous,
    ))
    assert result.job_status is JobStatus.COMPLETED
    stored = JobStore().get(owner, job.id)
    assert stored is not None
    return stored


def evidence(job: Job) -> dict[str, Any]:
    raw = ArtifactStore().read(evidence_blob(job.ticker, job.id))
    assert raw is not None
    document: dict[str, Any] = json.loads(raw)
    return document


def memo(job: Job) -> str:
    return (ArtifactStore().read(memo_blob(job.ticker, job.id)) or b"").decode()


def older_memo(source: Job, trading_days_back: int, verdict: Verdict) -> PreviousMemo:
    """A completed live memo from `trading_days_back` closes before `source`'s: its evidence is
    `source`'s with the series cut there, stored and completed as any memo is."""
    document = evidence(source)
    series = document["quant"]["ticker_series"]
    series["dates"] = series["dates"][:-trading_days_back]
    series["closes"] = series["closes"][:-trading_days_back]
    job_id = uuid.uuid4().hex
    document["job_id"] = job_id
    completed_at = NOW - timedelta(days=60)
    queued = Job(id=job_id, owner=source.owner, ticker=source.ticker, status=JobStatus.QUEUED,
                 stage=Stage.QUEUED, created_at=completed_at)
    jobs, artifacts = JobStore(), ArtifactStore()
    jobs.create(queued)
    name = evidence_blob(source.ticker, job_id)
    artifacts.write_once(name, json.dumps(document).encode(), "application/json")
    # Its memo and report-log entry too, as persist stores them: the session's storage is
    # shared, and a completed job without them is what the trust tests call a false success.
    memo = memo_blob(source.ticker, job_id)
    artifacts.write_once(memo, f"# {source.ticker} research memo\n".encode(), "text/markdown")
    log_row = ReportLogRow(
        owner=source.owner, job_id=job_id, ticker=source.ticker, verdict=verdict,
        confidence=0.3, grounding=Grounding.NOT_APPLICABLE, completed_at=completed_at,
        memo_blob=memo, evidence_blob=name, evidence_hash=document.get("evidence_hash", ""),
    )
    completed = queued.model_copy(update={
        "status": JobStatus.COMPLETED, "stage": Stage.COMPLETED, "completed_at": completed_at,
        "verdict": verdict, "confidence": 0.3,
    })
    jobs.complete(completed, log_row.entity())
    return PreviousMemo(job_id=job_id, ticker=source.ticker, completed_at=completed_at,
                        verdict=verdict, confidence=0.3, evidence_blob=name)


def independent_excess(current: dict[str, Any], then: str) -> float:
    """(P_now/P_then - 1) - (B_now/B_then - 1) with numpy over the stored series."""
    ticker, bench = current["quant"]["ticker_series"], current["quant"]["benchmark_series"]
    t_dates = np.array(ticker["dates"], dtype="datetime64[D]")
    b_dates = np.array(bench["dates"], dtype="datetime64[D]")
    t_close, b_close = np.array(ticker["closes"]), np.array(bench["closes"])
    i = np.nonzero(t_dates <= np.datetime64(then))[0].max()
    j = np.nonzero(b_dates <= np.datetime64(then))[0].max()
    k = np.nonzero(b_dates <= t_dates[-1])[0].max()
    return float((t_close[-1] / t_close[i] - 1) - (b_close[k] / b_close[j] - 1))


def shown_percent(fraction: float) -> str:
    percent = round(fraction * 100, 1)
    return "0.0%" if percent == 0 else f"{percent:+.1f}%"


def test_latest_live_memo_is_the_latest_completed_one_without_as_of(env: None) -> None:
    assert latest_live_memo(OWNER, "NVDA") is None
    first = run_job("NVDA", NOW)
    second = run_job("NVDA", NOW + timedelta(minutes=5))
    run_job("NVDA", NOW + timedelta(minutes=10), as_of=date(2025, 6, 2))  # point in time
    run_job("NVDA", NOW + timedelta(minutes=15), owner="someone-else")
    JobStore().create(Job(id=uuid.uuid4().hex, owner=OWNER, ticker="NVDA",
                          status=JobStatus.RUNNING, stage=Stage.WRITING_MEMO,
                          created_at=NOW + timedelta(minutes=20)))

    found = latest_live_memo(OWNER, "NVDA")

    assert found is not None and found.job_id == second.id != first.id
    assert found.verdict is second.verdict and found.confidence == second.confidence
    assert found.completed_at == second.completed_at
    assert found.evidence_blob == evidence_blob("NVDA", second.id)
    assert latest_live_memo(OWNER, "AMD") is None


def test_a_watchlist_runs_memo_states_what_changed(env: None) -> None:
    source = run_job("MSFT", NOW)
    previous = older_memo(source, 21, Verdict.SELL)
    then = evidence(source)["quant"]["ticker_series"]["dates"][-22]

    second = run_job("MSFT", NOW + timedelta(minutes=1), previous=previous)

    document = evidence(second)
    changes = document["changes"]
    expected = independent_excess(document, then)
    assert changes["previous_job_id"] == previous.job_id
    assert changes["verdict_before"] == "sell" and changes["verdict_after"] == second.verdict
    assert changes["realised_excess_return"] == pytest.approx(expected, abs=1e-12)
    text = memo(second)
    section = text[text.index("## Since the last memo\n"):text.index("## Quantitative picture")]
    assert second.verdict is not None
    change = "unchanged" if second.verdict is Verdict.SELL else "changed"
    assert f"- Verdict: SELL → {second.verdict.value.upper()} ({change})" in section
    assert f"since the last memo: **{shown_percent(expected)}**" in section
    assert "[previous_verdict]" in text  # the offline strategist addressed it
    assert evidence(source).get("changes") is None  # a memo without a previous one has none


def test_a_point_in_time_memo_never_gets_it(env: None) -> None:
    source = run_job("AAPL", NOW)
    previous = older_memo(source, 5, Verdict.BUY)

    pit = run_job("AAPL", NOW + timedelta(minutes=1), as_of=date(2025, 6, 2), previous=previous)

    assert "changes" not in evidence(pit)
    assert "## Since the last memo" not in memo(pit) and "previous_verdict" not in memo(pit)


def test_previous_is_left_out_of_the_json_when_none_and_passed_to_each_child() -> None:
    retry = RetryPolicy(first_retry_ms=50, max_attempts=3)
    plain = AnalysisInput(job_id="j", owner="o", ticker="MSFT", created_at=NOW,
                          deadline_seconds=60, retry=retry)
    assert "previous" not in plain.model_dump(mode="json")
    previous = PreviousMemo(job_id="p", ticker="MSFT", completed_at=NOW, verdict=Verdict.HOLD,
                            confidence=0.4, evidence_blob="MSFT/p/evidence.json")
    child = BatchChild(ticker="MSFT", job_id="j", previous=previous)
    assert "previous" not in BatchChild(ticker="MSFT", job_id="j").model_dump(mode="json")
    batch = BatchInput(batch_id="b", owner="o", created_at=NOW, children=[child], concurrency=1,
                       deadline_seconds=60, retry=retry)

    assert batch.child_input(child).previous == previous
    restored = AnalysisInput.model_validate(batch.child_input(child).model_dump(mode="json"))
    assert restored.previous == previous
    point_in_time = batch.model_copy(update={"as_of": date(2025, 6, 2)})
    assert point_in_time.child_input(child).previous is None


def test_a_previous_memo_whose_evidence_is_gone_gives_no_section(env: None) -> None:
    source = run_job("AMZN", NOW)
    previous = older_memo(source, 5, Verdict.BUY)
    ArtifactStore().delete(previous.evidence_blob)  # the retention sweep got there first

    second = run_job("AMZN", NOW + timedelta(minutes=1), previous=previous)

    assert "changes" not in evidence(second)
    assert "## Since the last memo" not in memo(second) and "previous_verdict" not in memo(second)
