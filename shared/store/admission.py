"""Admitting a new analysis: the caller's hourly quota and Idempotency-Key, decided and written
in one table transaction together with the job row.

Rows in the owner's partition of the `analyses` table, next to the job rows (their keys are
`shared/store/rows.py`'s):
- the hour's quota row (UTC clock hour): `Count`, the jobs admitted in that hour.
- the key's idem row (sha256 of owner and key): `JobId` and `BodyHash` (sha256 of the
  canonical request), and `CreatedAt`.

A new job is one transaction: create the job row, create the idem row (insert-if-absent), and
create the quota row or replace it under its ETag. Storage applies all of it or none, so a
request that lost a race (someone wrote the idem or the quota row since it read them) has
changed nothing; it reads again and decides again: a replay of the winner's job, a refusal, or
another try. The count is exact under concurrency, a key names one job forever, a replay does
not count, and a refused request writes nothing.

The quota row this process wrote last is remembered (`QuotaMemo`: count and ETag), so the next
admission for that owner and hour goes straight to the transaction: one round trip, not two.
The ETag keeps that exact: if anyone has written the row since, the transaction fails, writes
nothing, and the row is read as before.
"""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableTransactionError, UpdateMode
from pydantic import BaseModel

from shared.domain.models import Job
from shared.errors import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    QuotaExceeded,
    StorageFailed,
)
from shared.store.clients import analyses_table, storage_errors
from shared.store.jobs import job_row
from shared.store.rows import idem_row_key, quota_row_key

MAX_KEY_CHARS = 200
# Each lost race means another request got in, so a few dozen tries cover any realistic burst.
_ATTEMPTS = 64
_BACKOFF_SECONDS = 0.01
_MEMO_ENTRIES = 4096


def check_idempotency_key(key: str) -> str:
    """The key as given, if it is 1-200 printable ASCII characters (not all blank); else
    InvalidIdempotencyKey."""
    if not key.strip() or len(key) > MAX_KEY_CHARS or not all(" " <= ch <= "~" for ch in key):
        raise InvalidIdempotencyKey(
            f"Idempotency-Key must be 1-{MAX_KEY_CHARS} printable ASCII characters",
            field="Idempotency-Key",
        )
    return key


@dataclass(frozen=True)
class IdempotencyClaim:
    """Which idem row a request claims, and the hash of the body it claims it with."""

    row_key: str
    body_hash: str

    @classmethod
    def of(cls, owner: str, key: str, request: BaseModel) -> IdempotencyClaim:
        canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True)
        return cls(idem_row_key(owner, key), hashlib.sha256(canonical.encode()).hexdigest())


def seconds_to_next_hour(at: datetime) -> int:
    start = at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return max(1, int((start + timedelta(hours=1) - at).total_seconds() + 0.999))


@dataclass(frozen=True)
class QuotaState:
    """A quota row as last seen: its count, and its ETag (None: the row does not exist)."""

    count: int
    etag: str | None


