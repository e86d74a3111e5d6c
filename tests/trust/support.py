"""What the trust tests share: a host per module, keyed HTTP calls, polling, and a direct view
of storage.

The app runs in the host's language-worker processes, which take their settings from this
process's environment when the host starts; its routes want the host's function key. The direct
view reads Azurite with its own clients (never through the app or a proxy), so what it reports
is what storage really holds.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.host import HOST_STORAGE_SETTING, DevHost
from devhost.store import table_name
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER, reset_settings
from shared.store.artifacts import memo_blob
from shared.store.clients import reset_storage_clients
from tests.app_env import APP, app_folder, app_settings, key_header
from tests.control import CONTROL_SETTING, Board

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = ("completed", "failed", "cancelled")


make_app_root = app_folder


@contextmanager
def running_host(
    root: Path,
    app_storage: str | None,
    host_storage: str,
    *,
    app: str = APP,
    board: Board | None = None,
    **settings: str,
) -> Iterator[DevHost]:
    """The function app (`app`, module:attribute: the real one unless a test wraps it) on the
    local host. The app's storage and the host's checkpoints are separate connections
    (DEVHOST_STORAGE), so a proxy can sit before the app's only; `app_storage=None` leaves
    AzureWebJobsStorage unset (identity-based storage settings). A wrapper app finds `board`
    through TEST_CONTROL_DIR."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HOST_STORAGE_SETTING, host_storage)
        if board is not None:
            patch.setenv(CONTROL_SETTING, str(board.folder))
        with app_settings(patch, app_storage or "", **settings):
            if app_storage is None:
                patch.delenv("AzureWebJobsStorage")
                reset_settings()
                reset_storage_clients()
            with DevHost(app, root=root, port=0) as host:
                yield host


def submit(host: DevHost, ticker: str) -> requests.Response:
    return requests.post(
        f"{host.base_url}/api/analyses", json={"ticker": ticker}, headers=key_header(host),
        timeout=30,
    )


def get(host: DevHost, url: str) -> requests.Response:
    """GET one of the app's function-level routes, with the function key."""
    return requests.get(url, headers=key_header(host), timeout=30)


def follow(host: DevHost, url: str, timeout: float = 60) -> dict[str, Any]:
    """Poll a job through the public API until it ends; the last view."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        answer = get(host, url)
        if answer.status_code == 200:
            job = answer.json()
            if job["status"] in TERMINAL:
                return job
        time.sleep(0.05)
    raise AssertionError(f"{url} did not finish: last seen {job}")


def durable_status(host: DevHost, job_id: str) -> dict[str, Any]:
    """The instance as the host's management API shows it, history included."""
    answer = requests.get(
        f"{host.webhook_base}/instances/{job_id}",
        params={"showHistory": "true", "code": host.system_key},
        timeout=10,
    )
    assert answer.status_code in (200, 202), answer.text
    status: dict[str, Any] = answer.json()
    return status


def function_events(status: dict[str, Any], name: str, kind: str) -> int:
    """How many history events of `kind` (TaskFailed, TaskCompleted…) concern function `name`."""
    return sum(
        1
        for e in status.get("historyEvents") or []
        if e.get("EventType") == kind and (e.get("FunctionName") or e.get("Name")) == name
    )


def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class StorageView:
    """Job rows, report-log entries, blobs and host instances, read directly from Azurite."""

    def __init__(self, connection: str, hub: str) -> None:
        self.hub = hub
        self.tables = TableServiceClient.from_connection_string(connection)
        self.blobs = BlobServiceClient.from_connection_string(connection)

    def _rows(self, table: str, query: str | None = None, **parameters: Any) -> list[Any]:
        client = self.tables.get_table_client(table)
        try:
            if query is None:
                return list(client.list_entities())
            return list(client.query_entities(query, parameters=parameters))
        except ResourceNotFoundError:
            return []

    def instances(self) -> dict[str, str]:
        """Instance id → runtime status, from the host's own table."""
        return {r["PartitionKey"]: r["RuntimeStatus"] for r in self._rows(table_name(self.hub))}

    def analyses_rows(self) -> list[Any]:
        return self._rows(ANALYSES_TABLE)

    def job_row(self, job_id: str, owner: str = "anonymous") -> Any | None:
        rows = self._rows(
            ANALYSES_TABLE, "PartitionKey eq @o and RowKey eq @r", o=owner, r=f"job_{job_id}"
        )
        return rows[0] if rows else None

    def log_entries(self, job_id: str) -> list[Any]:
        return [
            r
            for r in self._rows(ANALYSES_TABLE, "JobId eq @id", id=job_id)
            if str(r["RowKey"]).startswith("log_")
        ]

    def blob_names(self, prefix: str = "") -> list[str]:
        container = self.blobs.get_container_client(REPORTS_CONTAINER)
        if not container.exists():
            return []
        return sorted(b.name for b in container.list_blobs(name_starts_with=prefix))

    def memo(self, ticker: str, job_id: str) -> bytes | None:
        blob = self.blobs.get_blob_client(REPORTS_CONTAINER, memo_blob(ticker, job_id))
        try:
            return bytes(blob.download_blob().readall())
        except ResourceNotFoundError:
            return None

    def assert_no_false_success(self) -> int:
        """Every job row that says completed has its memo blob and exactly one log entry."""
        completed = [r for r in self.analyses_rows()
                     if str(r["RowKey"]).startswith("job_") and r["Status"] == "completed"]
        for row in completed:
            assert self.memo(row["Ticker"], row["JobId"]), f"{row['JobId']}: no memo"
            entries = self.log_entries(row["JobId"])
            assert len(entries) == 1, f"{row['JobId']}: {len(entries)} log entries"
            assert entries[0]["MemoBlob"] == memo_blob(row["Ticker"], row["JobId"])
        return len(completed)
