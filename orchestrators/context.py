"""What every orchestrator here reads from its context the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
from pydantic import BaseModel


def now(context: df.DurableOrchestrationContext) -> datetime:
    """The replay-safe current time, always timezone-aware (UTC)."""
    current = context.current_utc_datetime
    return current if current.tzinfo else current.replace(tzinfo=UTC)


def as_output(output: BaseModel) -> dict[str, Any]:
    """An orchestration's output as JSON, fields that do not apply left out."""
    return output.model_dump(mode="json", exclude_none=True)
