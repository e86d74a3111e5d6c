"""The bench's memory figure covers the host and every process below it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from bench.memory import RssSampler, descendants, rss_mib

CHILD_WITH_GRANDCHILD = (
    "import subprocess, sys; "
    "subprocess.run([sys.executable, '-c', 'import time; time.sleep(30)'])"
)


def test_descendants_and_the_summed_peak_include_grandchildren() -> None:
    child = subprocess.Popen([sys.executable, "-c", CHILD_WITH_GRANDCHILD])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(child.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        (grandchild,) = descendants(child.pid)
        assert {child.pid, grandchild} <= set(descendants(os.getpid()))
        sampler = RssSampler(child.pid, period=0.05).start()
        time.sleep(0.3)
        sampler.stop()
        alone = sampler.peak_of_root(0, time.monotonic())
        both = sampler.peak(0, time.monotonic())
        grandchild_rss = rss_mib(grandchild)
        assert alone is not None and both is not None and grandchild_rss is not None
        assert both >= alone + 0.9 * grandchild_rss
        assert sampler.processes == 2
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.kill()
        child.wait()
