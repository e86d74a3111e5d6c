"""`batch`: one batch of n tickers at BATCH_CONCURRENCY c against its ideal, ceil(n / c) single
memos one after another plus the Portfolio Strategist's one model call.

The real app runs on a host in the bench process with one language worker, as in `single`, with
the same stand-in latencies and BENCHMARK_CACHE_SECONDS=0 (every child fetches SPY), a fresh
ticker per child. Its host.json lets 3c activities run at once (a child fans out to three: the
ticker, SPY, news) and its worker runs activities + orchestrators on as many sync threads, as the
load part's does. After one warm-up batch of two tickers, one batch of n is submitted and the
host's observer says when it ended; nothing polls it meanwhile (each GET of a running batch
reads its unfinished children's rows in the worker).

Wall time runs from the batch's `created_at` (admission) to the end of its `compare_batch`
activity, as the observer saw it. The row's own `completed_at` (stamped by compare_batch when
the comparison is stored) is reported beside it and should be a few milliseconds earlier. The
observer's times (monotonic) are put on the row's clock with this process's offset between the
two clocks.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench.client import keyed_session, server_seconds
from bench.critical_path import Latencies, breakdown, medians
from bench.observer import Recorder
from bench.runtime import MEMO_APP, SINGLE_WORKER, app_root, bench_host, durable_limit
from bench.standins import standins
from bench.stats import median
from devhost.azurite import Azurite
from shared import names

HUB = "BenchBatch"
WARM_UP = ["WARMA", "WARMB"]  # the smallest batch: loads the batch's modules and clients
SUMMARY_GROUNDED = "- Grounding: grounded"  # the comparison memo's line for its summary
# LLM_TOKEN_BUDGET (a job's, 20,000 by default) also caps the Portfolio Strategist's one call,
# and its prompt grows with the batch: for 50 tickers it is estimated at ~27,000 tokens, so at
# the default the call is refused (budget_exceeded) and the comparison carries the rules'
# summary instead, with no model call. The ideal counts that call, so the bench lifts the cap,
# as it lifts BATCH_MAX_TICKERS; a memo spends ~3,000, so nothing else is refused either way.
TOKEN_BUDGET = "1000000"


@dataclass(frozen=True)
class Limits:
    """The batch host's concurrency: host.json's, raised so c children's activities fit."""

    activities: int
    orchestrators: int

    @classmethod
    def of(cls, concurrency: int) -> Limits:
        return cls(
            activities=max(3 * concurrency, durable_limit("maxConcurrentActivityFunctions")),
            orchestrators=max(concurrency + 1,
                              durable_limit("maxConcurrentOrchestratorFunctions")),
        )

    @property
    def threads(self) -> int:
        """The worker's sync threads: every activity and orchestrator it may run at once."""
        return self.activities + self.orchestrators

    def host_json(self) -> dict[str, int]:
        return {
            "maxConcurrentActivityFunctions": self.activities,
            "maxConcurrentOrchestratorFunctions": self.orchestrators,
        }


def ideal_seconds(tickers: int, concurrency: int, single: float, llm: float) -> float:
    """ceil(tickers / concurrency) single memos one after another, then one model call."""
    return math.ceil(tickers / concurrency) * single + llm


def handoffs(starts: list[float], ends: list[float], concurrency: int) -> list[float]:
    """The gaps between a child ending and the child started in its place: the batch takes
    ended children in the order they ended, so the k-th to end lets the (c + k)-th start."""
    starts, ends = sorted(starts), sorted(ends)
    return [start - end for start, end in zip(starts[concurrency:], ends, strict=False)]


def _seconds(row: datetime, moment: float, offset: float) -> float:
    """A monotonic moment as seconds after a row's timestamp."""
    return moment + offset - row.timestamp()


def _get(session: requests.Session, url: str) -> requests.Response:
    answer = session.get(url, timeout=60)
    answer.raise_for_status()
    return answer


