"""`single` and `llm`: one memo's wall time against its critical path, the same work strictly in
sequence, and what each memo costs in model calls and tokens.

The real app runs on a host in the bench process (`bench/apps/memo`: the real blueprints plus
the bench-only sequential orchestrator), its functions in the host's language workers, against
Azurite and the stand-ins, with BENCHMARK_CACHE_SECONDS=0 so SPY is fetched by every memo. Each
run uses a fresh ticker, so no run reuses another's cached model answers. After one warm-up
memo (imports, clients, tables), the parallel and sequential variants alternate; medians are
reported. A memo's wall time is its job's `created_at` -> `completed_at` (GET
/api/analyses/{id}); `completed_at` is stamped when persisting is scheduled, so the persist
activity itself is not in it (the client-observed time, POST sent -> terminal status seen by
polling, is reported next to it). The zero-latency memos run on a second host whose workers
start with SIMULATED_LATENCY_MS=0 (the workers read their settings when they start), after a
warm-up memo of their own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import follow, keyed_session, server_seconds, submit
from bench.instrument import Invocation, Timings, instrumented
from bench.latencies import ZERO, Latencies
from bench.runtime import MEMO_APP, SINGLE_WORKER, app_root, bench_host
from bench.standins import StandIns, standins
from bench.stats import median, rounded
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared import names

HUB = "BenchSingle"
PARALLEL = "/api/analyses"
SEQUENTIAL = "/api/bench/sequential"
POLL_SECONDS = 0.1
# One language worker, the Functions host's default: one warm-up memo warms every module and
# client the memo's functions load on first use (with several workers, each would first load
# them in the middle of a measured memo, wherever the round robin sent that function first).
WORKERS = SINGLE_WORKER
TIMEOUT_SECONDS = 300


@dataclass
class Run:
    variant: str
    job_id: str
    status: str
    seconds: float | None  # created_at -> completed_at
    observed: float  # POST sent -> terminal status seen
    post_seconds: float
    llm: dict[str, int]  # the stand-in's counters, this run's share
    usage: dict[str, int]
    grounding: str | None
    host: dict[str, int]  # engine counters, this run's share

    def as_json(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "status": self.status,
            "seconds": rounded(self.seconds, 3) if self.seconds is not None else None,
            "observed_seconds": round(self.observed, 3),
            "post_ms": round(self.post_seconds * 1000, 1),
            "llm_calls": self.llm["calls"],
            "prompt_tokens": self.llm["prompt_tokens"],
            "completion_tokens": self.llm["completion_tokens"],
            "job_usage": self.usage,
            "grounding": self.grounding,
            "episodes": self.host.get("episodes"),
            "activities": self.host.get("activities_started"),
        }


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after}


class Runner:
    def __init__(self, host: DevHost, stand: StandIns, count: int = 0) -> None:
        self.host = host
        self.stand = stand
        self.session = keyed_session(host.function_key)
        self.count = count  # tickers go on from here, so no memo reuses another's answers

    def run(self, variant: str) -> Run:
        self.count += 1
        path = PARALLEL if variant == "parallel" else SEQUENTIAL
        ticker = f"{variant[:3].upper()}{self.count:03d}"
        llm_before, host_before = self.stand.counters(), self.host.stats()
        sent = submit(self.session, self.host.base_url, ticker, path)
        if sent.status != 202:
            raise RuntimeError(f"POST {path} answered {sent.status}")
        view, seen = follow(
            self.session, self.host.base_url, sent.job_id, TIMEOUT_SECONDS, POLL_SECONDS
        )
        time.sleep(0.2)  # let the final episode's counters land
        return Run(
            variant=variant,
            job_id=sent.job_id,
            status=view["status"],
            seconds=server_seconds(view),
            observed=seen - sent.sent,
            post_seconds=sent.seconds,
            llm=_delta(self.stand.counters(), llm_before),
            usage=dict(view.get("usage") or {}),
            grounding=view.get("grounding"),
            host=_delta(self.host.stats(), host_before),
        )


def _chain(runs: list[Invocation], latencies: Latencies) -> dict[str, float]:
    """Split a parallel memo's activity invocations on its critical path into injected latency
    and the rest: the activities' own work (storage, parsing, metrics, the model client) and
    their invocations' way to a worker and back (pickling, the pipe, the worker's scheduling)."""
    by_name: dict[str, list[Invocation]] = {}
    for run in sorted(runs, key=lambda r: r.started):
        by_name.setdefault(run.name, []).append(run)
    injected = {
        names.FETCH_MARKET_DATA: latencies.market,
        names.RESEARCH_NEWS: latencies.news,
        names.RUN_QUANT_ANALYST: latencies.llm,
        names.WRITE_MEMO: latencies.llm,
    }
    stages = by_name.get(names.SET_JOB_STAGE, [])
    market = by_name.get(names.FETCH_MARKET_DATA, [])
    quant = by_name.get(names.RUN_QUANT_ANALYST, [])
    news = by_name.get(names.RESEARCH_NEWS, [])
    memo = by_name.get(names.WRITE_MEMO, [])
    if len(stages) < 3 or not market or not quant or not memo:
        return {}
    evidence: list[Invocation] = [max(market, key=lambda r: r.ended), quant[0]]
    if news and news[0].ended > quant[0].ended:
        evidence = news[:1]
    chain = [stages[0], *evidence, stages[1], memo[0], stages[2]]
    spent = sum(r.ended - r.started for r in chain)
    latency = sum(injected.get(r.name, 0.0) for r in chain)
    return {
        "activities_on_path_s": round(spent, 3),
        "injected_latency_on_path_s": round(latency, 3),
        "activity_work_on_path_s": round(spent - latency, 3),
        "stage_updates_s": round(sum(r.ended - r.started for r in stages[:3]), 3),
    }


def _overhead(parallel: list[Run], timings: Timings, latencies: Latencies) -> dict[str, Any]:
    """Where a parallel memo's time above the bound goes (median over the runs)."""
    rows = []
    for run in parallel:
        chain = _chain(timings.activities(run.job_id), latencies)
        if not chain or run.seconds is None:
            continue
        host_time = run.seconds - chain["activities_on_path_s"]
        rows.append({**chain, "host_between_activities_s": round(host_time, 3)})
    if not rows:
        return {}
    return {key: round(median([r[key] for r in rows]), 3) for key in rows[0]}


