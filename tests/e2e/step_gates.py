"""Gates on one step of one ticker, shared by a test and the app running in the host's workers.

The test arms a gate (`arm`); the app runs the step through `through`: for an armed step and
ticker it says it entered, waits until the test opens the gate (GATE_SECONDS at most), runs the
real step, keeps its result and says it left. Unarmed steps just run. Everything lives on a
`tests.control.Board`, so both sides see it across processes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.control import Board

GATE_SECONDS = 30.0


def _key(step: str, ticker: str) -> str:
    return f"{step}-{ticker}"


class StepGates:
    def __init__(self, board: Board) -> None:
        self.board = board

    # ---- the test's side --------------------------------------------------------------------

    def arm(self, step: str, ticker: str) -> None:
        self.board.put(f"armed-{_key(step, ticker)}", True)

    def open(self, step: str, ticker: str) -> None:
        self.board.open_gate(_key(step, ticker))

    def entered(self, step: str, ticker: str) -> bool:
        return bool(self.board.get(f"entered-{_key(step, ticker)}", False))

    def left(self, step: str, ticker: str) -> bool:
        return bool(self.board.get(f"left-{_key(step, ticker)}", False))

    def result(self, step: str, ticker: str) -> dict[str, Any] | None:
        found = self.board.get(f"result-{_key(step, ticker)}")
        return dict(found) if found is not None else None

    # ---- the app's side ---------------------------------------------------------------------

    def through(
        self, step: str, ticker: str, run: Callable[[], Mapping[str, Any]]
    ) -> dict[str, Any]:
        key = _key(step, ticker)
        if not self.board.get(f"armed-{key}", False):
            return dict(run())
        self.board.put(f"entered-{key}", True)
        self.board.wait_gate(key, GATE_SECONDS)
        try:
            result = dict(run())
            self.board.put(f"result-{key}", result)
            return result
        finally:
            self.board.put(f"left-{key}", True)
