"""`single` and `llm`: one memo's wall time against its critical path, its sequential figure,
and what each memo costs in model calls and tokens.

The real app runs on a host in the bench process (`bench/apps/memo`), its functions in the
host's language worker, against Azurite and the stand-ins, with BENCHMARK_CACHE_SECONDS=0 so SPY
is fetched by every memo. Each memo uses a fresh ticker, so none reuses another's cached model
answers. After one warm-up memo (imports, clients, tables), `repeats` memos; medians are
reported. A memo's wall time is its job's `created_at` -> `completed_at` (GET
/api/analyses/{id}); `completed_at` is stamped when persisting is scheduled, so the persist
activity itself is not in it (the client-observed time, POST sent -> terminal status seen by
polling, is reported next to it). The host's observer times every activity invocation, and
`bench.critical_path` splits each memo's wall time along its path and derives its sequential
figure from them. The zero-latency memos run on a second host whose worker starts with
SIMULATED_LATENCY_MS=0 (workers read their settings when they start), after a warm-up memo of
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.client import follow, keyed_session, server_seconds, submit
from bench.critical_path import ZERO, Latencies, breakdown, medians
from bench.observer import Recorder
from bench.runtime import MEMO_APP, SINGLE_WORKER, app_root, bench_host
from bench.standins import StandIns, standins
from bench.stats import median, rounded
from devhost.azurite import Azurite
from devhost.host import DevHost

HUB = "BenchSingle"
POLL_SECONDS = 0.1
# One language worker, the Functions host's default: one warm-up memo warms every module and
# client the memo's functions load on first use (with several workers, each would first load
# them in the middle of a measured memo, wherever the round robin sent that function first).
WORKERS = SINGLE_WORKER
TIMEOUT_SECONDS = 300


@dataclass
class Run:
    job_id: str
    status: str
    seconds: float | None  # created_at -> completed_at
    observed: float  # POST sent -> terminal status seen
    post_seconds: float
    llm: dict[str, int]  # the stand-in's counters, this memo's share
    usage: dict[str, int]
    grounding: str | None
    path: dict[str, float]  # bench.critical_path.breakdown of this memo

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "seconds": rounded(self.seconds, 3) if self.seconds is not None else None,
            "observed_seconds": round(self.observed, 3),
            "post_ms": round(self.post_seconds * 1000, 1),
            "llm_calls": self.llm["calls"],
            "prompt_tokens": self.llm["prompt_tokens"],
            "completion_tokens": self.llm["completion_tokens"],
            "job_usage": self.usage,
            "grounding": self.grounding,
            "critical_path": self.path,
        }


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after[key] - before.get(key, 0) for key in after}


class Runner:
    def __init__(
        self, host: DevHost, stand: StandIns, recorder: Recorder | None, count: int = 0
    ) -> None:
        self.host = host
        self.stand = stand
        self.recorder = recorder
        self.session = keyed_session(host.function_key)
        self.count = count  # tickers go on from here, so no memo reuses another's answers

    def run(self) -> Run:
        self.count += 1
        llm_before = self.stand.counters()
        sent = submit(self.session, self.host.base_url, f"MEMO{self.count:03d}")
        if sent.status != 202:
            raise RuntimeError(f"POST /api/analyses answered {sent.status}")
        view, seen = follow(
            self.session, self.host.base_url, sent.job_id, TIMEOUT_SECONDS, POLL_SECONDS
        )
        seconds = server_seconds(view)
        path: dict[str, float] = {}
        if self.recorder is not None and seconds is not None:
            path = breakdown(self.recorder.invocations(sent.job_id), seconds, self.stand.latencies)
        return Run(
            job_id=sent.job_id,
            status=view["status"],
            seconds=seconds,
            observed=seen - sent.sent,
            post_seconds=sent.seconds,
            llm=_delta(self.stand.counters(), llm_before),
            usage=dict(view.get("usage") or {}),
            grounding=view.get("grounding"),
            path=path,
        )


def _median_seconds(runs: list[Run]) -> float | None:
    values = [r.seconds for r in runs if r.seconds is not None and r.status == "completed"]
    return round(median(values), 3) if values else None


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return round(top / bottom, 3) if top and bottom else None


def run_single(latencies: Latencies, repeats: int, workdir: Path) -> dict[str, Any]:
    recorder = Recorder()
    with Azurite() as azurite, standins(latencies) as stand:
        root = app_root(workdir / "single-app", HUB)

        def settings() -> dict[str, str]:  # the stand-ins' latencies as they are now
            return stand.app_settings(
                AzureWebJobsStorage=azurite.connection_string, BENCHMARK_CACHE_SECONDS="0"
            )

        with bench_host(MEMO_APP, root, settings(), WORKERS, recorder) as host:
            runner = Runner(host, stand, recorder)
            warm_up = runner.run()
            runs = [runner.run() for _ in range(repeats)]
        stand.set_latencies(ZERO)
        with bench_host(MEMO_APP, root, settings(), WORKERS) as host:
            zero = Runner(host, stand, None, runner.count)
            zero.run()  # its warm-up
            floor = [zero.run() for _ in range(repeats)]
        stand.set_latencies(latencies)
    wall = _median_seconds(runs)
    bound = latencies.critical_path()
    path = medians([r.path for r in runs if r.status == "completed"])
    sequential = path.get("sequential_wall_s")
    sequential_bound = latencies.sequential()
    return {
        "single": {
            "latencies_s": latencies.as_json(),
            "wall_s": wall,
            "bound_s": round(bound, 3),
            "ratio": _ratio(wall, bound),
            "observed_wall_s": round(median([r.observed for r in runs]), 3),
            "sequential_wall_s": sequential,
            "sequential_bound_s": round(sequential_bound, 3),
            "sequential_ratio": _ratio(sequential, sequential_bound),
            "parallel_over_sequential": _ratio(wall, sequential),
            "sequential_method": "derived from the same memos (bench/critical_path.py): wall "
            "time + the activities run off the critical path + one host step (the median gap "
            "between activities on the path) for each of them",
            "zero_latency_wall_s": _median_seconds(floor),
            "critical_path_s": path,
            "repeats": repeats,
            "worker_processes": WORKERS,
            "warm_up": warm_up.as_json(),
            "runs": [r.as_json() for r in runs],
        },
        "llm": _llm(runs + floor),
    }


def _llm(runs: list[Run]) -> dict[str, Any]:
    calls = {r.llm["calls"] for r in runs}
    return {
        "source": "the OpenAI stand-in's counters (answered calls, prompt and completion "
        "tokens at four characters a token), checked against the job's `usage`",
        "memos": len(runs),
        "calls_per_memo": calls.pop() if len(calls) == 1 else sorted(calls),
        "prompt_tokens_per_memo": round(median([r.llm["prompt_tokens"] for r in runs])),
        "completion_tokens_per_memo": round(median([r.llm["completion_tokens"] for r in runs])),
        "all_grounded": all(r.grounding == "grounded" for r in runs),
        "job_usage_matches_standin": all(
            r.usage.get("llm_calls") == r.llm["calls"]
            and r.usage.get("prompt_tokens") == r.llm["prompt_tokens"]
            and r.usage.get("completion_tokens") == r.llm["completion_tokens"]
            for r in runs
        ),
    }
