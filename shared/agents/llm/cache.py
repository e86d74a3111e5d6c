"""The response cache: one blob per distinct model request, so a request is paid for once.

Key: SHA-256 of the canonical JSON of (cache format, provider, model or deployment, messages,
output schema, temperature). Value: `llm/{key}.json` in the private `cache` container, holding
the parsed output and the usage of the call that produced it. An activity that Durable runs
again therefore makes no second call, and the same evidence gives the same memo.

The cache is an optimisation, never a reason to fail: a read or write that fails is logged and
the call goes on as a miss.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings
from pydantic import BaseModel, ValidationError

from shared.errors import StockMemoError
from shared.store.clients import cache_container

log = logging.getLogger(__name__)


CACHE_PREFIX = "llm"
# Bump when the stored shape or the meaning of a key changes: old entries are then ignored.
CACHE_FORMAT = 1


class CachedCompletion(BaseModel):
    """One stored answer: the parsed output and the usage of the call that paid for it."""

    key: str
    purpose: str
    model: str
    output: dict[str, Any]
    prompt_tokens: int
    completion_tokens: int


def cache_key(
    *,
    provider: str,
    model: str,
    messages: list[dict[str, str]],
    schema: dict[str, Any],
    temperature: float,
) -> str:
    """SHA-256 hex of the canonical JSON of everything that shapes the model's answer."""
    payload = {
        "format": CACHE_FORMAT,
        "provider": provider,
        "model": model,
        "messages": messages,
        "schema": schema,
        "temperature": temperature,
    }
    canonical = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def cache_blob(key: str) -> str:
    return f"{CACHE_PREFIX}/{key}.json"


class ResponseCache:
    """Blob-backed cache of model answers; `container` defaults to `cache` from settings."""

    def __init__(self, container: ContainerClient | None = None) -> None:
        self._container = container

    @property
    def container(self) -> ContainerClient:
        if self._container is None:
            self._container = cache_container()
        return self._container

    def get(self, key: str) -> CachedCompletion | None:
        """The stored answer for `key`, or None on a miss or when the cache cannot be read."""
        try:
            data = self.container.get_blob_client(cache_blob(key)).download_blob().readall()
        except ResourceNotFoundError:
            return None
        except (AzureError, StockMemoError) as exc:
            log.warning(
                "llm cache: read of %s failed (%s); calling the model", key, type(exc).__name__
            )
            return None
        try:
            entry = CachedCompletion.model_validate_json(data)
        except ValidationError:
            log.warning("llm cache: entry %s is unreadable; calling the model", key)
            return None
        return entry if entry.key == key else None

    def put(self, entry: CachedCompletion) -> None:
        """Store `entry` once; an existing entry wins, and a failure is logged, not raised."""
        try:
            self.container.get_blob_client(cache_blob(entry.key)).upload_blob(
                entry.model_dump_json().encode("utf-8"),
                overwrite=False,
                content_settings=ContentSettings(content_type="application/json; charset=utf-8"),
            )
        except ResourceExistsError:
            pass  # a concurrent run stored the same request first: same key, same meaning
        except (AzureError, StockMemoError) as exc:
            log.warning(
                "llm cache: write of %s failed (%s); continuing", entry.key, type(exc).__name__
            )
