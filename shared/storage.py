"""One Blob and one Table service client per process, built from settings.

Locally a connection string (Azurite); in Azure the identity-based service URIs with
DefaultAzureCredential, so no code path needs an account key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient

from shared.errors import ConfigurationError, StorageFailed
from shared.settings import (
    ANALYSES_TABLE,
    CACHE_CONTAINER,
    REPORTS_CONTAINER,
    Settings,
    get_settings,
)

T = TypeVar("T")
# Fail fast enough for a 503 while storage is down; Durable's retry policy retries activities.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "connection_timeout": 5, "read_timeout": 30}
_created: set[tuple[str, str]] = set()
_created_lock = threading.Lock()


@lru_cache(maxsize=4)
def _credential(client_id: str | None) -> Any:
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


def _service_uri(settings: Settings, service: str) -> str:
    explicit = settings.blob_service_uri if service == "blob" else settings.table_service_uri
    if explicit:
        return explicit
    if settings.storage_account_name:
        return f"https://{settings.storage_account_name}.{service}.core.windows.net"
    raise ConfigurationError(
        "storage is not configured: set AzureWebJobsStorage or AzureWebJobsStorage__accountName"
    )


@lru_cache(maxsize=4)
def _blob_service(
    connection: str | None, uri: str | None, client_id: str | None
) -> BlobServiceClient:
    if connection:
        return BlobServiceClient.from_connection_string(connection, **CLIENT_OPTIONS)
    return BlobServiceClient(str(uri), credential=_credential(client_id), **CLIENT_OPTIONS)


@lru_cache(maxsize=4)
def _table_service(
    connection: str | None, uri: str | None, client_id: str | None
) -> TableServiceClient:
    if connection:
        return TableServiceClient.from_connection_string(connection, **CLIENT_OPTIONS)
    return TableServiceClient(str(uri), credential=_credential(client_id), **CLIENT_OPTIONS)


def blob_service(settings: Settings | None = None) -> BlobServiceClient:
    s = settings or get_settings()
    uri = None if s.storage_connection_string else _service_uri(s, "blob")
    return _blob_service(s.storage_connection_string, uri, s.storage_client_id)


def table_service(settings: Settings | None = None) -> TableServiceClient:
    s = settings or get_settings()
    uri = None if s.storage_connection_string else _service_uri(s, "table")
    return _table_service(s.storage_connection_string, uri, s.storage_client_id)


def _ensure_once(kind: str, name: str, create: Callable[[], object]) -> None:
    key = (kind, name)
    if key in _created:
        return
    with _created_lock:
        if key in _created:
            return
        try:
            create()
        except ResourceExistsError:
            pass
        _created.add(key)


def reports_container() -> ContainerClient:
    """The private `reports` container (created on first use locally; by infra in Azure)."""
    container = blob_service().get_container_client(REPORTS_CONTAINER)
    with storage_errors("create reports container"):
        _ensure_once("container", REPORTS_CONTAINER, lambda: container.create_container())
    return container


def cache_container() -> ContainerClient:
    """The private `cache` container: the shared SPY snapshot and LLM answers."""
    container = blob_service().get_container_client(CACHE_CONTAINER)
    with storage_errors("create cache container"):
        _ensure_once("container", CACHE_CONTAINER, lambda: container.create_container())
    return container


def analyses_table() -> TableClient:
    table = table_service().get_table_client(ANALYSES_TABLE)
    with storage_errors("create analyses table"):
        _ensure_once("table", ANALYSES_TABLE, lambda: table.create_table())
    return table


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Map Azure SDK failures to StorageFailed, keeping the cause."""
    try:
        yield
    except AzureError as exc:
        raise StorageFailed(f"{action} failed: {type(exc).__name__}") from exc


def reset_storage_clients() -> None:
    """Forget cached clients and created resources (tests that swap storage call this)."""
    _blob_service.cache_clear()
    _table_service.cache_clear()
    _created.clear()
