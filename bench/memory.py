"""Resident memory of a process, read from /proc (Linux): sampled, with peaks per window."""

from __future__ import annotations

import threading
import time
from pathlib import Path


def _status_kib(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def rss_mib(pid: int) -> float | None:
    kib = _status_kib(pid, "VmRSS")
    return None if kib is None else kib / 1024


def high_water_mib(pid: int) -> float | None:
    """VmHWM: the peak resident set since the process started (kept by the kernel)."""
    kib = _status_kib(pid, "VmHWM")
    return None if kib is None else kib / 1024


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (its activity workers), from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def _total(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


class RssSampler:
    """Samples VmRSS of `pid` and of the processes below it every `period` seconds on a thread.

    `peak(start, end)`: the highest sum in a window (pages shared between the processes count
    in each); `peak_of_root(start, end)`: `pid` alone. The process tree is re-read every second.
    """

    TREE_SECONDS = 1.0

    def __init__(self, pid: int, period: float = 0.1) -> None:
        self.pid = pid
        self.period = period
        self.samples: list[tuple[float, float, float]] = []  # (monotonic, tree, root) MiB
        self.processes = 1
        self._below: list[int] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        read_tree = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= read_tree:
                self._below = descendants(self.pid)
                read_tree = time.monotonic() + self.TREE_SECONDS
            root = rss_mib(self.pid)
            tree = _total([root, *map(rss_mib, self._below)])
            if root is not None and tree is not None:
                with self._lock:
                    self.samples.append((time.monotonic(), tree, root))
                    self.processes = max(self.processes, 1 + len(self._below))
            self._stop.wait(self.period)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, start: float, end: float) -> float | None:
        return self._peak(start, end, 1)

    def peak_of_root(self, start: float, end: float) -> float | None:
        return self._peak(start, end, 2)

    def _peak(self, start: float, end: float, column: int) -> float | None:
        with self._lock:
            window = [sample[column] for sample in self.samples if start <= sample[0] <= end]
        return round(max(window), 1) if window else None

    def last(self) -> float | None:
        with self._lock:
            return round(self.samples[-1][1], 1) if self.samples else None

    def high_water(self) -> float | None:
        """VmHWM summed over the processes now running (each one's own peak, so an upper bound
        of the tree's peak)."""
        return _total([high_water_mib(pid) for pid in [self.pid, *descendants(self.pid)]])
