"""The `analyses` table's watchlist rows: one per watchlist, `watch_{name}` in its owner's
partition, holding its tickers, schedule, webhook URL and secret, and its last runs (JSON).

The secret is a secret: it is read only by the delivery activity and shown only in the answer
that creates the watchlist. Every change is read, merged and replaced under the row's ETag, so a
PUT replacing the watchlist and its orchestration recording a run never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
)
from pydantic import TypeAdapter

from shared.domain.watchlists import Watchlist, WatchRun
from shared.errors import StorageFailed
from shared.store.clients import storage_errors
from shared.store.jobs import as_utc, clean
from shared.store.owned_rows import CONFLICT_RETRIES, OwnedRows
from shared.store.rows import watch_row_key, watch_rows

_RUNS = TypeAdapter(list[WatchRun])


def watchlist_row(watchlist: Watchlist) -> dict[str, Any]:
    return clean(
        {
            "PartitionKey": watchlist.owner,
            "RowKey": watch_row_key(watchlist.name),
            "Name": watchlist.name,
            "Tickers": ",".join(watchlist.tickers),
            "Schedule": watchlist.schedule,
            "WebhookUrl": watchlist.webhook_url,
            "WebhookSecret": watchlist.webhook_secret,
            "BaseUrl": watchlist.base_url,
            "CreatedAt": watchlist.created_at,
            "UpdatedAt": watchlist.updated_at,
            "Runs": _RUNS.dump_json(watchlist.runs, exclude_none=True).decode(),
        }
    )


def watchlist_from_entity(entity: dict[str, Any]) -> Watchlist:
    created = as_utc(entity["CreatedAt"])
    updated = as_utc(entity.get("UpdatedAt")) or created
    assert created is not None and updated is not None
    return Watchlist(
        owner=entity["PartitionKey"],
        name=entity["Name"],
        tickers=[t for t in str(entity.get("Tickers") or "").split(",") if t],
        schedule=entity["Schedule"],
        webhook_url=entity.get("WebhookUrl") or None,
        webhook_secret=entity.get("WebhookSecret") or None,
        base_url=entity.get("BaseUrl") or "",
        created_at=created,
        updated_at=updated,
        runs=_RUNS.validate_json(entity.get("Runs") or "[]"),
    )


Change = Callable[[Watchlist], Watchlist | None]


class WatchlistStore(OwnedRows):
    kind = "watchlist"

    def get(self, owner: str, name: str) -> Watchlist | None:
        entity = self.entity(owner, watch_row_key(name))
        return watchlist_from_entity(entity) if entity else None

    def put(self, new: Watchlist) -> tuple[Watchlist, bool]:
        """Create the watchlist, or replace the one of that name keeping its secret, creation
        time and runs; the watchlist as stored and whether this created it."""
        for _ in range(CONFLICT_RETRIES):
            entity = self.entity(new.owner, watch_row_key(new.name))
            if entity is None:
                with storage_errors("write watchlist"):
                    try:
                        self.table.create_entity(watchlist_row(new))
                    except ResourceExistsError:
                        continue
                return new, True
            current = watchlist_from_entity(entity)
            kept = new.model_copy(
                update={
                    "webhook_secret": current.webhook_secret or new.webhook_secret,
                    "created_at": current.created_at,
                    "runs": current.runs,
                }
            )
            if self.replace(watchlist_row(kept), entity):
                return kept, False
        raise StorageFailed(f"watchlist {new.name} kept changing under concurrent updates")

    def change(self, owner: str, name: str, change: Change) -> Watchlist | None:
        """Apply `change` under the row's ETag; None when the watchlist is gone."""
        return self.changed(
            owner, watch_row_key(name), f"watchlist {name}",
            watchlist_from_entity, watchlist_row, change,
        )

    def delete(self, owner: str, name: str) -> Watchlist | None:
        """Remove the watchlist; it as it was, or None when there was none."""
        for _ in range(CONFLICT_RETRIES):
            entity = self.entity(owner, watch_row_key(name))
            if entity is None:
                return None
            with storage_errors("delete watchlist"):
                try:
                    self.table.delete_entity(
                        owner,
                        watch_row_key(name),
                        etag=entity.metadata["etag"],
                        match_condition=MatchConditions.IfNotModified,
                    )
                except ResourceModifiedError:
                    continue
            return watchlist_from_entity(entity)
        raise StorageFailed(f"watchlist {name} kept changing under concurrent updates")

    def all(self, owner: str) -> list[Watchlist]:
        """That owner's watchlists by name."""
        rows = watch_rows()
        with storage_errors("list watchlists"):
            entities = self.table.query_entities(
                "PartitionKey eq @owner and RowKey ge @lo and RowKey lt @hi",
                parameters={"owner": owner, "lo": rows.lo, "hi": rows.hi},
            )
            found = [watchlist_from_entity(e) for e in entities]
        return sorted(found, key=lambda w: w.name)

