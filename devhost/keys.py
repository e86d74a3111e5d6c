"""The host's keys: the master key, the default function key and the Durable extension's
system key, each created once and kept in blob storage.

Like the Functions host, the secrets live in container `azure-webjobs-secrets`, blob
`{host id}/host.json`: `masterKey`, `functionKeys` (host-level, `default`) and `systemKeys`
(`durabletask_extension`). The host id is derived from the task hub, so a restarted host finds
the same keys.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from dataclasses import dataclass
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
DEFAULT_FUNCTION_KEY = "default"
_ATTEMPTS = 5


@dataclass(frozen=True)
class HostKeys:
    master: str
    function_keys: dict[str, str]
    system_keys: dict[str, str]

    @property
    def system_key(self) -> str:
        return self.system_keys[SYSTEM_KEY_NAME]

    @property
    def all_keys(self) -> list[str]:
        return [self.master, *self.function_keys.values(), *self.system_keys.values()]

    @property
    def extension_keys(self) -> list[str]:
        """What the extension's webhook routes accept: its system key or the master key."""
        return [self.system_key, self.master]

    def listing(self) -> dict[str, Any]:
        """As `az functionapp keys list` prints them."""
        return {
            "functionKeys": dict(self.function_keys),
            "masterKey": self.master,
            "systemKeys": dict(self.system_keys),
        }


def host_id(hub: str) -> str:
    cleaned = re.sub(r"[^a-z0-9-]", "", hub.lower())
    return f"devhost-{cleaned}"[:32].rstrip("-")


def _new_key() -> str:
    return secrets.token_urlsafe(40)


def _named(entries: Any) -> dict[str, str]:
    return {
        str(e["name"]): str(e["value"])
        for e in entries or []
        if isinstance(e, dict) and e.get("name") and e.get("value")
    }


def _read_keys(document: dict[str, Any]) -> HostKeys | None:
    """The keys in a secrets document, or None while one of ours is missing."""
    master = (document.get("masterKey") or {}).get("value")
    functions = _named(document.get("functionKeys"))
    systems = _named(document.get("systemKeys"))
    if not master or DEFAULT_FUNCTION_KEY not in functions or SYSTEM_KEY_NAME not in systems:
        return None
    return HostKeys(str(master), functions, systems)


def _complete(document: dict[str, Any]) -> None:
    """Add whichever of the master, default and system keys the document lacks."""
    if not (document.get("masterKey") or {}).get("value"):
        document["masterKey"] = {"name": "master", "value": _new_key(), "encrypted": False}
    for section, name in (("functionKeys", DEFAULT_FUNCTION_KEY), ("systemKeys", SYSTEM_KEY_NAME)):
        entries = document.setdefault(section, [])
        if name not in _named(entries):
            entries.append({"name": name, "value": _new_key(), "encrypted": False})


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


async def load_or_create_keys(blobs: BlobServiceClient, hub: str) -> HostKeys:
    """The task hub's keys: read them, or add the missing ones exactly once (etag-guarded)."""
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
            keys = _read_keys(document)
            if keys is not None:
                return keys
            _complete(document)
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
                continue  # another host wrote first: read its keys
            log.info("created the host keys for host id %s", identity)
            keys = _read_keys(document)
            assert keys is not None
            return keys
    except AzureError as exc:
        raise StorageError(f"cannot read or create the host keys: {exc}") from exc
    raise StorageError("the host keys blob kept changing; giving up")
