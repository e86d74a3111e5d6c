"""Checkpoints in the app's own Azure Storage account (Azurite locally).

- Table `DevHost{Hub}Instances`: one row per instance (PartitionKey = instance id, RowKey = ""),
  with `Name`, `RuntimeStatus`, `CreatedTime`, `LastUpdatedTime`. Rewritten when the runtime
  status changes; it is the index that finds the in-flight instances on start.
- Container `devhost-{hub}-history`: blob `{instance id}.json` holds the whole instance (status,
  input, output, custom status, history, the actions replay must reproduce, the work scheduled).
  Written after every episode, before the episode's new work is dispatched.
Writes go blob first, then row, so a row never claims a state that its blob does not hold.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import UpdateMode
from azure.data.tables.aio import TableServiceClient
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient

from devhost.errors import StorageError
from devhost.status import RuntimeStatus

log = logging.getLogger(__name__)

_JSON = ContentSettings(content_type="application/json")
_ACTIVE = f"RuntimeStatus eq '{RuntimeStatus.PENDING.value}' or " + (
    f"RuntimeStatus eq '{RuntimeStatus.RUNNING.value}'"
)


def table_name(hub: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9]", "", hub)
    return f"DevHost{cleaned}Instances"[:63]


def container_name(hub: str) -> str:
    cleaned = re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", hub.lower())).strip("-")
    return f"devhost-{cleaned}-history"[:63].rstrip("-")


@dataclass(frozen=True)
class Summary:
    instance_id: str
    name: str
    status: RuntimeStatus
    created: datetime
    updated: datetime


class CheckpointStore:
    """Async access to the instances table and history container of one task hub."""

    def __init__(self, connection_string: str, hub: str) -> None:
        self._connection_string = connection_string
        self.hub = hub
        self.table_name = table_name(hub)
        self.container_name = container_name(hub)
        self._blobs: BlobServiceClient | None = None
        self._tables: TableServiceClient | None = None
        self._table_client: Any = None
        self._container: Any = None

    @property
    def blob_service(self) -> BlobServiceClient:
        if self._blobs is None:
            raise StorageError("the checkpoint store is not open")
        return self._blobs

    async def open(self) -> None:
        # aiohttp re-reads proxy variables and ~/.netrc on every request when it trusts the
        # environment, which costs more than the request itself; only trust it if it has proxies.
        trust_env = bool(urllib.request.getproxies())
        try:
            self._blobs = BlobServiceClient.from_connection_string(
                self._connection_string, use_env_settings=trust_env
            )
            self._tables = TableServiceClient.from_connection_string(
                self._connection_string, use_env_settings=trust_env
            )
            self._table_client = self._tables.get_table_client(self.table_name)
            self._container = self._blobs.get_container_client(self.container_name)
        except (ValueError, AzureError) as exc:
            raise StorageError(f"AzureWebJobsStorage is not a usable connection: {exc}") from exc
        try:
            await self._tables.create_table_if_not_exists(self.table_name)
            try:
                await self._blobs.create_container(self.container_name)
            except ResourceExistsError:
                pass
        except AzureError as exc:
            await self.close()
            raise StorageError(f"cannot reach the storage account: {exc}") from exc

    async def close(self) -> None:
        for client in (self._blobs, self._tables):
            if client is not None:
                await client.close()
        self._blobs = self._tables = self._table_client = self._container = None

    def _table(self) -> Any:
        if self._table_client is None:
            raise StorageError("the checkpoint store is not open")
        return self._table_client

    def _blob(self, instance_id: str) -> Any:
        if self._container is None:
            raise StorageError("the checkpoint store is not open")
        return self._container.get_blob_client(f"{instance_id}.json")

    async def save(self, document: bytes, summary: Summary, status_changed: bool) -> None:
        try:
            await self._blob(summary.instance_id).upload_blob(
                document, overwrite=True, content_settings=_JSON
            )
            if status_changed:
                await self._write_row(summary)
        except AzureError as exc:
            raise StorageError(
                f"checkpoint of instance {summary.instance_id} failed: {exc}"
            ) from exc

    async def create(self, document: bytes, summary: Summary) -> bool:
        """Write a new instance's blob only if none exists (If-None-Match: *), then its row.
        False, with nothing written, when the id already has a blob."""
        try:
            await self._blob(summary.instance_id).upload_blob(
                document, overwrite=False, content_settings=_JSON
            )
        except ResourceExistsError:
            return False
        except AzureError as exc:
            raise StorageError(f"cannot create instance {summary.instance_id}: {exc}") from exc
        try:
            await self._write_row(summary)
        except AzureError as exc:
            try:  # leave the id free, as if nothing had happened
                await self._blob(summary.instance_id).delete_blob()
            except AzureError:
                log.warning("instance %s: half-created blob left behind", summary.instance_id)
            raise StorageError(f"cannot create instance {summary.instance_id}: {exc}") from exc
        return True

    async def _write_row(self, summary: Summary) -> None:
        await self._table().upsert_entity(
            {
                "PartitionKey": summary.instance_id,
                "RowKey": "",
                "Name": summary.name,
                "RuntimeStatus": summary.status.value,
                "CreatedTime": summary.created,
                "LastUpdatedTime": summary.updated,
            },
            mode=UpdateMode.REPLACE,
        )

    async def load(self, instance_id: str) -> dict[str, Any] | None:
        try:
            stream = await self._blob(instance_id).download_blob()
            data = await stream.readall()
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise StorageError(f"cannot read instance {instance_id}: {exc}") from exc
        document: dict[str, Any] = json.loads(data)
        return document

    async def active_ids(self) -> list[str]:
        """Instances whose row says Pending or Running."""
        try:
            rows = self._table().query_entities(_ACTIVE, select=["PartitionKey"])
            return [row["PartitionKey"] async for row in rows]
        except AzureError as exc:
            raise StorageError(f"cannot list in-flight instances: {exc}") from exc

    async def delete(self, instance_id: str) -> bool:
        """Remove blob and row; False when neither existed."""
        found = False
        try:
            try:
                await self._blob(instance_id).delete_blob()
                found = True
            except ResourceNotFoundError:
                pass
            try:
                await self._table().delete_entity(partition_key=instance_id, row_key="")
            except ResourceNotFoundError:
                pass
        except AzureError as exc:
            raise StorageError(f"cannot purge instance {instance_id}: {exc}") from exc
        return found

    async def save_with_retry(
        self, document: bytes, summary: Summary, status_changed: bool, attempts: int = 3
    ) -> bool:
        """`save`, retried with backoff; False (logged) if it never succeeded."""
        for attempt in range(1, attempts + 1):
            try:
                await self.save(document, summary, status_changed)
                return True
            except StorageError:
                if attempt == attempts:
                    log.exception("instance %s: checkpoint lost", summary.instance_id)
                    return False
                await asyncio.sleep(0.2 * attempt)
        return False
