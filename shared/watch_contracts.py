"""What crosses the watchlist orchestration's history: its carried state, the event it waits
for, and its three activities' inputs and outputs. Small by design (rule 4): tickers, secret and
runs stay on the watchlist row; the state carried by `continue_as_new` is a few ids.

Beside `shared/contracts.py` rather than in it, so a change here can only break watchlist
instances in flight.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from shared.contracts import BatchInput, RetryPolicy
from shared.domain.watchlists import RunStatus, Trigger


class WatchState(BaseModel):
    """The input of every generation of a watchlist's orchestration."""

    owner: str
    name: str
    schedule: str
    generation: int = Field(default=0, ge=0)
    last_batch_id: str | None = None
    retry: RetryPolicy


class WatchSignal(BaseModel):
    """The payload of the `watchlist` event: run now, take a new schedule, or stop."""

    action: Literal["run_now", "update", "stop"]
    schedule: str | None = None  # with `update`


class AdmitRun(BaseModel):
    owner: str
    name: str
    run_id: str  # 32 hex, from context.new_uuid(): also the batch's id
    trigger: Trigger
    at: datetime


class AdmittedRun(BaseModel):
    outcome: Literal["admitted", "skipped", "gone"]
    batch: BatchInput | None = None
    reason: str | None = None


class RecordRun(BaseModel):
    owner: str
    name: str
    run_id: str
    status: RunStatus
    at: datetime
    reason: str | None = None


class RecordedRun(BaseModel):
    notify: bool  # a completed run of a watchlist with a webhook


class NotifyRun(BaseModel):
    owner: str
    name: str
    run_id: str


class NotifiedRun(BaseModel):
    delivered: bool
    attempts: int
    stopped: bool = False
