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


class RssSampler:
    """Samples VmRSS of `pid` every `period` seconds on a thread; `peak(start, end)` per window."""

    def __init__(self, pid: int, period: float = 0.1) -> None:
        self.pid = pid
        self.period = period
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            value = rss_mib(self.pid)
            if value is not None:
                with self._lock:
                    self.samples.append((time.monotonic(), value))
            self._stop.wait(self.period)

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def peak(self, start: float, end: float) -> float | None:
        with self._lock:
            window = [value for at, value in self.samples if start <= at <= end]
        return round(max(window), 1) if window else None

    def last(self) -> float | None:
        with self._lock:
            return round(self.samples[-1][1], 1) if self.samples else None
