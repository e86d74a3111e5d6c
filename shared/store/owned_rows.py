"""What every store of the `analyses` table shares: the client on first use, a point read of
one owner's row, and a change applied under the row's ETag (read, change, replace if nobody
wrote it meanwhile, else read again). The row kinds (`jobs.py`, `batches.py`,
`watchlists.py`) say how a row maps to its model and what may change; this says how to change
it safely.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.errors import StorageFailed
from shared.store.clients import analyses_table, storage_errors

CONFLICT_RETRIES = 8
M = TypeVar("M")


class OwnedRows:
    """One kind of row in the `analyses` table, PartitionKey the owner; `kind` names it in
    errors and traces ("batch", "watchlist")."""

    kind = "row"

    def __init__(self, table: TableClient | None = None) -> None:
        self._table = table

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = analyses_table()
        return self._table

    def entity(self, owner: str, row_key: str) -> TableEntity | None:
        with storage_errors(f"read {self.kind}"):
            try:
                return self.table.get_entity(owner, row_key)
            except ResourceNotFoundError:
                return None

    def replace(self, row: dict[str, Any], read: TableEntity) -> bool:
        """Write `row` over the entity `read`; False when it changed or went since."""
        with storage_errors(f"update {self.kind}"):
            try:
                self.table.update_entity(
                    row,
                    mode=UpdateMode.REPLACE,
                    etag=read.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                return False
        return True

    def changed(
        self,
        owner: str,
        row_key: str,
        label: str,
        load: Callable[[TableEntity], M],
        dump: Callable[[M], dict[str, Any]],
        change: Callable[[M], M | None],
    ) -> M | None:
        """Apply `change` to the row under its ETag; the model as it ends up, None when the row
        is not there. `change` returns the model as it should be, or None to leave it."""
        for _ in range(CONFLICT_RETRIES):
            entity = self.entity(owner, row_key)
            if entity is None:
                return None
            current = load(entity)
            updated = change(current)
            if updated is None:
                return current
            if self.replace(dump(updated), entity):
                return updated
        raise StorageFailed(f"{label} kept changing under concurrent updates")
