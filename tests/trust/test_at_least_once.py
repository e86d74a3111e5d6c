"""At-least-once delivery: every registered activity, run twice with the same input, changes
nothing the second time (no new or changed blob, entity or model call), and answers the same.

The activities are taken from the app's own function index (`app.get_functions()`, what the
Python runtime indexes), so one added later without a case here fails the coverage check. They
are called here, in the test's process, with the payload the runtime would hand them: what is
under test is what a second delivery does to storage and to the model, not the host. The model
path runs against the LLM and Firecrawl stand-ins, so the response-cache blobs are part of what
must not change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from shared import names
from shared.agents.llm.client import reset_llm_clients
from shared.contracts import (
    BatchChild,
    BatchUpdate,
    CompareInput,
    DecisionSummary,
    FailJob,
    MarketRequest,
    MarketSummary,
    MemoInput,
    NewsRequest,
    NewsSummary,
    PersistInput,
    QuantInput,
    QuantSummary,
    StageUpdate,
)
from shared.domain.batches import Batch, BatchItem
from shared.domain.models import Job, JobError, JobStatus, Stage
from shared.domain.watchlists import Watchlist
from shared.settings import ANALYSES_TABLE, CACHE_CONTAINER, REPORTS_CONTAINER, reset_settings
from shared.store.batches import BatchStore, batch_row
from shared.store.jobs import JobStore
from shared.store.watchlists import WatchlistStore
from shared.watch_contracts import AdmitRun, NotifyRun, RecordRun
from tests.app_env import app_settings
from tests.standins.firecrawl_server import FirecrawlStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.trust.agents import agents, long_articles

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
OWNER = "anonymous"


@dataclass(frozen=True)
class Activity:
    input_arg: str
    call: Callable[..., Any]


def registered_activities() -> dict[str, Activity]:
    """The real app's activities by the names callers use (the function's, and its trigger's
    own name for it when that differs)."""
    import function_app

    found: dict[str, Activity] = {}
    for function in function_app.app.get_functions():
        trigger = function.get_trigger()
        if trigger.type == "activityTrigger":
            activity = Activity(trigger.name, function.get_user_function())
            for name in {function.get_function_name(), getattr(trigger, "activity", None)}:
                if name:
                    found[name] = activity
    return found


class Twice:
    """Runs activities by their registered name, each twice, checking the second run."""

    def __init__(self, connection: str, llm: OpenAIStandIn) -> None:
        self.activities = registered_activities()
        self.blobs = BlobServiceClient.from_connection_string(connection)
        self.tables = TableServiceClient.from_connection_string(connection)
        self.llm = llm
        self.ran: set[str] = set()

    def state(self) -> dict[str, Any]:
        """Every blob with its ETag (a rewrite changes it, even with the same bytes), every
        entity's properties, and the model calls made."""
        blobs: dict[str, str] = {}
        for container in (REPORTS_CONTAINER, CACHE_CONTAINER):
            client = self.blobs.get_container_client(container)
            if client.exists():
                blobs.update({f"{container}/{b.name}": b.etag for b in client.list_blobs()})
        try:
            rows = self.tables.get_table_client(ANALYSES_TABLE).list_entities()
            entities = {(e["PartitionKey"], e["RowKey"]): dict(e) for e in rows}
        except ResourceNotFoundError:
            entities = {}
        return {"blobs": blobs, "entities": entities, "llm_calls": len(self.llm.requests)}

    def run(self, name: str, payload: dict[str, Any]) -> Any:
        activity = self.activities[name]
        first = activity.call(**{activity.input_arg: payload})
        before = self.state()
        second = activity.call(**{activity.input_arg: payload})
        after = self.state()
        assert second == first, f"{name}: a second run answered differently"
        assert after["blobs"].keys() == before["blobs"].keys(), f"{name}: blobs added"
        assert after["blobs"] == before["blobs"], f"{name}: a blob was written again"
        assert after["entities"] == before["entities"], f"{name}: an entity added or changed"
        assert after["llm_calls"] == before["llm_calls"], f"{name}: the model was called again"
        self.ran.add(name)
        return first