class QuotaMemo:
    """The quota rows this process last wrote, by (table, owner, hour); bounded, thread-safe.

    Only ever a guess: a transaction built on a stale entry fails on the ETag and writes nothing.
    """

    def __init__(self, entries: int = _MEMO_ENTRIES) -> None:
        self._entries = entries
        self._seen: OrderedDict[tuple[str, str, str], QuotaState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> QuotaState | None:
        with self._lock:
            return self._seen.get(key)

    def put(self, key: tuple[str, str, str], state: QuotaState) -> None:
        with self._lock:
            self._seen[key] = state
            self._seen.move_to_end(key)
            while len(self._seen) > self._entries:
                self._seen.popitem(last=False)

    def forget(self, key: tuple[str, str, str]) -> None:
        with self._lock:
            self._seen.pop(key, None)


QUOTA_MEMO = QuotaMemo()


@dataclass(frozen=True)
class Admitted:
    """The job a request answers with; `replay` when its Idempotency-Key already named one."""

    job_id: str
    replay: bool


class Admission:
    """Decides and records whether a caller may start a job (see the module docstring)."""

    def __init__(
        self,
        table: TableClient | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        memo: QuotaMemo = QUOTA_MEMO,
    ) -> None:
        self._table = table
        self._clock = clock
        self._memo = memo

    @property
    def table(self) -> TableClient:
        if self._table is None:
            self._table = analyses_table()
        return self._table

    def _get(self, owner: str, row_key: str) -> TableEntity | None:
        with storage_errors("read admission row"):
            try:
                return self.table.get_entity(owner, row_key)
            except ResourceNotFoundError:
                return None

    def replayed(self, owner: str, claim: IdempotencyClaim) -> str | None:
        """The job id an earlier request with this claim's key created, if any.

        Raises IdempotencyConflict when that request had a different body.
        """
        row = self._get(owner, claim.row_key)
        if row is None:
            return None
        if row.get("BodyHash") != claim.body_hash:
            raise IdempotencyConflict(
                "this Idempotency-Key was already used with a different body",
                field="Idempotency-Key",
            )
        return str(row["JobId"])

    def _quota(self, owner: str, quota_key: str) -> QuotaState:
        row = self._get(owner, quota_key)
        if row is None:
            return QuotaState(0, None)
        return QuotaState(int(row.get("Count") or 0), row.metadata["etag"])

    def admit(self, job: Job, claim: IdempotencyClaim | None, per_hour: int) -> Admitted:
        """Create `job` (a replay of the claim's job instead, if there is one) within quota."""
        return self.admit_rows(job.owner, job.id, [job_row(job)], 1, claim, per_hour)

    def admit_rows(
        self,
        owner: str,
        answer_id: str,
        rows: list[dict[str, Any]],
        count: int,
        claim: IdempotencyClaim | None,
        per_hour: int,
    ) -> Admitted:
        """Create `rows` as `count` analyses against the hour's quota, all or nothing; the
        claim's key then names `answer_id` (a job's or a batch's id).

        A batch of N jobs is its row plus N job rows, counted N: admitted whole while N fit in
        what is left of the hour, refused whole otherwise.
        """
        for attempt in range(_ATTEMPTS):
            if claim is not None:
                earlier = self.replayed(owner, claim)
                if earlier is not None:
                    return Admitted(earlier, replay=True)
            now = self._clock()
            quota_key = quota_row_key(now)
            memo_key = (self.table.url, owner, quota_key)
            # A remembered count near the limit is read again: a refusal must be certain.
            quota = self._memo.get(memo_key) if attempt == 0 else None
            guessed = quota is not None and quota.count + count <= per_hour
            if quota is None or not guessed:
                quota = self._quota(owner, quota_key)
            if quota.count + count > per_hour:
                left = max(0, per_hour - quota.count)
                asked = "" if count == 1 else f"; this request asks for {count} and {left} are left"
                raise QuotaExceeded(
                    f"{per_hour} analyses an hour is the limit{asked}; try again in the next hour",
                    retry_after=seconds_to_next_hour(now),
                )
            operations: list[Any] = [("create", row) for row in rows]
            counter = {"PartitionKey": owner, "RowKey": quota_key, "Count": quota.count + count}
            if quota.etag is None:
                operations.append(("create", counter))
            else:
                operations.append(
                    (
                        "update",
                        counter,
                        {
                            "mode": UpdateMode.REPLACE,
                            "etag": quota.etag,
                            "match_condition": MatchConditions.IfNotModified,
                        },
                    )
                )
            if claim is not None:
                operations.append(
                    (
                        "create",
                        {
                            "PartitionKey": owner,
                            "RowKey": claim.row_key,
                            "JobId": answer_id,
                            "BodyHash": claim.body_hash,
                            "CreatedAt": now,
                        },
                    )
                )
            with storage_errors("admit job"):
                try:
                    written = self.table.submit_transaction(operations)
                except TableTransactionError as exc:
                    self._memo.forget(memo_key)
                    if exc.status_code not in (409, 412):
                        raise
                    # Lost a race for the quota or idem row (or the memo was stale): nothing
                    # was written; read again.
                    if not guessed:
                        time.sleep(random.uniform(0, _BACKOFF_SECONDS * min(attempt + 1, 5)))
                    continue
            etag = written[len(rows)].get("etag")
            if etag:
                self._memo.put(memo_key, QuotaState(quota.count + count, str(etag)))
            return Admitted(answer_id, replay=False)
        raise StorageFailed("too many concurrent submissions; try again")
