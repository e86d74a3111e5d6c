"""Jobs and batches written straight into Azurite, for memos no writer would make: complete as
persist leaves them (memo and evidence blobs, then the completed job row and its report-log row
together), and as the batch orchestration leaves a batch (comparison and chart, then its row)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from shared.domain.batches import Batch, BatchItem
from shared.domain.evidence import NewsArticle, NewsResult, PriceSeries, QuantResult
from shared.domain.models import Grounding, Job, JobStatus, Stage, Verdict
from shared.render.memo import evidence_hash
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.artifacts import (
    ArtifactStore,
    comparison_blob,
    comparison_chart_blob,
    evidence_blob,
    memo_blob,
)
from shared.store.batches import batch_row
from shared.store.jobs import job_row
from shared.store.rows import ReportLogRow

OWNER = "anonymous"  # AUTH_MODE=none: every caller


def seed_completed_job(
    connection: str, ticker: str, memo: str, evidence: dict[str, Any], owner: str = OWNER
) -> str:
    """A completed job with this memo and evidence (its report-log entry too, so it is as
    complete as one persist completed); returns its id."""
    job_id = uuid.uuid4().hex
    tables = TableServiceClient.from_connection_string(connection)
    try:
        tables.create_table(ANALYSES_TABLE)
    except ResourceExistsError:
        pass
    blobs = BlobServiceClient.from_connection_string(connection)
    container = blobs.get_container_client(REPORTS_CONTAINER)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    store = ArtifactStore(container)
    store.write_once(memo_blob(ticker, job_id), memo.encode(), "text/markdown; charset=utf-8")
    store.write_once(evidence_blob(ticker, job_id), json.dumps(evidence).encode(),
                     "application/json; charset=utf-8")
    now = datetime.now(UTC)
    job = Job(
        id=job_id, owner=owner, ticker=ticker, status=JobStatus.COMPLETED,
        stage=Stage.COMPLETED, created_at=now - timedelta(seconds=5),
        started_at=now - timedelta(seconds=4), completed_at=now, verdict=Verdict.BUY,
        confidence=0.42, grounding=Grounding.UNGROUNDED,
    )
    log_entry = ReportLogRow(
        owner=owner, job_id=job_id, ticker=ticker, verdict=Verdict.BUY, confidence=0.42,
        grounding=Grounding.UNGROUNDED, completed_at=now,
        memo_blob=memo_blob(ticker, job_id), evidence_blob=evidence_blob(ticker, job_id),
        evidence_hash=evidence_hash({"quant": evidence["quant"], "news": evidence["news"]}),
    )
    # One transaction, as persist writes them: a completed job row never lacks its log entry.
    tables.get_table_client(ANALYSES_TABLE).submit_transaction(
        [("create", job_row(job)), ("create", log_entry.entity())]
    )
    return job_id


def evidence_with(symbol: str, articles: list[NewsArticle]) -> dict[str, Any]:
    """An evidence document shaped as persist writes it: quant with both series, and news."""
    days = [date(2026, 6, 1) + timedelta(days=i) for i in range(10)]
    quant = QuantResult(
        ticker=symbol, outcome="ok", market_source="test",
        ticker_series=PriceSeries(symbol=symbol, dates=days,
                                  closes=[20.0 + i for i in range(10)], source="test"),
        benchmark_series=PriceSeries(symbol="SPY", dates=days,
                                     closes=[400.0 - i for i in range(10)], source="test"),
    )
    news = NewsResult(provider="test", status="ok", articles=articles)
    return {"quant": quant.model_dump(mode="json", exclude={"note", "usage"}),
            "news": news.model_dump(mode="json")}


def follow(url: str, headers: dict[str, str], timeout: float = 90) -> dict[str, Any]:
    """Poll a job (quickly: this is the test, not the page) until it ends; `headers` carry
    the function key."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(url, headers=headers, timeout=10).json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return dict(job)
        time.sleep(0.1)
    raise AssertionError(f"{url} did not finish")


def seed_completed_batch(
    connection: str, items: list[BatchItem], comparison: str, chart_svg: str,
    owner: str = OWNER,
) -> str:
    """A completed batch with these items, this comparison memo and this chart, written as the
    batch orchestration leaves one (the blobs first, then the row); returns its id."""
    batch_id = uuid.uuid4().hex
    blobs = BlobServiceClient.from_connection_string(connection)
    container = blobs.get_container_client(REPORTS_CONTAINER)
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    store = ArtifactStore(container)
    store.write_once(comparison_blob(batch_id), comparison.encode(),
                     "text/markdown; charset=utf-8")
    store.write_once(comparison_chart_blob(batch_id), chart_svg.encode(),
                     "image/svg+xml; charset=utf-8")
    now = datetime.now(UTC)
    batch = Batch(
        id=batch_id, owner=owner, status=JobStatus.COMPLETED, created_at=now - timedelta(seconds=5),
        started_at=now - timedelta(seconds=4), completed_at=now, items=items,
        report_blob=comparison_blob(batch_id),
    )
    tables = TableServiceClient.from_connection_string(connection)
    try:
        tables.create_table(ANALYSES_TABLE)
    except ResourceExistsError:
        pass
    tables.get_table_client(ANALYSES_TABLE).create_entity(batch_row(batch))
    return batch_id
