"""CPU seconds per thread group of this process, from /proc/self/task (Linux)."""

from __future__ import annotations

import os
import re
import threading
from collections import defaultdict
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_NUMBERED = re.compile(r"[_-]?\d+(?:_\d+)?(?: \(.*\))?$")


def _cpu(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def process_cpu() -> float:
    return _cpu(Path("/proc/self/stat"))


def group(name: str) -> str:
    """`devhost-activity_3` -> `devhost-activity`; stdlib `Thread-7 (...)` -> `Thread`."""
    return _NUMBERED.sub("", name) or name


def by_group() -> dict[str, float]:
    """CPU seconds of each live thread group (threads that ended are only in the process
    total)."""
    names = {t.native_id: group(t.name) for t in threading.enumerate() if t.native_id}
    totals: dict[str, float] = defaultdict(float)
    for task in Path("/proc/self/task").iterdir():
        try:
            seconds = _cpu(task / "stat")
        except (OSError, ValueError, IndexError):
            continue
        totals[names.get(int(task.name), "non-Python")] += seconds
    return dict(totals)


def difference(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {
        name: round(after[name] - before.get(name, 0.0), 2)
        for name in sorted(after)
        if after[name] - before.get(name, 0.0) >= 0.005
    }


def child_cpu(marker: str) -> dict[int, float]:
    """CPU seconds of this process's children whose command line contains `marker`."""
    found: dict[int, float] = {}
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent != me or marker not in (entry / "cmdline").read_bytes().decode(
                errors="replace"
            ):
                continue
            found[int(entry.name)] = _cpu(entry / "stat")
        except (OSError, ValueError, IndexError):
            continue
    return found


def pid_cpu(pid: int) -> float | None:
    try:
        return _cpu(Path(f"/proc/{pid}/stat"))
    except (OSError, ValueError, IndexError):
        return None
