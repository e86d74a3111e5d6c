"""What the harness app and its tests share, on a `tests.control.Board`: each job's script,
the attempts each scripted step took, and the payload of every activity call.

The app runs in the host's language-worker processes; the test writes the scripts and reads
the attempts and calls through the same Board folder.
"""

from __future__ import annotations

from typing import Any

from tests.control import Board

STEPS = ("subject", "benchmark", "news", "quant", "memo", "persist")
OK = "ok"


class Scripted:
    def __init__(self, board: Board) -> None:
        self.board = board

    def script(self, job_id: str, **steps: str) -> None:
        """steps: subject|benchmark|news|quant|memo|persist =
        ok|fail|fail_twice|keyerror|unknown|slow:<seconds>: `fail` raises the step's provider
        error (MarketDataUnavailable, LlmFailed, ...), `keyerror` a KeyError, as a bug would."""
        unknown = set(steps) - set(STEPS)
        if unknown:
            raise ValueError(f"no such scripted steps: {sorted(unknown)}")
        self.board.put(f"script-{job_id}", steps)

    def behaviour(self, job_id: str, step: str) -> str:
        steps: dict[str, str] = self.board.get(f"script-{job_id}", {})
        return steps.get(step, OK)

    def attempt(self, job_id: str, step: str) -> int:
        """Count one more attempt at `step` and return its number (1 for the first)."""
        return self.board.increment(f"attempts-{job_id}-{step}")

    def attempts(self, job_id: str, step: str) -> int:
        return self.board.count(f"attempts-{job_id}-{step}")

    def record_call(self, activity: str, payload: dict[str, Any]) -> None:
        self.board.record(f"calls-{payload['job_id']}-{activity}", payload)

    def calls(self, job_id: str, activity: str) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = self.board.records(f"calls-{job_id}-{activity}")
        return calls
