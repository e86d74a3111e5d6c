"""The real function app on the local host, against the session's Azurite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.store import table_name
from shared.settings import ANALYSES_TABLE, REPORTS_CONTAINER
from tests.app_env import APP, app_folder, app_settings

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoE2E"


@pytest.fixture(scope="module")
def app_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return app_folder(tmp_path_factory.mktemp("app"), HUB)


@pytest.fixture(scope="module")
def host(azurite: Azurite, app_root: Path) -> Iterator[DevHost]:
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, SIMULATED_LATENCY_MS="150"):
            with DevHost(APP, root=app_root, port=0) as running:
                yield running


class StorageCounts:
    """Instances, entities and blobs, counted directly in storage."""

    def __init__(self, connection: str) -> None:
        self.tables = TableServiceClient.from_connection_string(connection)
        self.blobs = BlobServiceClient.from_connection_string(connection)

    def _entities(self, table: str) -> int:
        client = self.tables.get_table_client(table)
        try:
            return sum(1 for _ in client.list_entities(select=["RowKey"]))
        except Exception:  # the table does not exist yet
            return 0

    def snapshot(self) -> dict[str, int]:
        container = self.blobs.get_container_client(REPORTS_CONTAINER)
        blobs = sum(1 for _ in container.list_blobs()) if container.exists() else 0
        return {
            "instances": self._entities(table_name(HUB)),
            "entities": self._entities(ANALYSES_TABLE),
            "blobs": blobs,
        }


@pytest.fixture(scope="module")
def counts(azurite: Azurite) -> StorageCounts:
    return StorageCounts(azurite.connection_string)