def _median_seconds(runs: list[Run]) -> float | None:
    values = [r.seconds for r in runs if r.seconds is not None and r.status == "completed"]
    return round(median(values), 3) if values else None


def run_single(latencies: Latencies, repeats: int, workdir: Path) -> dict[str, Any]:
    with Azurite() as azurite, standins(latencies) as stand, instrumented() as timings:
        root = app_root(workdir / "single-app", HUB)

        def settings() -> dict[str, str]:  # the stand-ins' latencies as they are now
            return stand.app_settings(
                AzureWebJobsStorage=azurite.connection_string, BENCHMARK_CACHE_SECONDS="0"
            )

        with bench_host(MEMO_APP, root, settings(), WORKERS) as host:
            runner = Runner(host, stand)
            warm_up = runner.run("parallel")
            runs: list[Run] = []
            for _ in range(repeats):
                runs.append(runner.run("parallel"))
                runs.append(runner.run("sequential"))
        stand.set_latencies(ZERO)
        with bench_host(MEMO_APP, root, settings(), WORKERS) as host:
            zero = Runner(host, stand, runner.count)
            zero.run("parallel")  # its warm-up
            floor = [zero.run("parallel") for _ in range(repeats)]
        stand.set_latencies(latencies)
    parallel = [r for r in runs if r.variant == "parallel"]
    sequential = [r for r in runs if r.variant == "sequential"]
    wall = _median_seconds(parallel)
    sequential_wall = _median_seconds(sequential)
    bound = latencies.critical_path()
    sequential_bound = latencies.sequential()
    return {
        "single": {
            "latencies_s": latencies.as_json(),
            "wall_s": wall,
            "bound_s": round(bound, 3),
            "ratio": round(wall / bound, 3) if wall else None,
            "observed_wall_s": round(median([r.observed for r in parallel]), 3),
            "sequential_wall_s": sequential_wall,
            "sequential_bound_s": round(sequential_bound, 3),
            "sequential_ratio": (
                round(sequential_wall / sequential_bound, 3) if sequential_wall else None
            ),
            "parallel_over_sequential": (
                round(wall / sequential_wall, 3) if wall and sequential_wall else None
            ),
            "zero_latency_wall_s": _median_seconds(floor),
            "overhead_breakdown_s": _overhead(parallel, timings, latencies),
            "repeats": repeats,
            "worker_processes": WORKERS,
            "warm_up": warm_up.as_json(),
            "runs": [r.as_json() for r in runs],
        },
        "llm": _llm(parallel, sequential),
    }


def _llm(parallel: list[Run], sequential: list[Run]) -> dict[str, Any]:
    def per_memo(runs: list[Run]) -> dict[str, Any]:
        return {
            "memos": len(runs),
            "calls": sorted({r.llm["calls"] for r in runs}),
            "prompt_tokens": round(median([r.llm["prompt_tokens"] for r in runs])),
            "completion_tokens": round(median([r.llm["completion_tokens"] for r in runs])),
            "grounding": sorted({str(r.grounding) for r in runs}),
            "job_usage_matches_standin": all(
                r.usage.get("llm_calls") == r.llm["calls"]
                and r.usage.get("prompt_tokens") == r.llm["prompt_tokens"]
                and r.usage.get("completion_tokens") == r.llm["completion_tokens"]
                for r in runs
            ),
        }

    both = parallel + sequential
    calls = {r.llm["calls"] for r in both}
    return {
        "source": "the OpenAI stand-in's counters (answered calls, prompt and completion "
        "tokens at four characters a token), checked against the job's `usage`",
        "calls_per_memo": calls.pop() if len(calls) == 1 else sorted(calls),
        "prompt_tokens_per_memo": round(median([r.llm["prompt_tokens"] for r in both])),
        "completion_tokens_per_memo": round(median([r.llm["completion_tokens"] for r in both])),
        "all_grounded": all(r.grounding == "grounded" for r in both),
        "parallel": per_memo(parallel),
        "sequential": per_memo(sequential),
    }
