"""Steering and observing a test app that runs in other processes.

The host runs every function in its language-worker processes, never in the test's process, so
a test and its app share state through a folder: the test points `TEST_CONTROL_DIR` at it
before the host starts (workers inherit the environment), and both sides open a `Board` there.
Every operation is a file operation that is atomic on a local file system: counters take the
next free `O_EXCL` file, records are files of their own, gates and values are written whole
and renamed into place.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any

CONTROL_SETTING = "TEST_CONTROL_DIR"
POLL_SECONDS = 0.01
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _name(key: str) -> str:
    return _SAFE.sub("_", key)


class Board:
    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    @classmethod
    def from_environment(cls) -> Board:
        folder = os.environ.get(CONTROL_SETTING)
        if not folder:
            raise RuntimeError(f"{CONTROL_SETTING} is not set: the test must set it")
        return cls(folder)

    def _dir(self, kind: str, key: str) -> Path:
        path = self.folder / kind / _name(key)
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- counters --------------------------------------------------------------------------

    def increment(self, key: str) -> int:
        """Add one to `key` and return the new count (each call gets a distinct number)."""
        folder = self._dir("count", key)
        number = len(os.listdir(folder)) + 1
        while True:
            try:
                os.close(os.open(folder / str(number), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
                return number
            except FileExistsError:
                number += 1

    def count(self, key: str) -> int:
        return len(os.listdir(self._dir("count", key)))

    # ---- records ---------------------------------------------------------------------------

    def record(self, key: str, value: Any) -> None:
        """Append `value` (JSON) to the list under `key`."""
        folder = self._dir("record", key)
        stamp = f"{time.time_ns():020d}-{uuid.uuid4().hex}"
        self._write(folder / stamp, value)

    def records(self, key: str) -> list[Any]:
        """What was recorded under `key`, oldest first."""
        folder = self._dir("record", key)
        return [json.loads((folder / n).read_text()) for n in sorted(os.listdir(folder))]

    # ---- values and gates ------------------------------------------------------------------

    def put(self, key: str, value: Any) -> None:
        self._write(self._dir("value", "all") / _name(key), value)

    def get(self, key: str, default: Any = None) -> Any:
        path = self._dir("value", "all") / _name(key)
        return json.loads(path.read_text()) if path.exists() else default

    def open_gate(self, key: str) -> None:
        self.put(f"gate-{key}", True)

    def wait_gate(self, key: str, timeout: float) -> bool:
        """True once the test opened gate `key`; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not self.get(f"gate-{key}", False):
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL_SECONDS)
        return True

    def barrier(self, key: str, parties: int, timeout: float) -> None:
        """Return only when `parties` callers have reached it (in any process)."""
        self.increment(f"barrier-{key}")
        deadline = time.monotonic() + timeout
        while self.count(f"barrier-{key}") < parties:
            if time.monotonic() > deadline:
                raise TimeoutError(f"barrier {key}: fewer than {parties} callers arrived")
            time.sleep(POLL_SECONDS)

    @staticmethod
    def _write(path: Path, value: Any) -> None:
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
        temporary.write_text(json.dumps(value))
        os.replace(temporary, path)
