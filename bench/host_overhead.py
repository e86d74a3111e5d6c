"""`host`: the local host's own cost per orchestration step, and how it grows with the number of
activities in one orchestration.

`bench/apps/chain` runs on a host in the bench process, its functions in the host's language
workers: an orchestrator that calls a trivial activity n times, one after another (no latency,
no I/O). The activity returns when it ran (its worker's monotonic clock, system-wide), and the
bench reads those moments from the instance's history. A step is one activity's start to the
next one's (the first step: the start request to the first activity; the last: the last
activity to the instance's final checkpoint). Each step is one episode: the activity's answer
crosses the pipe back to the host, the completion is appended to the history, the whole history
goes to a worker where the SDK replays the orchestrator from its first event, the instance
document (history included) is written to Blob, and the next activity crosses the pipe to a
worker. Timers around the replay (and the invocation inside it), the invocations and the
checkpoint write split each step.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from bench.client import KEY_HEADER
from bench.instrument import Timings, instrumented
from bench.runtime import CHAIN_APP, SINGLE_WORKER, app_root, bench_host
from bench.sdk_replay import sdk_replay
from bench.stats import line_fit, median, ms, percentile, rounded
from devhost.azurite import Azurite
from devhost.host import DevHost

HUB = "BenchChain"
TIMEOUT_SECONDS = 600


def _repeats(steps: int) -> int:
    """Enough orchestrations for stable medians at small n; one at large n."""
    return max(1, min(20, 200 // steps))


def _ran_at(session: requests.Session, host: DevHost, instance_id: str) -> list[float]:
    """When each activity ran (its result), from the history the Durable HTTP API shows."""
    answer = session.get(
        f"{host.webhook_base}/instances/{instance_id}",
        params={"showHistory": "true", "showHistoryOutput": "true"},
        headers={KEY_HEADER: host.system_key},
        timeout=60,
    )
    answer.raise_for_status()
    events = answer.json().get("historyEvents") or []
    return [float(e["Result"]) for e in events if e.get("EventType") == "TaskCompleted"]


def _orchestrate(
    session: requests.Session, host: DevHost, timings: Timings, steps: int, label: str
) -> tuple[list[float], float, str]:
    instance_id = f"{label}n{steps}t{time.monotonic_ns()}"
    started = time.monotonic()
    answer = session.post(
        f"{host.base_url}/api/chain/{instance_id}", json={"steps": steps}, timeout=60
    )
    answer.raise_for_status()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while instance_id not in timings.finished:
        if time.monotonic() > deadline:
            raise TimeoutError(f"orchestration {instance_id} did not finish")
        time.sleep(0.002)
    ran = _ran_at(session, host, instance_id)
    if len(ran) != steps:
        raise RuntimeError(f"{instance_id}: {len(ran)} activities in its history, not {steps}")
    marks = [started, *ran, timings.finished[instance_id]]
    step_times = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return step_times, timings.finished[instance_id] - started, instance_id


def _size(session: requests.Session, host: DevHost, timings: Timings, steps: int) -> dict[str, Any]:
    all_steps: list[float] = []
    totals: list[float] = []
    replays: list[float] = []
    replay_invokes: list[float] = []
    activity_invokes: list[float] = []
    saves: list[float] = []
    last_replay: list[float] = []
    document_bytes = 0
    history_events = 0
    for _ in range(_repeats(steps)):
        step_times, total, instance_id = _orchestrate(session, host, timings, steps, "c")
        all_steps += step_times
        totals.append(total)
        replayed = timings.of(timings.replays, instance_id)
        saved = timings.of(timings.saves, instance_id)
        replays += [s.seconds for s in replayed]
        replay_invokes += [s.invoke_seconds for s in replayed if s.invoke_seconds is not None]
        activity_invokes += [i.ended - i.started for i in timings.activities(instance_id)]
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
        "replay_invocation_p50_ms": ms(median(replay_invokes)),
        "last_replay_ms": ms(median(last_replay)),
        "activity_invocation_p50_ms": ms(median(activity_invokes)),
        "checkpoint_write_p50_ms": ms(median(saves)),
        "history_events_at_end": history_events,
        "document_kib_at_end": round(document_bytes / 1024, 1),
    }


def _growth(timings: Timings, instance_id: str, steps: list[float]) -> dict[str, Any]:
    """Replay time against history length, over every episode of the longest orchestration."""
    replayed = timings.of(timings.replays, instance_id)
    invoked = [s for s in replayed if s.invoke_seconds is not None]
    encoded = timings.of(timings.encodes, instance_id)
    saved = timings.of(timings.saves, instance_id)
    slope, intercept = line_fit([s.size for s in replayed], [s.seconds for s in replayed])
    invoke_slope, invoke_intercept = line_fit(
        [s.size for s in invoked], [s.invoke_seconds or 0.0 for s in invoked]
    )
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
        "replay_invocation_us_per_history_event": rounded(invoke_slope * 1e6, 2),
        "replay_invocation_ms_at_empty_history": rounded(invoke_intercept * 1000, 3),
        "encode_us_per_document_kib": rounded(encode_slope * 1e6, 2),
        "checkpoint_write_us_per_document_kib": rounded(save_slope * 1e6, 2),
        "checkpoint_write_ms_at_empty_document": rounded(save_intercept * 1000, 3),
    }


def run_host(sizes: tuple[int, ...], workdir: Path) -> dict[str, Any]:
    with Azurite() as azurite, instrumented() as timings:
        root = app_root(workdir / "chain-app", HUB)
        values = {"AzureWebJobsStorage": azurite.connection_string}
        with bench_host(CHAIN_APP, root, values, SINGLE_WORKER) as host:
            session = requests.Session()
            _orchestrate(session, host, timings, 5, "warm")
            rows = [_size(session, host, timings, steps) for steps in sizes]
            steps, _, longest = _orchestrate(session, host, timings, max(sizes), "fit")
            growth = _growth(timings, longest, steps)
            stats = host.stats()
        sdk = sdk_replay(azurite.connection_string, HUB, longest)
    base = next((r for r in rows if r["activities"] >= 10), rows[0])
    last = rows[-1]
    return {
        "app": f"{CHAIN_APP}: n calls of a no-op activity, one after another; the host in the "
        "bench process",
        "worker_processes": SINGLE_WORKER,
        "sizes": rows,
        "per_activity_growth": {
            "from": base["activities"],
            "to": last["activities"],
            "ratio": rounded(last["per_activity_ms"] / base["per_activity_ms"], 2),
        },
        "fit_on_longest": growth,
        "sdk_replay_alone": sdk,
        "engine": stats,
    }
