"""The retention sweep runs on its own schedule under devhost: its timer fires through the
runtime, and an expired job disappears with its history, blobs and rows, while a fresh one
stays. No test calls `sweep()` here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from azure.data.tables import TableServiceClient, UpdateMode
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from shared.store.artifacts import job_prefix
from shared.store.rows import job_row_key
from tests.app_env import APP, app_folder, app_settings, keyed
from tests.devhost.helpers import wait_until

HUB = "StockMemoRetention"
OWNER = "anonymous"


@pytest.fixture(scope="module")
def host(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    root: Path = app_folder(tmp_path_factory.mktemp("retention"), HUB)
    with pytest.MonkeyPatch.context() as patch:
        # Every second, keeping one day: the timer, not the test, runs the sweep.
        with app_settings(patch, azurite.connection_string,
                          RETENTION_CRON="* * * * * *", RETENTION_DAYS="1"):
            with DevHost(APP, root=root, port=0) as running:
                yield running


def _completed_job(host: DevHost) -> dict:
    api = keyed(host)
    accepted = api.post(f"{host.base_url}/api/analyses", json={"ticker": "MSFT"}, timeout=30)
    assert accepted.status_code == 202, accepted.text
    url = accepted.json()["statusQueryGetUri"]
    job: dict = wait_until(
        lambda: (j := api.get(url, timeout=30).json())["status"] == "completed" and j,
        timeout=60, what="the job to complete",
    )
    return job


def test_an_expired_job_is_swept_by_the_timer(host: DevHost, azurite: Azurite) -> None:
    old, fresh = _completed_job(host), _completed_job(host)
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.get_container_client(REPORTS_CONTAINER)
    assert list(container.list_blobs(name_starts_with=f"{job_prefix('MSFT', old['id'])}/"))
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    jobs = tables.get_table_client(ANALYSES_TABLE)
    jobs.update_entity(
        {"PartitionKey": OWNER, "RowKey": job_row_key(old["id"]),
         "CreatedAt": datetime.now(UTC) - timedelta(days=3)},
        mode=UpdateMode.MERGE,
    )
    api = keyed(host)
    wait_until(
        lambda: api.get(f"{host.base_url}/api/analyses/{old['id']}", timeout=30).status_code
        == 404,
        timeout=30, what="the sweep to remove the expired job",
    )
    assert not list(container.list_blobs(name_starts_with=f"{job_prefix('MSFT', old['id'])}/"))
    history = requests.get(
        f"{host.webhook_base}/instances/{old['id']}", params={"code": host.system_key},
        timeout=30,
    )
    assert history.status_code == 404  # its Durable history was purged too
    kept = api.get(f"{host.base_url}/api/analyses/{fresh['id']}", timeout=30)
    assert kept.status_code == 200 and kept.json()["status"] == "completed"
    assert list(container.list_blobs(name_starts_with=f"{job_prefix('MSFT', fresh['id'])}/"))
