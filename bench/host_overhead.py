"""`host`: the local host's own cost per orchestration step, and how it grows with the number of
activities in one orchestration.

`bench/apps/chain` runs on a host in the bench process, its functions in the host's language
worker: an orchestrator that calls a trivial activity n times, one after another (no latency,
no I/O). The activity returns when it ran (its worker's monotonic clock, system-wide), and the
bench reads those moments from the instance's history (the Durable HTTP API). A step is one
activity's start to the next one's (the first step: the start request to the first activity;
the last: the last activity to the checkpoint that recorded the instance's end). Each step is
one episode: the activity's answer crosses the pipe back to the host, the completion is
appended to the history, the whole history goes to a worker where the SDK replays the
orchestrator from its first event, the instance document (history included) is written to
Blob, and the next activity crosses the pipe to a worker. The host's observer
(`devhost.observe`) times the replay (and the orchestrator's invocation inside it), the
activity invocations and the checkpoint writes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import requests

from bench.client import KEY_HEADER
from bench.observer import Recorder
from bench.runtime import CHAIN_APP, SINGLE_WORKER, app_root, bench_host
from bench.stats import line_fit, median, ms, percentile, rounded
from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.observe import Invocation, Replay

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
    session: requests.Session, host: DevHost, recorder: Recorder, steps: int, label: str
) -> tuple[list[float], float, str]:
    instance_id = f"{label}n{steps}t{time.monotonic_ns()}"
    started = time.monotonic()
    answer = session.post(
        f"{host.base_url}/api/chain/{instance_id}", json={"steps": steps}, timeout=60
    )
    answer.raise_for_status()
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while (finished := recorder.finished_at(instance_id)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"orchestration {instance_id} did not finish")
        time.sleep(0.002)
    ran = _ran_at(session, host, instance_id)
    if len(ran) != steps:
        raise RuntimeError(f"{instance_id}: {len(ran)} activities in its history, not {steps}")
    marks = [started, *ran, finished]
    step_times = [b - a for a, b in zip(marks, marks[1:], strict=False)]
    return step_times, finished - started, instance_id


def replay_invocations(replays: list[Replay], invoked: list[Invocation]) -> list[float]:
    """Each replay's orchestrator invocation (the one that started inside it), in seconds."""
    found = []
    for replay in replays:
        end = replay.started + replay.seconds
        inside = [i.seconds for i in invoked if replay.started <= i.started <= end]
        if inside:
            found.append(inside[0])
    return found


def _size(
    session: requests.Session, host: DevHost, recorder: Recorder, steps: int
) -> dict[str, Any]:
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
        step_times, total, instance_id = _orchestrate(session, host, recorder, steps, "c")
        all_steps += step_times
        totals.append(total)
        replayed = recorder.replays(instance_id)
        saved = recorder.checkpoints(instance_id)
        replays += [r.seconds for r in replayed]
        replay_invokes += replay_invocations(
            replayed, recorder.invocations(instance_id, "orchestrator")
        )
        activity_invokes += [i.seconds for i in recorder.invocations(instance_id)]
        saves += [c.seconds for c in saved]
        last_replay.append(replayed[-1].seconds)
        document_bytes = max(c.document_bytes for c in saved)
        history_events = max(r.history_events for r in replayed)
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


def _growth(recorder: Recorder, instance_id: str, steps: list[float]) -> dict[str, Any]:
    """Replay time against history length, over every episode of the longest orchestration."""
    replayed = recorder.replays(instance_id)
    invoked = recorder.invocations(instance_id, "orchestrator")
    paired = [
        (r.history_events, seconds)
        for r in replayed
        for seconds in replay_invocations([r], invoked)
    ]
    slope, intercept = line_fit([r.history_events for r in replayed], [r.seconds for r in replayed])
    invoke_slope, invoke_intercept = line_fit([p[0] for p in paired], [p[1] for p in paired])
    tenth = max(1, len(steps) // 10)
    return {
        "activities": len(steps) - 1,
        "step_p50_first_tenth_ms": ms(median(steps[:tenth])),
        "step_p50_last_tenth_ms": ms(median(steps[-tenth:])),
        "replay_us_per_history_event": rounded(slope * 1e6, 2),
        "replay_ms_at_empty_history": rounded(intercept * 1000, 3),
        "replay_invocation_us_per_history_event": rounded(invoke_slope * 1e6, 2),
        "replay_invocation_ms_at_empty_history": rounded(invoke_intercept * 1000, 3),
    }


def run_host(sizes: tuple[int, ...], workdir: Path) -> dict[str, Any]:
    recorder = Recorder()
    with Azurite() as azurite:
        root = app_root(workdir / "chain-app", HUB)
        values = {"AzureWebJobsStorage": azurite.connection_string}
        with bench_host(CHAIN_APP, root, values, SINGLE_WORKER, recorder) as host:
            session = requests.Session()
            _orchestrate(session, host, recorder, 5, "warm")
            rows = [_size(session, host, recorder, steps) for steps in sizes]
            steps, _, longest = _orchestrate(session, host, recorder, max(sizes), "fit")
            growth = _growth(recorder, longest, steps)
    return {
        "app": f"{CHAIN_APP}: n calls of a no-op activity, one after another; the host in the "
        "bench process",
        "worker_processes": SINGLE_WORKER,
        "sizes": rows,
        "fit_on_longest": growth,
    }
