"""`python -m stockmemo backtest --tickers A,B,C --start YYYY-MM-DD --end YYYY-MM-DD --every N`:
score the verdicts of point-in-time memos against what each ticker did next, through the API.

1. The decision dates: every N-th trading day from `start` to `end`, the trading days being the
   benchmark's (`GET /api/prices/SPY?start=&end=`), beginning with the first.
2. It says how many analyses that is (tickers x dates) before anything starts; past 200 it
   stops (exit 2) unless `--yes`.
3. One point-in-time batch per date (`POST /api/batches {"tickers", "as_of"}`), each with its
   own Idempotency-Key derived from the tickers and the date: a rerun answers the batches the
   first run started and starts nothing new. At most `--parallel` batches run at once; on
   `429 quota_exceeded` it says so, waits the `Retry-After` seconds and submits again.
4. Once every batch has ended, each completed child's verdict is scored with the forward excess
   return at 21 and 63 trading days, from `GET /api/prices/{symbol}` of the ticker and of the
   benchmark (`shared.domain.track_record`), and summarised per horizon. When a model wrote the
   memos (a child's `usage.llm_calls` > 0), the decisions before the model's training cutoff
   (`--training-cutoff`, else the app's LLM_TRAINING_CUTOFF from `GET /api/health`) are flagged.
5. `backtest.json`, `backtest.md`, `long_short.svg` and `calibration.svg` go to `--output`; it
   prints where, then the summary table and the verdict of each horizon.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from stockmemo.client import DEFAULT_API, TERMINAL, ApiError, MemoClient

CONFIRM_ABOVE = 200
DEFAULT_OUTPUT = Path("backtest-results")
# Forward windows reach 63 trading days past the last decision: about 92 calendar days.
FORWARD_DAYS = 100
LEAD_DAYS = 10
EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3


def add_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "backtest", help="score point-in-time verdicts against the forward excess return",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--tickers", required=True,
                     help="comma-separated tickers (at least 2: each date is one batch)")
    run.add_argument("--start", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    run.add_argument("--end", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
    run.add_argument("--every", required=True, type=int, metavar="N",
                     help="trading days between decision dates (63: quarterly)")
    run.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                     help=f"where the results go (default {DEFAULT_OUTPUT}/)")
    run.add_argument("--yes", action="store_true",
                     help=f"start more than {CONFIRM_ABOVE} analyses without stopping")
    run.add_argument("--parallel", type=int, default=3,
                     help="batches in flight at once (default 3)")
    run.add_argument("--training-cutoff", type=date.fromisoformat, default=None,
                     help="the model's training cutoff (default: the app's LLM_TRAINING_CUTOFF)")
    run.add_argument("--api", default=os.environ.get("STOCKMEMO_API_URL", DEFAULT_API),
                     help=f"base URL of the API (default {DEFAULT_API})")
    run.add_argument("--wait", type=float, default=7200,
                     help="seconds to wait for all batches (default 7200)")
    run.add_argument("--http-timeout", type=float, default=60, help="seconds per HTTP call")
    run.set_defaults(handler=backtest_command)


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def idempotency_key(tickers: list[str], as_of: date) -> str:
    """One key per (tickers, as_of): the same backtest asks for the same batches."""
    digest = hashlib.sha256(f"{','.join(tickers)}|{as_of.isoformat()}".encode()).hexdigest()
    return f"backtest-{as_of.isoformat()}-{digest[:32]}"


def decision_dates(trading_days: list[date], every: int) -> list[date]:
    return trading_days[::every]


def backtest_command(args: argparse.Namespace) -> int:
    client = MemoClient(args.api, os.environ.get("STOCKMEMO_API_KEY"), timeout=args.http_timeout)
    try:
        return run_backtest(client, args)
    except ApiError as exc:
        extra = f" (field {exc.field}, value {exc.value!r})" if exc.field else ""
        say(f"error: {exc.code}: {exc.message}{extra}")
        if exc.status == 0:
            return EXIT_UNREACHABLE
        return EXIT_REFUSED if 400 <= exc.status < 500 else EXIT_FAILED


def run_backtest(client: MemoClient, args: argparse.Namespace) -> int:
    tickers: list[str] = []
    for part in args.tickers.split(","):
        if part.strip() and part.strip().upper() not in tickers:
            tickers.append(part.strip().upper())
    if len(tickers) < 2:
        say("error: a backtest needs at least 2 tickers (each decision date is one batch)")
        return EXIT_REFUSED
    if args.every < 1 or args.start > args.end:
        say("error: --every must be at least 1 and --start on or before --end")
        return EXIT_REFUSED

    calendar = client.get_json("prices/SPY", start=args.start.isoformat(),
                               end=args.end.isoformat())
    if calendar.get("simulated"):
        say("error: the API's market data is simulated (MARKET_DATA_PROVIDER=simulated): its "
            "prices are made up, so forward returns mean nothing; run the app with history or "
            "yfinance")
        return EXIT_REFUSED
    days = [date.fromisoformat(d) for d in calendar["dates"]]
    dates = decision_dates(days, args.every)
    benchmark = calendar.get("name") or calendar["symbol"]
    total = len(tickers) * len(dates)
    say(f"backtest: {len(tickers)} tickers x {len(dates)} decision dates (every {args.every} "
        f"trading days of {benchmark} from {args.start} to {args.end}) = {total} analyses")
    if not dates:
        say("error: no trading day in that range")
        return EXIT_REFUSED
    if total > CONFIRM_ABOVE and not args.yes:
        say(f"error: {total} analyses is more than {CONFIRM_ABOVE}; rerun with --yes to start "
            "them (each counts against the hour's ANALYSES_PER_HOUR quota)")
        return EXIT_REFUSED

    started = time.monotonic()
    batches = run_batches(client, tickers, dates, args.parallel, args.wait)
    say(f"all {len(dates)} batches ended in {time.monotonic() - started:.0f}s")
    return score_and_write(client, args, tickers, dates, batches, benchmark)


def run_batches(
    client: MemoClient, tickers: list[str], dates: list[date], parallel: int, wait: float,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[date, dict[str, Any]]:
    """Submit one batch per date, at most `parallel` unfinished at once, and wait for all."""
    deadline = time.monotonic() + wait
    queue = list(dates)
    running: dict[date, str] = {}
    ended: dict[date, dict[str, Any]] = {}
    while queue or running:
        while queue and len(running) < max(parallel, 1):
            as_of = queue[0]
            try:
                accepted = client.submit_point_in_time_batch(
                    tickers, as_of.isoformat(), idempotency_key(tickers, as_of))
            except ApiError as exc:
                if exc.status != 429:
                    raise
                seconds = float(exc.retry_after or 60)
                say(f"quota reached (429 {exc.code}): waiting {seconds:.0f}s as Retry-After "
                    f"says, then submitting the batch as of {as_of} again")
                sleep(seconds)
                break
            queue.pop(0)
            running[as_of] = accepted["statusQueryGetUri"]
            say(f"as of {as_of}: batch {accepted['id']}")
        changed = False
        for as_of, url in list(running.items()):
            batch, _ = client.status(url)
            if batch.get("status") in TERMINAL:
                changed = True
                del running[as_of]
                ended[as_of] = batch
                counts = batch.get("counts") or {}
                tally = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
                say(f"as of {as_of}: batch {batch['id']} {batch['status']} ({tally}); "
                    f"{len(ended)} of {len(dates)} dates done")
        if time.monotonic() > deadline:
            raise ApiError(0, "client_timeout", f"the batches did not finish within {wait}s")
        if running and not changed:
            sleep(1.0)
    return ended


def score_and_write(
    client: MemoClient, args: argparse.Namespace, tickers: list[str], dates: list[date],
    batches: dict[date, dict[str, Any]], benchmark: str,
) -> int:
    # Imported here: `analyze` starts without pydantic's models.
    from shared.domain.track_record import HORIZONS, Decision, forward_excess_return, summarise
    from shared.render.track_record import (
        backtest_json,
        calibration_svg,
        cumulative_long_short_svg,
        render_markdown,
    )

    children = [(as_of, item) for as_of in sorted(batches)
                for item in batches[as_of].get("items", []) if item.get("status") == "completed"]
    failed = sum(1 for b in batches.values() for i in b.get("items", [])
                 if i.get("status") != "completed")
    with ThreadPoolExecutor(max_workers=8) as pool:
        jobs = list(pool.map(lambda pair: client.job(pair[1]["id"]), children))
    model_written = sum(1 for job in jobs if (job.get("usage") or {}).get("llm_calls", 0) > 0)

    window = {"start": (dates[0] - timedelta(LEAD_DAYS)).isoformat(),
              "end": (dates[-1] + timedelta(FORWARD_DAYS)).isoformat()}
    bench = client.get_json("prices/SPY", **window)
    prices: dict[str, dict[str, Any]] = {}
    for ticker in tickers:
        try:
            prices[ticker] = client.get_json(f"prices/{ticker}", **window)
        except ApiError as exc:
            if exc.status != 404:
                raise
            say(f"no prices for {ticker} ({exc.code}): its verdicts are not scored")
    bench_series = ([date.fromisoformat(d) for d in bench["dates"]], bench["closes"])

    decisions = []
    for (as_of, item), job in zip(children, jobs, strict=True):
        series = prices.get(item["ticker"])
        ticker_series = (([date.fromisoformat(d) for d in series["dates"]], series["closes"])
                         if series else None)
        decisions.append(Decision(
            ticker=item["ticker"], as_of=as_of, job_id=item["id"], verdict=job["verdict"],
            confidence=job["confidence"],
            forward_excess_return={
                str(h): (forward_excess_return(ticker_series, bench_series, as_of, h)
                         if ticker_series else None)
                for h in HORIZONS
            },
        ))
    cutoff = None
    if model_written:
        cutoff = args.training_cutoff or _server_cutoff(client)
        say(f"{model_written} memos were written by a model; training cutoff: "
            f"{cutoff.isoformat() if cutoff else 'unknown (not flagged)'}")
    records = [summarise(decisions, h, cutoff=cutoff) for h in HORIZONS]

    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    document = backtest_json(decisions, records)
    document["backtest"] = {
        "tickers": tickers, "start": args.start.isoformat(), "end": args.end.isoformat(),
        "every": args.every, "decision_dates": [d.isoformat() for d in dates],
        "batches": {d.isoformat(): b["id"] for d, b in sorted(batches.items())},
        "analyses_not_completed": failed, "benchmark": {"symbol": bench["symbol"],
                                                        "name": bench.get("name")},
        "prices_source": bench["source"], "model_written": model_written,
    }
    title = f"Backtest: {len(tickers)} tickers, {len(dates)} decision dates"
    files = {
        "backtest.json": json.dumps(document, indent=1, ensure_ascii=False) + "\n",
        "backtest.md": render_markdown(records, title=title, benchmark=benchmark),
        "long_short.svg": cumulative_long_short_svg(records),
        "calibration.svg": calibration_svg(records),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    say(f"{len(decisions)} verdicts scored ({failed} analyses did not complete); results in "
        f"{out}/: {', '.join(files)}")
    print(summary_table(records))
    return 0


def _server_cutoff(client: MemoClient) -> date | None:
    try:
        health = client.get_json("health")
    except ApiError:
        return None
    value = ((health.get("checks") or {}).get("llm") or {}).get("training_cutoff")
    return date.fromisoformat(value) if isinstance(value, str) else None


def summary_table(records: list[Any]) -> str:
    """One row per horizon, then each horizon's verdict in words, as Markdown."""
    from shared.domain.formatting import format_value
    from shared.domain.track_record import format_excess, format_ic

    def interval(estimate: Any, show: Callable[[float | None], str]) -> str:
        if estimate.interval is None:
            return show(estimate.value)
        return (f"{show(estimate.value)} ({show(estimate.interval.low)} to "
                f"{show(estimate.interval.high)})")

    def hits(record: Any, index: int) -> str:
        rate = record.hit_rates[index]
        return (f"{format_value(rate.rate, 'fraction')} vs "
                f"{format_value(rate.base_rate, 'fraction')} (n {rate.n})")

    lines = [
        "| Horizon | Scored | Dates | IC (95% interval) | Long-short (95% interval) "
        "| Buy hit rate vs base | Sell hit rate vs base | Verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for record in records:
        lines.append(
            f"| {record.horizon} trading days | {record.n_scored} of {record.n_decisions} "
            f"| {record.n_dates} | {interval(record.ic, format_ic)} "
            f"| {interval(record.long_short, format_excess)} | {hits(record, 0)} "
            f"| {hits(record, 1)} | {record.verdict.value.replace('_', ' ')} |")
    lines.append("")
    lines += [f"- {record.horizon} trading days: {record.verdict_text}" for record in records]
    return "\n".join(lines)
