"""Every log record at DEBUG, from every logger and thread, formatted with its traceback.

In the test's process the lines stay in memory (`Everything`); in a language worker they go to
`folder/<pid>.jsonl` as they come, one JSON string a line (`EverythingToFile`), where the test
reads them back with `lines_in(folder)`.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

FORMAT = "%(name)s %(levelname)s %(message)s"


class Everything(logging.Handler):
    """Keeps every record, formatted with its traceback, from every thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a record that cannot format is kept raw, never dropped
            line = f"{record.name} {record.msg!r} {record.args!r}"
        self.keep(line)

    def keep(self, line: str) -> None:
        self.lines.append(line)


class EverythingToFile(Everything):
    """Writes each line to this process's file at once (a worker may be stopped at any time)."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        folder.mkdir(parents=True, exist_ok=True)
        self._file = open(folder / f"{os.getpid()}.jsonl", "a", encoding="utf-8")

    def keep(self, line: str) -> None:
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()


def capture_root(handler: logging.Handler) -> None:
    """`handler` on the root logger, and the root logger at DEBUG."""
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)


@contextmanager
def capturing(handler: Everything) -> Iterator[Everything]:
    """`capture_root` for a block; the root logger as it was afterwards."""
    root = logging.getLogger()
    level = root.level
    capture_root(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines_in(folder: Path) -> list[str]:
    """Every line the processes writing under `folder` kept."""
    return [
        json.loads(line)
        for path in sorted(folder.glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
