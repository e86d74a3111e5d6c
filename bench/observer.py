"""What the host did, as it told the bench: the bench's `devhost.observe.Observer`.

The host calls it on its event loop thread; the bench reads it from its own, so everything is
kept under a lock. A checkpoint that records a terminal status marks when its instance finished.
"""

from __future__ import annotations

import threading

from devhost.observe import Checkpoint, Invocation, Kind, Observer, Replay

TERMINAL = frozenset({"Completed", "Failed", "Terminated"})


class Recorder(Observer):
    def __init__(self) -> None:
        self._invocations: list[Invocation] = []
        self._replays: list[Replay] = []
        self._checkpoints: list[Checkpoint] = []
        self._finished: dict[str, float] = {}
        self._lock = threading.Lock()

    def invoked(self, invocation: Invocation) -> None:
        with self._lock:
            self._invocations.append(invocation)

    def replayed(self, replay: Replay) -> None:
        with self._lock:
            self._replays.append(replay)

    def checkpointed(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self._checkpoints.append(checkpoint)
            if checkpoint.runtime_status in TERMINAL:
                ended = checkpoint.started + checkpoint.seconds
                self._finished.setdefault(checkpoint.instance_id, ended)

    def invocations(self, instance_id: str, kind: Kind = "activity") -> list[Invocation]:
        with self._lock:
            return [
                i for i in self._invocations if i.instance_id == instance_id and i.kind == kind
            ]

    def replays(self, instance_id: str) -> list[Replay]:
        with self._lock:
            return [r for r in self._replays if r.instance_id == instance_id]

    def checkpoints(self, instance_id: str) -> list[Checkpoint]:
        with self._lock:
            return [c for c in self._checkpoints if c.instance_id == instance_id]

    def finished_at(self, instance_id: str) -> float | None:
        """When the checkpoint that recorded the instance's end was written."""
        with self._lock:
            return self._finished.get(instance_id)
