"""`load` and `memory`: POST latency idle and with N jobs in flight, throughput, job integrity,
and the host's resident memory, against the local host run as a subprocess with its functions
in N language-worker processes (`--worker-processes`).

At level N a refill thread holds N jobs in flight (it tops up to N, then submits a new job
whenever fewer are in flight: a closed loop). Once the loop has settled (half of N jobs ended
after the top-up, or 60 s), the measured POSTs are sent at random moments (exponential gaps, at most
half the rate jobs can end, spread over the time N jobs take to pass through, up to 60 s, from
a process of their own: `bench/probe_client.py`),
independent of when jobs end; each records how many others were in flight.
Levels follow one another without draining, then everything drains. Idle POSTs are sent one at
a time, each after the previous one's job has ended. A job is in flight from its 202 until the
watcher (which polls the `analyses` table directly, not through the host) first sees it
terminal.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from bench.audit import Audit, JobWatcher, audit
from bench.client import Submitted, keyed_session, submit, unfinished_instances
from bench.critical_path import ZERO, Latencies
from bench.host_process import HostProcess
from bench.memory import RssSampler
from bench.probe_client import ProbeClient
from bench.runtime import MEMO_APP, activity_concurrency, app_root, sync_threads
from bench.standins import standins
from bench.stats import median, ms, percentile, ratio_interval, rounded
from devhost.azurite import Azurite

HUB = "BenchLoad"
IDLE_WAIT_SECONDS = 120
PROBE_SPAN_CAP = 60.0
SETTLE_CAP = 60.0


@dataclass(frozen=True)
class LoadOptions:
    levels: tuple[int, ...]
    probes: int
    idle_probes: int
    deadline_seconds: int
    worker_processes: int = 2


@dataclass
class Post:
    submitted: Submitted
    in_flight: int  # other jobs in flight when it was sent


@dataclass
class Level:
    size: int
    started: float
    refills: list[Post] = field(default_factory=list)  # the top-up, then each freed slot
    probes: list[Post] = field(default_factory=list)  # the measured POSTs
    ended: float = 0.0
    settled: float = 0.0  # when probing began
    gap: float = 0.0  # mean seconds between measured POSTs

    @property
    def jobs(self) -> list[Submitted]:
        return [p.submitted for p in (*self.refills, *self.probes) if p.submitted.status == 202]


class Driver:
    """Sends POSTs (from any thread, each with its own session) and counts jobs in flight."""

    def __init__(
        self,
        base_url: str,
        function_key: str,
        watcher: JobWatcher,
        probes: ProbeClient | None = None,
    ) -> None:
        self.base_url = base_url
        self.function_key = function_key
        self.watcher = watcher
        self.probes = probes
        self.accepted: list[Submitted] = []
        self.random = random.Random(20240501)
        self._counter = 0
        self._lock = threading.Lock()
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = keyed_session(self.function_key)
        return session

    def in_flight(self) -> int:
        with self._lock:
            jobs = list(self.accepted)
        return sum(1 for job in jobs if self.watcher.ended_at(job.job_id) is None)

    def ended_since(self, moment: float) -> int:
        with self._lock:
            jobs = list(self.accepted)
        ends = (self.watcher.ended_at(job.job_id) for job in jobs)
        return sum(1 for at in ends if at is not None and at >= moment)

    def post(self, prefix: str, measured: bool = False) -> Post:
        """A fresh ticker per job, so no job reuses another's cached model answers. A measured
        POST goes through the probe process when there is one."""
        with self._lock:
            self._counter += 1
            ticker = f"{prefix}{self._counter:05d}"
        others = self.in_flight()
        if measured and self.probes is not None:
            sent = self.probes.submit(ticker)
        else:
            sent = submit(self._session(), self.base_url, ticker)
        if sent.status == 202:
            with self._lock:
                self.accepted.append(sent)
        return Post(sent, others)


def _idle(driver: Driver, probes: int) -> Level:
    level = Level(size=0, started=time.monotonic())
    level.settled = level.started
    for _ in range(probes):
        post = driver.post("IDLE", measured=True)
        level.probes.append(post)
        if post.submitted.status == 202:
            driver.watcher.wait([post.submitted.job_id], timeout=IDLE_WAIT_SECONDS)
    level.ended = time.monotonic()
    return level


class Refill:
    """A thread that keeps `size` jobs in flight: one POST whenever fewer are."""

    def __init__(self, driver: Driver, level: Level) -> None:
        self.driver = driver
        self.level = level
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-refill", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.driver.in_flight() < self.level.size:
                self.level.refills.append(self.driver.post(f"R{self.level.size}J"))
            else:
                self._stop.wait(0.01)

    def __enter__(self) -> Refill:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)


@dataclass(frozen=True)
class Pace:
    """How one level is held: `settle` jobs must end after the top-up before measuring (the
    jobs started together by the top-up move through the pool in step; once half of them have
    been replaced the loop is past that wave), then `probes` POSTs at exponential gaps of mean
    `gap` s. `limit` bounds the settling wait (SETTLE_CAP)."""

    probes: int
    gap: float
    settle: int
    limit: float

    @classmethod
    def of(cls, size: int, probes: int, per_memo: float, concurrency: int) -> Pace:
        cycle = size * per_memo / concurrency  # seconds for `size` jobs to pass through
        # At most half the rate at which jobs end, so in flight stays near `size`; spread over
        # one cycle (up to PROBE_SPAN_CAP) so the POSTs see every phase of it.
        gap = max(2 * per_memo / concurrency, min(cycle, PROBE_SPAN_CAP) / probes)
        return cls(probes=probes, gap=gap, settle=math.ceil(size / 2), limit=SETTLE_CAP)


def _hold(driver: Driver, size: int, pace: Pace) -> Level:
    """Hold `size` jobs in flight (the refill thread), let the loop settle, then send the
    measured POSTs at random moments, independent of when jobs end. A measured POST is a job
    too: the next job to end makes room for it, so in flight stays near `size`."""
    level = Level(size=size, started=time.monotonic(), gap=pace.gap)
    with Refill(driver, level):
        while driver.in_flight() < size:
            time.sleep(0.05)
        topped_up = time.monotonic()
        deadline = topped_up + pace.limit
        while driver.ended_since(topped_up) < pace.settle and time.monotonic() < deadline:
            time.sleep(0.05)
        level.settled = time.monotonic()
        for _ in range(pace.probes):
            time.sleep(driver.random.expovariate(1 / pace.gap))
            level.probes.append(driver.post(f"H{size}J", measured=True))
    level.ended = time.monotonic()
    return level


def _latencies(posts: list[Post]) -> list[float]:
    return [p.submitted.seconds for p in posts if p.submitted.status == 202]


def _window_rate(watcher: JobWatcher, jobs: list[Submitted], start: float, end: float) -> float:
    ended = [watcher.ended_at(j.job_id) for j in jobs]
    done = sum(1 for at in ended if at is not None and start <= at <= end)
    return round(done / (end - start) * 60, 1) if end > start else 0.0


def _summary(
    level: Level,
    driver: Driver,
    sampler: RssSampler,
    idle: list[float] | None,
) -> dict[str, Any]:
    seconds = _latencies(level.probes)
    p95 = percentile(seconds, 95)
    idle_p95 = percentile(idle, 95) if idle else None
    interval = ratio_interval(seconds, idle) if idle else None
    in_flight = [float(p.in_flight) for p in level.probes]
    statuses = [driver.watcher.status(j.job_id) for j in level.jobs]
    refills = _latencies(level.refills)
    return {
        "in_flight": level.size,
        "posts_measured": len(seconds),
        "others_in_flight_at_post": {
            "median": rounded(median(in_flight), 1),
            "min": int(min(in_flight, default=0)),
            "max": int(max(in_flight, default=0)),
        },
        "post_p50_ms": ms(median(seconds)),
        "post_p95_ms": ms(p95),
        "post_max_ms": ms(max(seconds, default=0.0)),
        "p95_vs_idle": rounded(p95 / idle_p95, 2) if idle_p95 else None,
        "p95_vs_idle_90pct_interval": (
            [rounded(interval[0], 2), rounded(interval[1], 2)] if interval else None
        ),
        "post_ms_sorted": sorted(round(x * 1000, 1) for x in seconds),
        "refill_posts": len(refills),
        "refill_post_p50_ms": ms(median(refills)) if refills else None,
        "refill_post_p95_ms": ms(percentile(refills, 95)) if refills else None,
        "rejected_posts": sum(
            1 for p in (*level.refills, *level.probes) if p.submitted.status != 202
        ),
        "hold_seconds": round(level.ended - level.started, 1),
        "settling_seconds": round(level.settled - level.started, 1),
        "probing_seconds": round(level.ended - level.settled, 1),
        "mean_gap_s": round(level.gap, 2),
        "jobs_per_minute": (
            _window_rate(driver.watcher, driver.accepted, level.settled, level.ended)
            if level.size else None
        ),
        "accepted": len(level.jobs),
        "completed": statuses.count("completed"),
        "failed": statuses.count("failed") + statuses.count("cancelled"),
        "lost": statuses.count(None),
        "peak_rss_mib": sampler.peak(level.started, level.ended),
        "host_process_peak_rss_mib": sampler.peak_of_root(level.started, level.ended),
    }


def _integrity(level: Level, found: Audit, lost: int) -> dict[str, Any]:
    return {"in_flight": level.size, "lost": lost, **found.level(j.job_id for j in level.jobs)}


def run_load(latencies: Latencies, options: LoadOptions, workdir: Path) -> dict[str, Any]:
    concurrency = activity_concurrency()
    per_memo = latencies.market + latencies.news + 2 * latencies.llm  # SPY: cached in Blob
    with Azurite() as azurite, standins(latencies) as stand:
        values = stand.app_settings(
            AzureWebJobsStorage=azurite.connection_string,
            JOB_DEADLINE_SECONDS=str(options.deadline_seconds),
        )
        root = app_root(workdir / "load-app", HUB)
        host_process = HostProcess(
            MEMO_APP, root, HUB, values, workdir / "host-load.log", options.worker_processes
        )
        with host_process as host:
            sampler = RssSampler(host.pid).start()
            watcher = JobWatcher(azurite.connection_string).start()
            probes = ProbeClient(host.base_url, host.function_key).start()
            try:
                time.sleep(0.5)
                started_rss = sampler.last()
                driver = Driver(host.base_url, host.function_key, watcher, probes)
                warm = driver.post("WARM", measured=True)  # also opens the probe's connection
                watcher.wait([warm.submitted.job_id], timeout=IDLE_WAIT_SECONDS)
                levels = [_idle(driver, options.idle_probes)]
                for size in options.levels:
                    pace = Pace.of(size, options.probes, per_memo, concurrency)
                    levels.append(_hold(driver, size, pace))
                # Nothing is measured while draining but the jobs' integrity: the model and
                # news stand-ins answer at once from here (market latency is the host's
                # setting), so the drain is short.
                stand.set_latencies(ZERO)
                drain_started = time.monotonic()
                everything = [job.job_id for job in driver.accepted]
                drain_limit = 3 * len(everything) * per_memo / concurrency + 120
                drained = watcher.wait(everything, timeout=drain_limit)
                drain_ended = time.monotonic()
                time.sleep(1.0)  # let the last instances checkpoint their end
                idle_seconds = _latencies(levels[0].probes)
                summaries = [_summary(levels[0], driver, sampler, None)] + [
                    _summary(level, driver, sampler, idle_seconds) for level in levels[1:]
                ]
                unfinished = unfinished_instances(host.base_url, host.system_key, everything)
                found = audit(azurite.connection_string, everything, unfinished)
                integrity = [
                    _integrity(level, found, summary["lost"])
                    for level, summary in zip(levels, summaries, strict=True)
                ]
                high_water = sampler.high_water()
                after_drain = sampler.last()
                held = levels[1:]
                overall = (
                    _window_rate(watcher, driver.accepted, held[0].settled, held[-1].ended)
                    if held else None
                )
            finally:
                probes.stop()
                watcher.stop()
                sampler.stop()
    total = len(driver.accepted)
    return {
        "host": f"subprocess: python -m devhost serve --app {MEMO_APP} --worker-processes "
        f"{options.worker_processes}",
        "worker_processes": options.worker_processes,
        "worker_sync_threads": sync_threads(values),
        "measured_posts_from": "a process of their own (bench/probe_client.py)",
        "activity_concurrency": concurrency,
        "activity_seconds_per_memo": per_memo,
        "jobs_per_minute_bound": round(60 * concurrency / per_memo, 1),
        "jobs_per_minute_held": overall,
        "jobs_per_minute_note": "completions per minute from the first level's settling to the "
        "last level's end; a level's own window can exceed the bound when a wave of jobs started "
        "together ends inside it",
        "benchmark_cache": "app default BENCHMARK_CACHE_SECONDS: SPY fetched once, then cached",
        "levels": summaries,
        "drain": {
            "jobs": total,
            "all_ended": drained,
            "seconds": round(drain_ended - drain_started, 1),
            "note": "model and news stand-ins at zero latency while draining",
        },
        "integrity": integrity,
        "job_rows_no_post_answered_with": found.unknown_job_rows,
        "memory": {
            "method": "VmRSS of the host subprocess and every process below it (its language "
            "workers), read "
            f"from /proc/<pid>/status every {sampler.period:g} s and summed (pages they share "
            "count in each); peak per level window; VmHWM summed at the end",
            "processes": sampler.processes,
            "worker_processes": options.worker_processes,
            "rss_at_start_mib": started_rss,
            "peak_rss_mib": {
                (str(s["in_flight"]) if s["in_flight"] else "idle"): s["peak_rss_mib"]
                for s in summaries
            },
            "host_process_peak_rss_mib": {
                (str(s["in_flight"]) if s["in_flight"] else "idle"): s["host_process_peak_rss_mib"]
                for s in summaries
            },
            "peak_rss_mib_while_draining": sampler.peak(drain_started, drain_ended),
            "rss_after_drain_mib": after_drain,
            "high_water_mib": round(high_water, 1) if high_water else None,
        },
    }