class BatchRunner:
    def __init__(self, base_url: str, function_key: str, recorder: Recorder) -> None:
        self.base_url = base_url
        self.session = keyed_session(function_key)
        self.recorder = recorder

    def run(self, tickers: list[str], timeout: float) -> tuple[dict[str, Any], float]:
        """Submit a batch, wait for the observer to see it end: its view and the POST's
        seconds."""
        sent = time.monotonic()
        answer = self.session.post(
            f"{self.base_url}/api/batches", json={"tickers": tickers}, timeout=120
        )
        post_seconds = time.monotonic() - sent
        if answer.status_code != 202:
            raise RuntimeError(f"POST /api/batches answered {answer.status_code}: {answer.text}")
        batch_id = answer.json()["id"]
        deadline = time.monotonic() + timeout
        while self.recorder.finished_at(batch_id) is None and time.monotonic() < deadline:
            time.sleep(0.1)
        view: dict[str, Any] = _get(self.session, f"{self.base_url}/api/batches/{batch_id}").json()
        return view, post_seconds

    def child(self, job_id: str) -> dict[str, Any]:
        data: dict[str, Any] = _get(self.session, f"{self.base_url}/api/analyses/{job_id}").json()
        return data

    def summary_grounded(self, batch_id: str) -> bool:
        report = _get(self.session, f"{self.base_url}/api/batches/{batch_id}/report").text
        return any(line.startswith(SUMMARY_GROUNDED) for line in report.splitlines())


def _timeline(
    recorder: Recorder,
    view: dict[str, Any],
    concurrency: int,
    latencies: Latencies,
    offset: float,
) -> dict[str, Any]:
    """Where the batch's wall time went, from what the host's observer saw (seconds)."""
    created = datetime.fromisoformat(view["created_at"])
    ids = [item["id"] for item in view["items"]]
    starts, ends, memos, persists, paths = [], [], [], [], []
    for job_id in ids:
        replays, finished = recorder.replays(job_id), recorder.finished_at(job_id)
        if not replays or finished is None:
            continue
        started = min(r.started for r in replays)
        starts.append(started)
        ends.append(finished)
        persist = [c for c in recorder.invocations(job_id) if c.function == names.PERSIST_REPORT]
        if persist:
            memo = persist[0].started - started
            memos.append(memo)
            persists.append(finished - persist[0].started)
            paths.append(breakdown(recorder.invocations(job_id), memo, latencies))
    batch_calls = recorder.invocations(view["id"])
    compare = [c for c in batch_calls if c.function == names.COMPARE_BATCH]
    updates = [c.seconds for c in batch_calls if c.function == names.UPDATE_BATCH]
    finished = recorder.finished_at(view["id"])
    if not starts or not compare or finished is None:
        return {}
    (step,) = compare[-1:]
    compared = step.started + step.seconds
    gaps = handoffs(starts, ends, concurrency)
    path = medians(paths)
    return {
        "wall_s": round(_seconds(created, compared, offset), 3),
        "to_first_child_s": round(_seconds(created, min(starts), offset), 3),
        "children_s": round(max(ends) - min(starts), 3),
        "last_child_to_compare_s": round(step.started - max(ends), 3),
        "compare_s": round(step.seconds, 3),
        "compare_attempts": len(compare),
        "compare_to_terminal_checkpoint_s": round(finished - compared, 3),
        "child_p50_s": round(median([e - s for s, e in zip(starts, ends, strict=True)]), 3),
        "child_memo_p50_s": round(median(memos), 3) if memos else None,
        "child_persist_and_end_p50_s": round(median(persists), 3) if persists else None,
        "child_activity_work_on_path_p50_s": path.get("activity_work_on_path_s"),
        "child_host_between_activities_p50_s": path.get("host_between_activities_s"),
        "handoff_p50_s": round(median(gaps), 3) if gaps else None,
        "handoff_max_s": round(max(gaps), 3) if gaps else None,
        "update_batch_calls": len(updates),
        "update_batch_p50_ms": round(1000 * median(updates), 1) if updates else None,
        "update_batch_total_s": round(sum(updates), 3),
    }


