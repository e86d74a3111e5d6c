"""The app's storage seen directly (not through the host): when jobs end, and what each job left
behind. Whether their Durable instances finished is the Durable HTTP API's to say
(`bench.client.unfinished_instances`)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.rows import job_rows, log_rows

TERMINAL = frozenset({"completed", "failed", "cancelled"})
JOB_ROWS = job_rows().filter
LOG_ROWS = log_rows().filter
# A poll asks for rows changed since the previous poll began, minus this much: writes in
# flight while that poll ran are read again rather than missed.
OVERLAP = timedelta(seconds=5)


def changed_since(since: datetime) -> str:
    return f"{JOB_ROWS} and Timestamp ge datetime'{since.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}'"


class JobWatcher:
    """Polls the `analyses` table every `period` s and notes when each job is first seen
    terminal (time.monotonic()), with its status. Reads storage, so the host is not loaded;
    after the first poll only the job rows changed since the last one, so a poll costs the
    same after 600 jobs as after 6 (a full scan every 0.25 s grew with the run and queued the
    POSTs being measured behind it at Azurite)."""

    def __init__(self, connection: str, period: float = 0.25) -> None:
        self.period = period
        self._table = TableServiceClient.from_connection_string(connection).get_table_client(
            ANALYSES_TABLE
        )
        self.ended: dict[str, tuple[float, str]] = {}
        self._since: datetime | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-watcher", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.period)

    def poll(self) -> None:
        began = datetime.now(UTC)
        query = JOB_ROWS if self._since is None else changed_since(self._since)
        try:
            rows = list(self._table.query_entities(query, select=["JobId", "Status"]))
        except Exception:  # the table may not exist before the first job; try again
            return
        self._since = began - OVERLAP
        now = time.monotonic()
        with self._lock:
            for row in rows:
                if row["Status"] in TERMINAL and row["JobId"] not in self.ended:
                    self.ended[row["JobId"]] = (now, row["Status"])

    def ended_at(self, job_id: str) -> float | None:
        with self._lock:
            found = self.ended.get(job_id)
        return found[0] if found else None

    def status(self, job_id: str) -> str | None:
        with self._lock:
            found = self.ended.get(job_id)
        return found[1] if found else None

    def wait(self, job_ids: Iterable[str], timeout: float) -> bool:
        """True when every job ended within `timeout` seconds."""
        pending = set(job_ids)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                pending -= self.ended.keys()
            if not pending:
                return True
            time.sleep(self.period)
        return False

    def start(self) -> JobWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@dataclass
class Audit:
    """What storage holds for the accepted job ids, job by job, and what no POST accounts for."""

    status: dict[str, str | None] = field(default_factory=dict)  # None: no job row
    log_entries: dict[str, int] = field(default_factory=dict)
    memos: dict[str, int] = field(default_factory=dict)
    active_instances: set[str] = field(default_factory=set)
    unknown_job_rows: int = 0  # rows no POST answered with: a second job for one POST

    def level(self, job_ids: Iterable[str]) -> dict[str, Any]:
        ids = list(job_ids)
        statuses = [self.status.get(i) for i in ids]
        several_logs = sum(1 for i in ids if self.log_entries.get(i, 0) > 1)
        several_memos = sum(1 for i in ids if self.memos.get(i, 0) > 1)
        non_terminal = sum(1 for s in statuses if s is not None and s not in TERMINAL)
        running = sum(1 for i in ids if i in self.active_instances)
        return {
            "accepted": len(ids),
            "statuses": dict(Counter(str(s) for s in statuses)),
            "duplicated": several_logs + several_memos,
            "stuck": non_terminal + running,
            "detail": {
                "missing_job_rows": statuses.count(None),
                "jobs_with_several_log_entries": several_logs,
                "jobs_with_several_memos": several_memos,
                "completed_without_memo": sum(
                    1 for i, s in zip(ids, statuses, strict=True)
                    if s == "completed" and self.memos.get(i, 0) == 0
                ),
                "non_terminal_job_rows": non_terminal,
                "running_or_pending_instances": running,
            },
        }


def audit(connection: str, accepted: Iterable[str], unfinished: set[str]) -> Audit:
    """`unfinished`: the accepted jobs whose instances are still Pending or Running."""
    ids = set(accepted)
    tables = TableServiceClient.from_connection_string(connection)
    analyses = tables.get_table_client(ANALYSES_TABLE)
    jobs = list(analyses.query_entities(JOB_ROWS, select=["JobId", "Status"]))
    logs = Counter(
        row["JobId"] for row in analyses.query_entities(LOG_ROWS, select=["JobId"])
    )
    blobs = BlobServiceClient.from_connection_string(connection)
    memos = Counter(
        blob.name.split("/")[1]
        for blob in blobs.get_container_client(REPORTS_CONTAINER).list_blobs()
        if blob.name.endswith("/memo.md")
    )
    status: dict[str, str | None] = dict.fromkeys(ids)
    for row in jobs:
        if row["JobId"] in ids:
            status[row["JobId"]] = row["Status"]
    return Audit(
        status=status,
        log_entries={i: logs[i] for i in ids},
        memos={i: memos[i] for i in ids},
        active_instances=unfinished & ids,
        unknown_job_rows=sum(1 for row in jobs if row["JobId"] not in ids),
    )
