"""The memo a watchlist run's memo is compared with: the owner's latest completed live memo of a
ticker (issue 17, item 4), and its stored evidence.

Read from the owner's job rows, not the report-log rows: a log row does not say whether its memo
was point in time, the job row holds `AsOf`. A point-in-time (or backtest) memo is never the
previous memo.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from azure.data.tables import TableClient

from shared.contracts import PreviousMemo
from shared.domain.changes import ChangeSet, compute_changes
from shared.domain.evidence import NewsResult, QuantResult
from shared.domain.models import JobStatus
from shared.errors import StorageFailed
from shared.store.artifacts import ArtifactStore, evidence_blob
from shared.store.clients import analyses_table, storage_errors
from shared.store.jobs import job_from_entity
from shared.store.rows import job_rows

log = logging.getLogger(__name__)


def latest_live_memo(
    owner: str, ticker: str, *, table: TableClient | None = None
) -> PreviousMemo | None:
    """The owner's latest COMPLETED job of `ticker` without `as_of`, or None."""
    query = (
        f"PartitionKey eq @owner and {job_rows().filter} and Ticker eq @ticker "
        "and Status eq @status"
    )
    parameters = {"owner": owner, "ticker": ticker, "status": JobStatus.COMPLETED.value}
    with storage_errors("find the previous memo"):
        entities = list(
            (table or analyses_table()).query_entities(query, parameters=parameters)
        )
    live = [
        job
        for job in map(job_from_entity, entities)
        if job.as_of is None
        and job.completed_at is not None
        and job.verdict is not None
        and job.confidence is not None
    ]
    if not live:
        return None
    job = max(live, key=lambda j: (j.completed_at, j.id))
    assert job.completed_at is not None and job.verdict is not None
    assert job.confidence is not None
    return PreviousMemo(
        job_id=job.id,
        ticker=job.ticker,
        completed_at=job.completed_at,
        verdict=job.verdict,
        confidence=job.confidence,
        evidence_blob=evidence_blob(job.ticker, job.id),
    )


def load_previous_evidence(
    artifacts: ArtifactStore, previous: PreviousMemo
) -> dict[str, Any] | None:
    """The previous memo's stored evidence.json; None when it is gone (the retention sweep
    deletes a memo's blobs before its job row), so the memo is written without the comparison
    rather than failing for a memo that is no longer there."""
    raw = artifacts.read(previous.evidence_blob)
    if raw is None:
        log.warning(
            "previous memo %s: its evidence %s is gone; no comparison",
            previous.job_id, previous.evidence_blob,
        )
        return None
    document = json.loads(raw)
    if not isinstance(document, dict):
        raise StorageFailed(f"previous evidence {previous.evidence_blob} is not an object")
    return document


def changes_since(
    artifacts: ArtifactStore, previous: PreviousMemo, quant: QuantResult, news: NewsResult
) -> ChangeSet | None:
    """What changed from `previous` to this evidence, before this memo's decision (the
    strategist reads it; persist adds the decision with `ChangeSet.decided`); None when the
    previous memo's evidence is gone."""
    document = load_previous_evidence(artifacts, previous)
    if document is None:
        return None
    return compute_changes(
        document,
        quant,
        news,
        (previous.verdict, previous.confidence),
        previous_job_id=previous.job_id,
        previous_completed_at=previous.completed_at,
    )