def _split(timeline: dict[str, Any], waves: int, single: float, llm: float) -> dict[str, float]:
    """wall - ideal as the sum of its parts: the start, the children beyond `waves` single
    memos, the last child to the comparison, and the comparison beyond its model call."""
    if not timeline:
        return {}
    return {
        "start_s": timeline["to_first_child_s"],
        "children_over_waves_s": round(timeline["children_s"] - waves * single, 3),
        "last_child_to_compare_s": timeline["last_child_to_compare_s"],
        "compare_over_model_call_s": round(timeline["compare_s"] - llm, 3),
    }


def run_batch(
    latencies: Latencies, tickers: int, concurrency: int, single: float | None, workdir: Path
) -> dict[str, Any]:
    limits = Limits.of(concurrency)
    recorder = Recorder()
    symbols = [f"B{i:03d}" for i in range(1, tickers + 1)]
    waves = math.ceil(tickers / concurrency)
    timeout = max(300.0, 4 * waves * latencies.sequential() + 120)
    with Azurite() as azurite, standins(latencies) as stand:
        root = app_root(workdir / "batch-app", HUB, limits.host_json())
        settings = stand.app_settings(
            AzureWebJobsStorage=azurite.connection_string,
            BENCHMARK_CACHE_SECONDS="0",
            BATCH_MAX_TICKERS=str(max(tickers, len(WARM_UP))),
            BATCH_CONCURRENCY=str(concurrency),
            PYTHON_THREADPOOL_THREAD_COUNT=str(limits.threads),
            LLM_TOKEN_BUDGET=TOKEN_BUDGET,
        )
        with bench_host(MEMO_APP, root, settings, SINGLE_WORKER, recorder) as host:
            runner = BatchRunner(host.base_url, host.function_key, recorder)
            runner.run(WARM_UP, timeout)
            before = stand.counters()
            view, post_seconds = runner.run(symbols, timeout)
            calls = stand.counters()["calls"] - before["calls"]
            offset = time.time() - time.monotonic()
            children = [runner.child(item["id"]) for item in view["items"]]
            summary_grounded = view["status"] == "completed" and runner.summary_grounded(
                view["id"]
            )
    timeline = _timeline(recorder, view, concurrency, latencies, offset)
    wall = timeline.get("wall_s") if view["status"] == "completed" else None
    ideal = ideal_seconds(tickers, concurrency, single, latencies.llm) if single else None
    row_wall = server_seconds(view)
    return {
        "tickers": tickers,
        "concurrency": concurrency,
        "waves": waves,
        "latencies_s": latencies.as_json(),
        "worker_processes": SINGLE_WORKER,
        "max_concurrent_activity_functions": limits.activities,
        "max_concurrent_orchestrator_functions": limits.orchestrators,
        "worker_sync_threads": limits.threads,
        "llm_token_budget": int(TOKEN_BUDGET),
        "status": view["status"],
        "counts": view.get("counts"),
        "children_completed": sum(1 for c in children if c["status"] == "completed"),
        "single_wall_s": single,
        "ideal_s": round(ideal, 3) if ideal is not None else None,
        "wall_s": wall,
        "ratio": round(wall / ideal, 3) if wall and ideal else None,
        "row_wall_s": round(row_wall, 3) if row_wall is not None else None,
        "row_wall_note": "created_at -> completed_at as the batch row has them (completed_at "
        "is stamped when the comparison is stored)",
        "post_ms": round(post_seconds * 1000, 1),
        "llm_calls": calls,
        "llm_calls_expected": 2 * tickers + 1,
        "all_grounded": summary_grounded
        and all(c.get("grounding") == "grounded" for c in children),
        "timeline_s": timeline,
        "over_ideal_s": _split(timeline, waves, single, latencies.llm) if single else {},
    }
