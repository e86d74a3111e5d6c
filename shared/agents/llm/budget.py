"""LLM_TOKEN_BUDGET: what one job may spend on model calls, checked before every call.

A job's spend is the prompt and completion tokens the API reported for the calls it paid for
(cache hits cost nothing): the Quant Analyst's calls travel on `QuantResult.usage`, so the
Investment Strategist starts from them, and regenerations count like first calls.

Before a call the client estimates its cost without a tokenizer (no files to download): the
characters of the messages and of the output schema over four, rounded up, plus the
`max_completion_tokens` the call may use. A call whose estimate would take the spend past the
budget is refused with `BudgetExceeded` and nothing is sent. The estimate depends only on the
call's input, so an activity that Durable retries is refused again, still before spending.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from shared.domain.models import Usage
from shared.errors import BudgetExceeded

CHARS_PER_TOKEN = 4


def usage_tokens(usage: Usage) -> int:
    return usage.prompt_tokens + usage.completion_tokens


def estimate_tokens(
    messages: Iterable[Mapping[str, Any]], max_tokens: int, schema: Mapping[str, Any] | None = None
) -> int:
    """The most a call can cost: its prompt (characters / 4) plus `max_tokens` of answer."""
    chars = sum(len(str(m.get("content") or "")) for m in messages)
    if schema is not None:
        chars += len(json.dumps(schema, separators=(",", ":")))
    return math.ceil(chars / CHARS_PER_TOKEN) + max_tokens


class TokenBudget:
    """The tokens one job may still spend: `limit` minus what its earlier calls cost."""

    def __init__(self, limit: int, *spent: Usage) -> None:
        self.limit = limit
        self.spent = sum(usage_tokens(u) for u in spent)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.spent)

    def check(self, estimate: int, what: str) -> None:
        """Raise BudgetExceeded unless a call costing up to `estimate` tokens still fits."""
        if self.spent + estimate > self.limit:
            raise BudgetExceeded(
                f"{what}: needs up to {estimate} tokens but {self.remaining} of "
                f"LLM_TOKEN_BUDGET={self.limit} are left; not called"
            )

    def charge(self, usage: Usage) -> None:
        """Count what a call actually cost (nothing for a cache hit)."""
        self.spent += usage_tokens(usage)
