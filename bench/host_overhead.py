"""`host`: the local host's own cost per orchestration step, and how it grows with the number of
activities in one orchestration.

`bench.chain_app` runs on an in-process host: an orchestrator that calls a trivial activity n
times, one after another (no latency, no I/O). A step is one activity's completion to the next
activity's start (the first step: the start request to the first activity; the last: the last
activity to the instance's final checkpoint). Each step is one episode: the completion is
appended to the history, the orchestrator is replayed from its first event through the SDK,
and the whole instance document (history included) is written to Blob before the next activity
is dispatched. Timers around the replay and the checkpoint write split each step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from bench import chain_app
from bench.instrument import Timings, instrumented
from bench.runtime import app_root, in_process_host
from bench.stats import line_fit, median, ms, percentile, rounded
from devhost.azurite import Azurite

HUB = "BenchChain"
TIMEOUT_SECONDS = 600


def _repeats(steps: int) -> int:
    """Enough orchestrations for stable medians at small n; one at large n."""
    return max(1, min(20, 200 // steps))


def _orchestrate(
    session: requests.Session, base_url: str, timings: Timings, steps: int, label: str
) -> tuple[list[float], float, str]:
    instance_id = f"{label}n{steps}t{time.monotonic_ns()}"
    started = time.monotonic()
    answer = session.post(f"{base_url}/api/chain/{instance_id}", json={"steps": steps}, timeout=60)
    answer.raise_for_status()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while instance_id not in timings.finished:
        if time.monotonic() > deadline:
            raise TimeoutError(f"orchestration {instance_id} did not finish")
        time.sleep(0.002)
    ran = chain_app.ran_at(instance_id)
    marks = [started, *ran, timings.finished[instance_id]]
    step_times = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return step_times, timings.finished[instance_id] - started, instance_id


def _size(
    session: requests.Session, base_url: str, timings: Timings, steps: int
) -> dict[str, Any]:
    all_steps: list[float] = []
    totals: list[float] = []
    replays: list[float] = []
    saves: list[float] = []
    last_replay: list[float] = []
    document_bytes = 0
    history_events = 0
    for _ in range(_repeats(steps)):
        step_times, total, instance_id = _orchestrate(session, base_url, timings, steps, "c")
        all_steps += step_times
        totals.append(total)
        replayed = timings.of(timings.replays, instance_id)
        saved = timings.of(timings.saves, instance_id)
        replays += [s.seconds for s in replayed]
        saves += [s.seconds for s in saved]
        last_replay.append(replayed[-1].seconds)
        document_bytes = max(s.size for s in saved)
        history_events = max(s.size for s in replayed)
    total = median(totals)
    return {
        "activities": steps,
        "orchestrations": len(totals),
        "total_ms": ms(total),
        "per_activity_ms": ms(total / steps),
        "step_p50_ms": ms(median(all_steps)),
        "step_p95_ms": ms(percentile(all_steps, 95)),
        "replay_p50_ms": ms(median(replays)),
        "last_replay_ms": ms(median(last_replay)),
        "checkpoint_write_p50_ms": ms(median(saves)),
        "history_events_at_end": history_events,
        "document_kib_at_end": round(document_bytes / 1024, 1),
    }


def _growth(timings: Timings, instance_id: str, steps: list[float]) -> dict[str, Any]:
    """Replay time against history length, over every episode of the longest orchestration."""
    replayed = timings.of(timings.replays, instance_id)
    encoded = timings.of(timings.encodes, instance_id)
    saved = timings.of(timings.saves, instance_id)
    slope, intercept = line_fit([s.size for s in replayed], [s.seconds for s in replayed])
    encode_slope, _ = line_fit([s.size / 1024 for s in encoded], [s.seconds for s in encoded])
    save_slope, save_intercept = line_fit(
        [s.size / 1024 for s in saved], [s.seconds for s in saved]
    )
    tenth = max(1, len(steps) // 10)
    return {
        "activities": len(steps) - 1,
        "step_p50_first_tenth_ms": ms(median(steps[:tenth])),
        "step_p50_last_tenth_ms": ms(median(steps[-tenth:])),
        "replay_us_per_history_event": rounded(slope * 1e6, 2),
        "replay_ms_at_empty_history": rounded(intercept * 1000, 3),
        "encode_us_per_document_kib": rounded(encode_slope * 1e6, 2),
        "checkpoint_write_us_per_document_kib": rounded(save_slope * 1e6, 2),
        "checkpoint_write_ms_at_empty_document": rounded(save_intercept * 1000, 3),
    }


def run_host(sizes: tuple[int, ...], workdir: Path) -> dict[str, Any]:
    with Azurite() as azurite, instrumented() as timings:
        root = app_root(workdir / "chain-app", HUB)
        values = {"AzureWebJobsStorage": azurite.connection_string}
        with in_process_host(chain_app.app, root, values) as host:
            session = requests.Session()
            _orchestrate(session, host.base_url, timings, 5, "warm")
            rows = [_size(session, host.base_url, timings, steps) for steps in sizes]
            steps, _, longest = _orchestrate(
                session, host.base_url, timings, max(sizes), "fit"
            )
            growth = _growth(timings, longest, steps)
            stats = host.stats()
    base = next((r for r in rows if r["activities"] >= 10), rows[0])
    last = rows[-1]
    return {
        "app": "bench.chain_app: n calls of a no-op activity, one after another, in-process",
        "sizes": rows,
        "per_activity_growth": {
            "from": base["activities"],
            "to": last["activities"],
            "ratio": rounded(last["per_activity_ms"] / base["per_activity_ms"], 2),
        },
        "fit_on_longest": growth,
        "engine": stats,
    }
