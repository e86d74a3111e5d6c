"""The Python worker's sync thread pool holds what host.json lets run at once.

Every activity and orchestrator of this app is a sync function, and the worker runs them all on
one pool (PYTHON_THREADPOOL_THREAD_COUNT; by default min(32, CPUs + 4), 5 or 6 on small
instances). With fewer threads than maxConcurrentActivityFunctions +
maxConcurrentOrchestratorFunctions, replays queue behind activities: measured by the bench at
less than half the throughput. The setting is the same locally and as deployed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_thread_pool_matches_the_durable_concurrency_everywhere() -> None:
    durable = json.loads((ROOT / "host.json").read_text())["extensions"]["durableTask"]
    needed = (
        durable["maxConcurrentActivityFunctions"] + durable["maxConcurrentOrchestratorFunctions"]
    )
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]
    assert int(sample["PYTHON_THREADPOOL_THREAD_COUNT"]) == needed
    deployed = re.search(
        r"PYTHON_THREADPOOL_THREAD_COUNT: '(\d+)'", (ROOT / "infra" / "main.bicep").read_text()
    )
    assert deployed is not None and int(deployed.group(1)) == needed
