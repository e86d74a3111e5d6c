"""Blobs of one job under `reports/{TICKER}/{id}/`: the memo, the evidence, and work files.

Every blob is written once: a second write of the same name keeps the first content and returns
it, so an activity that Durable runs again neither duplicates nor changes what is stored.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypeVar

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import (
    BlobSasPermissions,
    BlobServiceClient,
    ContainerClient,
    ContentSettings,
    generate_blob_sas,
)
from pydantic import BaseModel

from shared.domain.models import ReportLink
from shared.errors import ConfigurationError
from shared.store.clients import blob_service, reports_container, storage_errors

M = TypeVar("M", bound=BaseModel)


def job_prefix(ticker: str, job_id: str) -> str:
    return f"{ticker}/{job_id}"


def memo_blob(ticker: str, job_id: str) -> str:
    return f"{job_prefix(ticker, job_id)}/memo.md"


def evidence_blob(ticker: str, job_id: str) -> str:
    return f"{job_prefix(ticker, job_id)}/evidence.json"


def batch_prefix(batch_id: str) -> str:
    """A batch's own prefix: lower case, so no ticker's prefix can ever equal it."""
    return f"batches/{batch_id}"


def comparison_blob(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}/comparison.md"


def comparison_data_blob(batch_id: str) -> str:
    """The comparison's figures and its summary, as computed: the chart is drawn from it."""
    return f"{batch_prefix(batch_id)}/comparison.json"


def comparison_chart_blob(batch_id: str) -> str:
    return f"{batch_prefix(batch_id)}/chart.svg"


def work_blob(ticker: str, job_id: str, name: str) -> str:
    return f"{job_prefix(ticker, job_id)}/work/{name}.json"


class ArtifactStore:
    def __init__(
        self, container: ContainerClient | None = None, service: BlobServiceClient | None = None
    ) -> None:
        self._container = container
        self._service = service

    @property
    def container(self) -> ContainerClient:
        if self._container is None:
            self._container = reports_container()
        return self._container

    def write_once(self, name: str, data: bytes, content_type: str) -> bytes:
        """Store `data` unless `name` exists; return what is stored under `name`."""
        blob = self.container.get_blob_client(name)
        with storage_errors(f"write {name}"):
            try:
                blob.upload_blob(
                    data,
                    overwrite=False,
                    content_settings=ContentSettings(content_type=content_type),
                )
                return data
            except ResourceExistsError:
                return bytes(blob.download_blob().readall())

    def read(self, name: str) -> bytes | None:
        with storage_errors(f"read {name}"):
            try:
                return bytes(self.container.get_blob_client(name).download_blob().readall())
            except ResourceNotFoundError:
                return None

    def delete(self, name: str) -> None:
        """Remove `name` if it is there (the memo of a job that ended without completing)."""
        with storage_errors(f"delete {name}"):
            try:
                self.container.get_blob_client(name).delete_blob()
            except ResourceNotFoundError:
                pass

    def read_link(self, name: str, ttl: timedelta, *, delegated: bool) -> ReportLink:
        """A read-only URL for blob `name` alone, valid for `ttl` from now.

        `delegated` (identity-based storage): a user delegation SAS, signed with a key the
        app's identity asks for. Otherwise a service SAS signed with the account key of the
        client's own credential (the connection string's), never a key from a setting.
        """
        now = datetime.now(UTC).replace(microsecond=0)
        expiry = now + ttl
        blob = self.container.get_blob_client(name)
        # The container's account name: a blob client from it misreads IP-style endpoints.
        account = self.container.account_name or ""
        permission = BlobSasPermissions(read=True)
        protocol = "https" if blob.url.startswith("https://") else None
        if delegated:
            service = self._service or blob_service()
            with storage_errors("get a user delegation key"):
                key = service.get_user_delegation_key(now - timedelta(minutes=1), expiry)
            sas = generate_blob_sas(
                account, self.container.container_name, name,
                user_delegation_key=key, permission=permission, expiry=expiry, protocol=protocol,
            )
        else:
            account_key = getattr(self.container.credential, "account_key", None)
            if not account_key:
                raise ConfigurationError("storage has no account key to sign a report link")
            sas = generate_blob_sas(
                account, self.container.container_name, name,
                account_key=account_key, permission=permission, expiry=expiry, protocol=protocol,
            )
        return ReportLink(url=f"{blob.url}?{sas}", expires_at=expiry)

    def exists(self, name: str) -> bool:
        with storage_errors(f"check {name}"):
            return bool(self.container.get_blob_client(name).exists())

    def write_model_once(self, name: str, model: M) -> M:
        stored = self.write_once(
            name, model.model_dump_json().encode(), "application/json; charset=utf-8"
        )
        return type(model).model_validate_json(stored)

    def read_model(self, name: str, model_type: type[M]) -> M | None:
        data = self.read(name)
        return model_type.model_validate_json(data) if data is not None else None
