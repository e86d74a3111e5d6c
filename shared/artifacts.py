"""Blobs of one job under `reports/{TICKER}/{id}/`: the memo, the evidence, and work files.

Every blob is written once: a second write of the same name keeps the first content and returns
it, so an activity that Durable runs again neither duplicates nor changes what is stored.
"""

from __future__ import annotations

from typing import TypeVar

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings
from pydantic import BaseModel

from shared.storage import reports_container, storage_errors

M = TypeVar("M", bound=BaseModel)


def job_prefix(ticker: str, job_id: str) -> str:
    return f"{ticker}/{job_id}"


def memo_blob(ticker: str, job_id: str) -> str:
    return f"{job_prefix(ticker, job_id)}/memo.md"


def evidence_blob(ticker: str, job_id: str) -> str:
    return f"{job_prefix(ticker, job_id)}/evidence.json"


def work_blob(ticker: str, job_id: str, name: str) -> str:
    return f"{job_prefix(ticker, job_id)}/work/{name}.json"


class ArtifactStore:
    def __init__(self, container: ContainerClient | None = None) -> None:
        self._container = container

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
