"""The Durable extension's system key, created once and kept in blob storage.

Like the Functions host, the secrets live in container `azure-webjobs-secrets`, blob
`{host id}/host.json`, with the extension's key under `systemKeys` as `durabletask_extension`.
The host id is derived from the task hub, so a restarted host finds the same key.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings
from azure.storage.blob.aio import BlobServiceClient

from devhost.errors import StorageError

log = logging.getLogger(__name__)

SECRETS_CONTAINER = "azure-webjobs-secrets"
SYSTEM_KEY_NAME = "durabletask_extension"
_ATTEMPTS = 5


def host_id(hub: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]", "", hub.lower())
    return f"devhost-{cleaned}"[:32].rstrip("-")


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def _system_key(secrets_doc: dict[str, Any]) -> str | None:
    for entry in secrets_doc.get("systemKeys") or []:
        if entry.get("name") == SYSTEM_KEY_NAME and entry.get("value"):
            return str(entry["value"])
    return None


def _new_document(identity: str) -> dict[str, Any]:
    return {
        "masterKey": {"name": "master", "value": _new_key(), "encrypted": False},
        "functionKeys": [],
        "systemKeys": [],
        "hostName": "127.0.0.1",
        "instanceId": identity,
        "source": "runtime",
        "decryptionKeyId": "",
    }


async def load_or_create_system_key(blobs: BlobServiceClient, hub: str) -> str:
    """The task hub's system key: read it, or add it exactly once (etag-guarded)."""
    identity = host_id(hub)
    blob = blobs.get_blob_client(SECRETS_CONTAINER, f"{identity}/host.json")
    settings = ContentSettings(content_type="application/json")
    try:
        try:
            await blobs.create_container(SECRETS_CONTAINER)
        except ResourceExistsError:
            pass
        for _ in range(_ATTEMPTS):
            try:
                stream = await blob.download_blob()
                etag = stream.properties.etag
                document = json.loads(await stream.readall())
            except ResourceNotFoundError:
                etag, document = None, _new_document(identity)
            key = _system_key(document)
            if key:
                return key
            key = _new_key()
            document.setdefault("systemKeys", []).append(
                {"name": SYSTEM_KEY_NAME, "value": key, "encrypted": False}
            )
            data = json.dumps(document, indent=2).encode()
            try:
                if etag is None:
                    await blob.upload_blob(data, overwrite=False, content_settings=settings)
                else:
                    await blob.upload_blob(
                        data,
                        overwrite=True,
                        content_settings=settings,
                        etag=etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError):
                continue  # another host wrote first: read its key
            log.info("created the durabletask_extension system key for host id %s", identity)
            return key
    except AzureError as exc:
        raise StorageError(f"cannot read or create the system key: {exc}") from exc
    raise StorageError("the system key blob kept changing; giving up")
