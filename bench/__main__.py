"""`python -m bench`: single memo vs critical path (and its sequential figure), LLM calls and
tokens, host overhead per orchestration step, POST latency / throughput / integrity under load,
the host's memory, and a batch of tickers against ceil(n / c) single memos plus one model call.
Prints Markdown tables and writes bench/results/latest.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.critical_path import Latencies
from bench.load import LoadOptions
from bench.report import render
from bench.runtime import REPO
from shared.domain.batches import MAX_BATCH_TICKERS, MIN_BATCH_TICKERS

RESULTS = REPO / "bench" / "results" / "latest.json"
PARTS = ("single", "host", "load", "batch")
MARKET_STAND_IN = (
    "MARKET_DATA_PROVIDER=simulated with SIMULATED_LATENCY_MS (each of the ticker's and SPY's "
    "fetches sleeps that long in its own activity). Not yfinance through a 127.0.0.1 stand-in: "
    "the yfinance provider holds one process-wide lock (YAHOO_LOCK) for every Yahoo call, so "
    "the ticker's and SPY's fetches would run one after the other and the memo's path would be "
    "market + SPY, not max(market, SPY); routing its session would also mean patching the "
    "app's module-level session."
)
STANDINS = (
    "LLM: LLM_PROVIDER=openai, OPENAI_BASE_URL -> tests.standins.openai_server with "
    "bench.standins.GroundedResponder (grounded drafts built from the prompt's own metrics and "
    "article ids), delay per call. News: NEWS_PROVIDER=firecrawl, FIRECRAWL_API_URL -> "
    "tests.standins.firecrawl_server (3 articles), delay per search. Storage: Azurite (npm), "
    "in memory, one per part."
)


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a latency cannot be negative")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a comma-separated list of whole numbers") from exc
    if not sizes or any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError("sizes must be whole numbers of at least 1")
    return sizes


def _batch_tickers(text: str) -> int:
    count = _whole(text)
    if not MIN_BATCH_TICKERS <= count <= MAX_BATCH_TICKERS:
        raise argparse.ArgumentTypeError(
            f"a batch takes {MIN_BATCH_TICKERS} to {MAX_BATCH_TICKERS} tickers"
        )
    return count


def _whole(text: str) -> int:
    try:
        count = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a whole number") from exc
    if count < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return count


def _workers(text: str) -> int:
    try:
        count = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("a whole number") from exc
    if count < 1:
        raise argparse.ArgumentTypeError("the host needs at least one worker process")
    return count


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency", type=_seconds, default=1.0,
                        help="seconds for every stand-in (default 1)")
    parser.add_argument("--market-latency", type=_seconds, help="each market fetch (ticker, SPY)")
    parser.add_argument("--news-latency", type=_seconds, help="the news search")
    parser.add_argument("--llm-latency", type=_seconds, help="each model call")
    parser.add_argument("--repeats", type=int, default=3,
                        help="memos per variant in `single` (default 3)")
    parser.add_argument("--host-sizes", type=_sizes, default=(1, 10, 50, 200),
                        help="activities per orchestration in `host` (default 1,10,50,200)")
    parser.add_argument("--load-levels", type=_sizes, default=(10, 50, 200),
                        help="jobs held in flight in `load` (default 10,50,200)")
    parser.add_argument("--probes", type=int, default=40,
                        help="measured POSTs per load level (default 40)")
    parser.add_argument("--idle-probes", type=int, default=15,
                        help="measured POSTs with nothing in flight (default 15)")
    parser.add_argument("--worker-processes", type=_workers, default=2, metavar="N",
                        help="language worker processes of the load host (default 2; `single` "
                        "and `host` run on one, the Functions host's default)")
    parser.add_argument("--batch-tickers", type=_batch_tickers, default=50, metavar="N",
                        help="tickers in the measured batch (default 50)")
    parser.add_argument("--batch-concurrency", type=_whole, default=5, metavar="C",
                        help="BATCH_CONCURRENCY of the batch host (default 5); its host.json "
                        "lets 3C activities run at once")
    parser.add_argument("--only", choices=PARTS, action="append",
                        help="run only these parts (repeatable; `batch` runs `single` too, "
                        "whose memo time its ideal is made of)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 1 repeat, host 1,10,50, load 10,50, fewer probes, "
                        "a batch of 10")
    parser.add_argument("--output", type=Path, default=RESULTS, help="the JSON file to write")
    return parser


def _latencies(args: argparse.Namespace) -> Latencies:
    def pick(value: float | None) -> float:
        return args.latency if value is None else value

    return Latencies(
        market=pick(args.market_latency), news=pick(args.news_latency), llm=pick(args.llm_latency)
    )


def _quick(args: argparse.Namespace) -> None:
    if args.quick:
        args.repeats = 1
        args.host_sizes = tuple(s for s in args.host_sizes if s <= 50) or (1, 10)
        args.load_levels = tuple(s for s in args.load_levels if s <= 50) or (10,)
        args.probes = min(args.probes, 10)
        args.idle_probes = min(args.idle_probes, 4)
        args.batch_tickers = min(args.batch_tickers, 10)


def _machine(started_load: tuple[float, ...]) -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model,
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in started_load],
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    }


def _targets(results: dict[str, Any]) -> dict[str, Any]:
    targets: dict[str, Any] = {}
    single = results.get("single")
    ratio = single["ratio"] if single else None
    targets["single_ratio"] = {"value": ratio, "limit": 1.10,
                               "met": ratio is not None and ratio <= 1.10}
    llm: dict[str, Any] = results.get("llm") or {}
    calls = llm.get("calls_per_memo")
    targets["llm_calls"] = {"value": calls, "expected": 2,
                            "met": calls == 2 and bool(llm.get("all_grounded"))}
    load = results.get("load")
    at_50 = next((lv for lv in load["levels"] if lv["in_flight"] == 50), None) if load else None
    value = at_50["p95_vs_idle"] if at_50 else None
    targets["post_p95"] = {"value": value, "limit": 3.0,
                           "interval_90pct": at_50["p95_vs_idle_90pct_interval"] if at_50 else None,
                           "met": value is not None and value <= 3.0}
    if load:
        checks = load["integrity"]
        clean = load["job_rows_no_post_answered_with"] == 0 and all(
            c["lost"] == 0 and c["duplicated"] == 0 and c["stuck"] == 0 for c in checks
        )
        targets["integrity"] = {"met": clean}
    batch = results.get("batch")
    value = batch["ratio"] if batch else None
    targets["batch_ratio"] = {"value": value, "limit": 1.2,
                              "met": value is not None and value <= 1.2}
    if batch:
        expected = batch["llm_calls_expected"]
        targets["batch_llm_calls"] = {
            "value": batch["llm_calls"], "expected": expected,
            "met": batch["llm_calls"] == expected and bool(batch["all_grounded"]),
        }
    return targets


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    _quick(args)
    parts = set(args.only or PARTS)
    if "batch" in parts:
        parts.add("single")
    latencies = _latencies(args)
    started, started_load = time.monotonic(), os.getloadavg()
    results: dict[str, Any] = {
        "command": shlex.join(["python", "-m", "bench", *(sys.argv[1:] if argv is None
                                                          else argv)]),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "market_stand_in": MARKET_STAND_IN,
        "stand_ins": STANDINS,
        "options": {
            "latencies_s": latencies.as_json(),
            "repeats": args.repeats,
            "host_sizes": list(args.host_sizes),
            "load_levels": list(args.load_levels),
            "probes": args.probes,
            "idle_probes": args.idle_probes,
            "worker_processes": args.worker_processes,
            "batch_tickers": args.batch_tickers,
            "batch_concurrency": args.batch_concurrency,
        },
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        workdir = Path(folder)
        if "single" in parts:
            from bench.single import run_single

            _log(f"single: {args.repeats} memos, then {args.repeats} with zero latency")
            results.update(run_single(latencies, args.repeats, workdir))
        if "host" in parts:
            from bench.host_overhead import run_host

            _log(f"host: orchestrations of {', '.join(map(str, args.host_sizes))} activities")
            results["host"] = run_host(args.host_sizes, workdir)
        if "load" in parts:
            from bench.load import run_load

            _log(f"load: idle, then {', '.join(map(str, args.load_levels))} jobs in flight")
            deadline = max(600, int(4 * max(args.load_levels) * latencies.sequential()) + 300)
            options = LoadOptions(
                levels=args.load_levels,
                probes=args.probes,
                idle_probes=args.idle_probes,
                deadline_seconds=deadline,
                worker_processes=args.worker_processes,
            )
            load = run_load(latencies, options, workdir)
            results["memory"] = load.pop("memory")
            results["load"] = load
        if "batch" in parts:
            from bench.batch import run_batch

            _log(f"batch: {args.batch_tickers} tickers, {args.batch_concurrency} at once")
            single = (results.get("single") or {}).get("wall_s")
            results["batch"] = run_batch(
                latencies, args.batch_tickers, args.batch_concurrency, single, workdir
            )
    results["targets"] = _targets(results)
    results["machine"] = _machine(started_load)
    results["duration_s"] = round(time.monotonic() - started, 1)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(render(results))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
