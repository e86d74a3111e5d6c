"""Where a POST /api/analyses spends its time, idle and with N jobs in flight, as the host
process sees it.

The memo app runs on a host in the bench process, its functions in N language workers (as many
as the load host's), with timers around what the host process does for a POST and around every
storage call the bench process makes (`bench.post_spans`: wrapped, not changed, while the
profile runs); the same closed-loop driver as `load` holds N jobs in flight; the CPU time of
every thread group of the bench process (the host's loop and encode threads among them), of
the workers and of Azurite is read from /proc over the hold; and a separate process
(`bench.storage_probe`) times small reads against the same Azurite, to tell the storage's own
latency from waiting inside the host. The app's route runs in a worker, so its admission
transaction is not seen on its own; a POST's phases, from the host process:

- `outside_route`: client time not spent in the host's app-route handler (connection, aiohttp
  parsing, waiting for the host's event loop, writing the response).
- `to_invocation`: from the handler's start to the invocation handed to the worker pool (the
  function key checked, the body read, the request built).
- `worker_to_start`: from the invocation handed to the pool to the durable client's start
  arriving on the host's RPC base: the request pickled and piped to a worker, the runtime's
  scheduling and conversion, the app's admission transaction (job and quota rows, on a thread),
  and the durable client's HTTP request to the host (the worker's aiohttp, the host's).
- `start_request`: the RPC start on the host (`ManagementApi.handle`), of which `start_new`
  (the engine's start), of which `create` (the first checkpoint: the blob written only if the
  id is free, then the row); `start_other` is `start_new` less `create`.
- `worker_after_start`: from the RPC start's answer to the invocation's response back on the
  host: the answer written to the worker, the durable client reading it, the app building its
  202, the runtime's response piped back.
- `after_invocation`: from the response back to the handler's end (the answer converted).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from bench import storage_probe
from bench.audit import JobWatcher
from bench.instrument import Timings, instrumented, loop_heartbeat
from bench.latencies import ZERO, Latencies
from bench.load import Driver, Pace, Post, _hold
from bench.post_spans import Spans, StorageCall, post_spans
from bench.runtime import MEMO_APP, activity_concurrency, app_root, bench_host
from bench.standins import standins
from bench.stats import median, ms, percentile
from bench.threads_cpu import by_group, child_cpu, difference, pid_cpu, process_cpu
from devhost.azurite import Azurite

HUB = "BenchProfile"
IDLE_POSTS = 6


def _phases(post: Post, spans: Spans) -> dict[str, float] | None:
    job_id = post.submitted.job_id
    route = spans.route.get(job_id)
    invoked = spans.invocation.get(job_id)
    rpc = spans.rpc_start.get(job_id)
    begun = spans.start_new.get(job_id)
    created = spans.create.get(job_id)
    if route is None or invoked is None or rpc is None or begun is None or created is None:
        return None
    return {
        "total": post.submitted.seconds,
        "outside_route": post.submitted.seconds - (route[1] - route[0]),
        "to_invocation": invoked[0] - route[0],
        "worker_to_start": rpc[0] - invoked[0],
        "start_request": rpc[1] - rpc[0],
        "start_new": begun[1] - begun[0],
        "create": created[1] - created[0],
        "start_other": (begun[1] - begun[0]) - (created[1] - created[0]),
        "worker_after_start": invoked[1] - rpc[1],
        "after_invocation": route[1] - invoked[1],
    }


def _table(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    if not rows:
        return {}
    return {
        phase: {
            "p50_ms": ms(median([r[phase] for r in rows])),
            "p95_ms": ms(percentile([r[phase] for r in rows], 95)),
        }
        for phase in rows[0]
    }


def _storage(spans: Spans, start: float, end: float) -> dict[str, dict[str, Any]]:
    """Storage HTTP calls made by the process in the window, by calling thread group."""
    calls = [c for c in spans.storage if start <= c.started <= end]
    groups: dict[str, list[StorageCall]] = {}
    for call in calls:
        groups.setdefault(f"{call.thread}: {call.kind}", []).append(call)
    summary: dict[str, dict[str, Any]] = {}
    for name, found in sorted(groups.items()):
        walls = [c.seconds for c in found]
        cpus = [c.cpu for c in found if c.cpu is not None]
        summary[name] = {
            "calls": len(found),
            "wall_p50_ms": ms(median(walls)),
            "wall_p95_ms": ms(percentile(walls, 95)),
            "thread_cpu_p50_ms": ms(median(cpus)) if cpus else None,
        }
    return summary


def _overlap(posts: list[Post], spans: Spans) -> dict[str, Any]:
    """The bench process's storage calls in flight while each measured POST ran (the host's
    checkpoints, its own start's create included, and the watcher's reads; the app's calls
    are made in the workers), for the slowest quarter of the POSTs against the fastest half."""
    rows = []
    for post in posts:
        route = spans.route.get(post.submitted.job_id)
        if route is None:
            continue
        start, end = route
        moments = [start + (end - start) * k / 8 for k in range(9)]
        busiest = max(
            sum(1 for c in spans.storage if c.started <= at < c.started + c.seconds)
            for at in moments
        )
        checkpoints = sum(
            1 for c in spans.storage
            if c.thread == "devhost-loop" and c.kind == "blob PUT"
            and c.started < end and c.started + c.seconds > start
        )
        rows.append((post.submitted.seconds, busiest, checkpoints))
    rows.sort()
    if len(rows) < 4:
        return {}
    fast, slow = rows[: len(rows) // 2], rows[-(len(rows) // 4):]
    return {
        "fastest_half": {
            "post_p50_ms": ms(median([r[0] for r in fast])),
            "storage_calls_in_flight_max_p50": median([float(r[1]) for r in fast]),
            "checkpoint_writes_overlapping_p50": median([float(r[2]) for r in fast]),
        },
        "slowest_quarter": {
            "post_p50_ms": ms(median([r[0] for r in slow])),
            "storage_calls_in_flight_max_p50": median([float(r[1]) for r in slow]),
            "checkpoint_writes_overlapping_p50": median([float(r[2]) for r in slow]),
        },
    }


def _bursts(spans: Spans, start: float, end: float, width: float = 0.1) -> dict[str, float]:
    """The bench process's storage calls (the host's checkpoints, the watcher's reads) started
    per `width` s window over the hold: how bursty they are."""
    slots = max(1, int((end - start) / width))
    counts = [0] * slots
    for call in spans.storage:
        slot = int((call.started - start) / width)
        if 0 <= slot < slots:
            counts[slot] += 1
    return {
        "window_ms": width * 1000,
        "p50": median([float(c) for c in counts]),
        "p95": percentile([float(c) for c in counts], 95),
        "max": float(max(counts)),
    }


def _lag(timings: Timings, start: float, end: float) -> dict[str, float]:
    lags = [lag for at, lag in timings.loop_lag if start <= at <= end]
    return {"p50_ms": ms(median(lags)), "p95_ms": ms(percentile(lags, 95)), "samples": len(lags)}


def _cpu_of(pids: list[int]) -> float:
    return sum(filter(None, map(pid_cpu, pids)))


def run_post_profile(
    latencies: Latencies, size: int, probes: int, workdir: Path, worker_processes: int
) -> dict[str, Any]:
    with Azurite() as azurite, standins(latencies) as stand, instrumented() as timings:
        values = stand.app_settings(AzureWebJobsStorage=azurite.connection_string)
        root = app_root(workdir / "profile-app", HUB)
        services = {azurite.blob_port: "blob", azurite.table_port: "table"}
        host_in_process = bench_host(MEMO_APP, root, values, worker_processes)
        with post_spans(services) as spans, host_in_process as host:
            assert host._loop is not None  # started
            watcher = JobWatcher(azurite.connection_string).start()
            probe_file = workdir / "storage-probe.txt"
            try:
                with loop_heartbeat(host._loop, timings), storage_probe.running(
                    azurite.connection_string, probe_file
                ):
                    driver = Driver(host.base_url, host.function_key, watcher)
                    idle_start = time.monotonic()
                    idle: list[Post] = []
                    for _ in range(IDLE_POSTS + 1):  # the first one warms up, unmeasured
                        idle.append(driver.post("PIDLE"))
                        watcher.wait([idle[-1].submitted.job_id], timeout=120)
                    idle_end = time.monotonic()
                    cpu_before, process_before = by_group(), process_cpu()
                    workers_before = _cpu_of(host.worker_pids)
                    storage_before = sum(child_cpu("azurite").values())
                    per_memo = latencies.market + latencies.news + 2 * latencies.llm
                    pace = Pace.of(size, probes, per_memo, activity_concurrency())
                    hold = _hold(driver, size, pace)
                    cpu_after, process_after = by_group(), process_cpu()
                    workers_after = _cpu_of(host.worker_pids)
                    storage_after = sum(child_cpu("azurite").values())
                    hold_end = time.monotonic()
                # Drain quickly, the profile taken: the model and news stand-ins answer at once
                # (the market latency is the workers' setting, fixed when they started).
                stand.set_latencies(ZERO)
                watcher.wait([j.job_id for j in driver.accepted], timeout=300)
            finally:
                watcher.stop()
    idle_rows = [r for r in (_phases(p, spans) for p in idle[1:]) if r]
    held_rows = [r for r in (_phases(p, spans) for p in hold.probes) if r]
    threads = difference(cpu_before, cpu_after)
    seconds = hold_end - hold.started
    return {
        "host": "the memo app on a host in the bench process (HTTP, engine, checkpoints), its "
        f"functions in {worker_processes} language workers; phases timed by wrappers in the "
        "host process, CPU from /proc",
        "worker_processes": worker_processes,
        "in_flight": size,
        "idle_posts": len(idle_rows),
        "held_posts": len(held_rows),
        "idle_phases": _table(idle_rows),
        "held_phases": _table(held_rows),
        "storage_calls_idle": _storage(spans, idle_start, idle_end),
        "storage_calls_held": _storage(spans, hold.started, hold_end),
        "held_posts_against_storage_traffic": _overlap(hold.probes, spans),
        "host_storage_calls_per_window_held": _bursts(spans, hold.settled, hold_end),
        "storage_probe_idle": storage_probe.window(probe_file, idle_start, idle_end),
        "storage_probe_held": storage_probe.window(probe_file, hold.started, hold_end),
        "loop_lag_idle": _lag(timings, idle_start, idle_end),
        "loop_lag_held": _lag(timings, hold.started, hold_end),
        "hold_seconds": round(seconds, 1),
        "cpu_seconds_by_thread_group": threads,
        "cpu_seconds_process": round(process_after - process_before, 2),
        "cpu_cores_busy": round((process_after - process_before) / seconds, 2),
        "worker_cpu_seconds": round(workers_after - workers_before, 2),
        "worker_cores_busy": round((workers_after - workers_before) / seconds, 2),
        "azurite_cpu_seconds": round(storage_after - storage_before, 2),
        "azurite_cores_busy": round((storage_after - storage_before) / seconds, 2),
    }
