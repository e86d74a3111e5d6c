"""One Blob and one Table service client per process, built from settings.

Locally a connection string (Azurite); in Azure the identity-based service URIs
(`AzureWebJobsStorage__blobServiceUri` / `__tableServiceUri`, or `__accountName`) with one
DefaultAzureCredential per process (`__clientId` picks a user-assigned managed identity), so no
code path needs an account key. A connection string, when set, wins.

`set_credential_factory` replaces how that credential is built: tests use it to hand the
clients a static token for Azurite's OAuth mode.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient, LinearRetry

from shared import telemetry
from shared.errors import ConfigurationError, StorageFailed
from shared.settings import (
    ANALYSES_TABLE,
    CACHE_CONTAINER,
    PRICES_CONTAINER,
    REPORTS_CONTAINER,
    Settings,
    get_settings,
)

T = TypeVar("T")
CredentialFactory = Callable[[str | None], TokenCredential]
# Fail fast enough for a 503 while storage is down: two quick retries, then the error (Durable's
# retry policy retries activities). Blob's default policy would sleep 15 s and 18 s in between,
# so a call to an unreachable account took over half a minute to fail.
CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 2, "connection_timeout": 5, "read_timeout": 30}
TABLE_OPTIONS: dict[str, Any] = {**CLIENT_OPTIONS, "retry_backoff_factor": 0.5}  # 0 s, 1 s


def _blob_options() -> dict[str, Any]:
    retry = LinearRetry(backoff=1, random_jitter_range=1, retry_total=CLIENT_OPTIONS["retry_total"])
    return {**CLIENT_OPTIONS, "retry_policy": retry}  # sleeps of 0-2 s


_created: set[tuple[str, str]] = set()
_created_lock = threading.Lock()


def default_credential(client_id: str | None) -> TokenCredential:
    """DefaultAzureCredential; `client_id` selects a user-assigned managed identity."""
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(managed_identity_client_id=client_id)


_credential_factory: CredentialFactory = default_credential
_credentials: dict[str | None, TokenCredential] = {}
_credentials_lock = threading.Lock()


def _credential(client_id: str | None) -> TokenCredential:
    """One credential per managed-identity client id per process, built by the factory."""
    with _credentials_lock:
        credential = _credentials.get(client_id)
        if credential is None:
            credential = _credentials[client_id] = _credential_factory(client_id)
        return credential


def set_credential_factory(factory: CredentialFactory | None) -> None:
    """Build identity credentials with `factory` from now on (None: DefaultAzureCredential).

    For tests (a static token against Azurite's OAuth mode); cached clients are forgotten.
    """
    global _credential_factory
    _credential_factory = factory or default_credential
    reset_storage_clients()


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
        return BlobServiceClient.from_connection_string(connection, **_blob_options())
    return BlobServiceClient(str(uri), credential=_credential(client_id), **_blob_options())


@lru_cache(maxsize=4)
def _table_service(
    connection: str | None, uri: str | None, client_id: str | None
) -> TableServiceClient:
    if connection:
        return TableServiceClient.from_connection_string(connection, **TABLE_OPTIONS)
    return TableServiceClient(str(uri), credential=_credential(client_id), **TABLE_OPTIONS)


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


def prices_container() -> ContainerClient:
    """The private `prices` container: the point-in-time price store (`shared/store/prices.py`)."""
    container = blob_service().get_container_client(PRICES_CONTAINER)
    with storage_errors("create prices container"):
        _ensure_once("container", PRICES_CONTAINER, lambda: container.create_container())
    return container


def analyses_table() -> TableClient:
    table = table_service().get_table_client(ANALYSES_TABLE)
    with storage_errors("create analyses table"):
        _ensure_once("table", ANALYSES_TABLE, lambda: table.create_table())
    return table


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Map Azure SDK failures to StorageFailed, keeping the cause; the operation is traced as
    `storage <verb>` (shared.telemetry), failed ones with outcome `storage_failed`."""
    with telemetry.storage_span(action):
        try:
            yield
        except AzureError as exc:
            raise StorageFailed(f"{action} failed: {type(exc).__name__}") from exc


def reset_storage_clients() -> None:
    """Forget cached clients and created resources (tests that swap storage call this)."""
    _blob_service.cache_clear()
    _table_service.cache_clear()
    _created.clear()
    with _credentials_lock:
        _credentials.clear()