@pytest.fixture
def twice(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Iterator[Twice]:
    with OpenAIStandIn(default=agents) as llm, FirecrawlStandIn() as firecrawl:
        firecrawl.results(*long_articles(count=2, chars=600))
        extra = {
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": llm.api_key,
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_MODEL": f"gpt-twice-{uuid.uuid4().hex[:8]}",
            "NEWS_PROVIDER": "firecrawl",
            "FIRECRAWL_API_KEY": "fc-twice-test",
            "FIRECRAWL_API_URL": firecrawl.url,
        }
        with app_settings(monkeypatch, azurite.connection_string, **extra):
            reset_llm_clients()
            yield Twice(azurite.connection_string, llm)
            reset_llm_clients()


def new_job(ticker: str) -> Job:
    job = Job(id=uuid.uuid4().hex, owner=OWNER, ticker=ticker, status=JobStatus.QUEUED,
              stage=Stage.QUEUED, created_at=NOW)
    JobStore().create(job)
    return job


def stage(job: Job, at_stage: Stage, minutes: int) -> dict[str, Any]:
    return StageUpdate(job_id=job.id, owner=OWNER, status=JobStatus.RUNNING, stage=at_stage,
                       at=NOW + timedelta(minutes=minutes)).model_dump(mode="json")


def test_every_activity_twice_changes_nothing(
    twice: Twice, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = new_job("TWICE")
    twice.run(names.SET_JOB_STAGE, stage(job, Stage.GATHERING_EVIDENCE, 1))

    def market(symbol: str) -> MarketSummary:
        request = MarketRequest(job_id=job.id, ticker=job.ticker, symbol=symbol)
        return MarketSummary.model_validate(
            twice.run(names.FETCH_MARKET_DATA, request.model_dump(mode="json"))
        )

    subject, benchmark = market(job.ticker), market("SPY")
    news = NewsSummary.model_validate(twice.run(
        names.RESEARCH_NEWS,
        NewsRequest(job_id=job.id, ticker=job.ticker).model_dump(mode="json"),
    ))
    assert subject.artifact and benchmark.artifact and news.article_count == 2
    quant = QuantSummary.model_validate(twice.run(
        names.RUN_QUANT_ANALYST,
        QuantInput(job_id=job.id, ticker=job.ticker, subject_artifact=subject.artifact,
                   benchmark_artifact=benchmark.artifact).model_dump(mode="json"),
    ))
    assert quant.artifact
    twice.run(names.SET_JOB_STAGE, stage(job, Stage.WRITING_MEMO, 2))
    decision = DecisionSummary.model_validate(twice.run(
        names.WRITE_MEMO,
        MemoInput(job_id=job.id, owner=OWNER, ticker=job.ticker, quant_artifact=quant.artifact,
                  news_artifact=news.artifact).model_dump(mode="json"),
    ))
    twice.run(names.SET_JOB_STAGE, stage(job, Stage.PERSISTING, 3))
    persisted = twice.run(
        names.PERSIST_REPORT,
        PersistInput(job_id=job.id, owner=OWNER, ticker=job.ticker, created_at=NOW,
                     completed_at=NOW + timedelta(minutes=4), quant_artifact=quant.artifact,
                     news_artifact=news.artifact,
                     decision_artifact=decision.artifact).model_dump(mode="json"),
    )
    assert persisted["job_status"] == "completed"
    assert len(twice.llm.requests) == 2  # one call per agent, over both runs of everything

    other = new_job("TWICEF")
    twice.run(names.SET_JOB_STAGE, stage(other, Stage.GATHERING_EVIDENCE, 1))
    failure = FailJob(
        job_id=other.id, owner=OWNER, at=NOW + timedelta(minutes=2),
        error=JobError(code="storage_failed", message="down", stage=Stage.GATHERING_EVIDENCE),
    )
    assert twice.run(names.FAIL_JOB, failure.model_dump(mode="json")) == {
        "status": "failed", "stage": "failed"}
    # A late stage update, run twice, still leaves the failed job as it is.
    assert twice.run(names.SET_JOB_STAGE, stage(other, Stage.WRITING_MEMO, 3)) == {
        "status": "failed", "stage": "failed"}

    # A batch of the two: it starts, both children end, the comparison is stored.
    batch = Batch(
        id=uuid.uuid4().hex, owner=OWNER, status=JobStatus.QUEUED, created_at=NOW,
        items=[BatchItem(ticker=j.ticker, id=j.id, status=JobStatus.QUEUED) for j in (job, other)],
    )
    BatchStore().table.create_entity(batch_row(batch))

    def update(minutes: int, **change: Any) -> dict[str, Any]:
        request = BatchUpdate(batch_id=batch.id, owner=OWNER, at=NOW + timedelta(minutes=minutes),
                              **change)
        return dict(twice.run(names.UPDATE_BATCH, request.model_dump(mode="json")))

    assert update(5) == {"status": "running"}
    for ended in (job, other):
        child = BatchChild(ticker=ended.ticker, job_id=ended.id)
        assert update(6, child=child) == {"status": "running"}
    compared = twice.run(names.COMPARE_BATCH, CompareInput(
        batch_id=batch.id, owner=OWNER, created_at=NOW,
    ).model_dump(mode="json"))
    assert compared == {"status": "completed", "report_blob": f"batches/{batch.id}/comparison.md"}
    assert len(twice.llm.requests) == 3  # and one for the Portfolio Strategist

    watchlist_twice(twice, monkeypatch)

    assert twice.ran == set(twice.activities), "an activity has no at-least-once case"


def watchlist_twice(twice: Twice, monkeypatch: pytest.MonkeyPatch) -> None:
    """A watchlist run: admitted (its batch and children once), recorded, and delivered once
    to a loopback receiver; each activity's second run changes nothing and delivers nothing."""
    from tests.e2e.test_watchlists import Receiver

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK_HTTP", "true")
    reset_settings()
    receiver = Receiver()
    try:
        name = f"twice-{uuid.uuid4().hex[:8]}"
        WatchlistStore().put(Watchlist(
            owner=OWNER, name=name, tickers=["TWA", "TWB"], schedule="0 0 9 * * *",
            webhook_url=receiver.url("/ok"), webhook_secret="s3cret", base_url="http://x",
            created_at=NOW, updated_at=NOW,
        ))
        run_id = uuid.uuid4().hex
        admitted = twice.run(names.ADMIT_WATCH_RUN, AdmitRun(
            owner=OWNER, name=name, run_id=run_id, trigger="schedule", at=NOW,
        ).model_dump(mode="json"))
        assert admitted["outcome"] == "admitted" and admitted["batch"]["batch_id"] == run_id
        assert twice.run(names.RECORD_WATCH_RUN, RecordRun(
            owner=OWNER, name=name, run_id=run_id, status="completed", at=NOW,
        ).model_dump(mode="json")) == {"notify": True}
        notified = twice.run(
            names.NOTIFY_WATCH_RUN,
            NotifyRun(owner=OWNER, name=name, run_id=run_id).model_dump(mode="json"),
        )
        assert notified == {"delivered": True, "attempts": 1, "stopped": False}
        assert len(receiver.to("/ok")) == 1
    finally:
        receiver.close()
