"""`python -m stockmemo analyze TICKER [TICKER ...] [--api URL]`: submit, follow the stages, print
the memo; with several tickers, submit them as one batch, follow each ticker's stage, and print
the comparison memo. `python -m stockmemo history load --sample | --csv FILE`: fill the price
store MARKET_DATA_PROVIDER=history reads (`stockmemo/history.py`).
`python -m stockmemo backtest --tickers A,B --start D --end D --every N`: score point-in-time
verdicts against what followed (`stockmemo/backtest.py`).
`python -m stockmemo watch NAME TICKER... --schedule CRON`, `python -m stockmemo watchlists`:
create and list scheduled watchlists (`stockmemo/watchlists.py`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stockmemo import backtest, history, watchlists
from stockmemo.client import (
    DEFAULT_API,
    ApiError,
    ChildChange,
    MemoClient,
    refusal_details,
    tickers_of,
)

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3


def analyze(args: argparse.Namespace) -> int:
    client = MemoClient(args.api, os.environ.get("STOCKMEMO_API_KEY"), timeout=args.http_timeout)
    tickers = tickers_of(args.tickers)
    try:
        if len(tickers) > 1:
            return analyze_batch(client, tickers, args.wait, args.as_of)
        # One ticker (or none that survived the split: the server says why) is one analysis.
        ticker = tickers[0] if tickers else " ".join(args.tickers)
        return analyze_one(client, ticker, args.wait, args.as_of)
    except ApiError as exc:
        print(f"error: {exc.code}: {exc.message}{refusal_details(exc)}", file=sys.stderr)
        if exc.status == 0:
            return EXIT_UNREACHABLE
        return EXIT_REFUSED if 400 <= exc.status < 500 else EXIT_FAILED


def analyze_one(client: MemoClient, ticker: str, wait: float, as_of: str | None = None) -> int:
    accepted = client.submit(ticker, as_of)
    print(f"submitted {ticker.upper()}: job {accepted['id']}", file=sys.stderr)
    job: dict[str, Any] = {}
    for job in client.follow(accepted["statusQueryGetUri"], timeout=wait):
        print(f"  stage: {job['stage']}", file=sys.stderr)
    if job.get("status") != "completed":
        error = job.get("error") or {}
        code = error.get("code", job.get("status", "failed"))
        print(f"error: {code}: {error.get('message', 'the job did not complete')}",
              file=sys.stderr)
        return EXIT_FAILED
    print(client.report(job["report_url"]))
    print(
        f"verdict {job.get('verdict')} at confidence {job.get('confidence')}; "
        f"stored as reports/{job['ticker']}/{job['id']}/memo.md "
        f"(and evidence.json); report URL {job['report_url']}",
        file=sys.stderr,
    )
    return 0


def change_line(change: ChildChange) -> str:
    """`  AAPL stage: writing_memo`; a failed child with its code and message, a completed one
    with its verdict."""
    item = change.item
    line = f"  {item['ticker']} stage: {change.stage}"
    if change.stage == "failed":
        error = change.error or {}
        code = item.get("error_code") or error.get("code") or "failed"
        message = error.get("message")
        line += f" ({code}{': ' + message if message else ''})"
    elif change.stage == "completed":
        line += f" (verdict {item.get('verdict')} at confidence {item.get('confidence')})"
    return line


def analyze_batch(
    client: MemoClient, tickers: list[str], wait: float, as_of: str | None = None
) -> int:
    accepted = client.submit_batch(tickers, as_of)
    print(f"submitted {', '.join(tickers)}: batch {accepted['id']}", file=sys.stderr)
    batch: dict[str, Any] = {}
    for seen, changes in client.follow_batch(accepted["statusQueryGetUri"], timeout=wait):
        batch = seen
        for change in changes:
            print(change_line(change), file=sys.stderr)
    counts = batch.get("counts") or {}
    tally = ", ".join(f"{n} {status}" for status, n in counts.items() if n) or "no analyses"
    if batch.get("status") != "completed":
        error = batch.get("error") or {}
        code = error.get("code", batch.get("status", "failed"))
        message = error.get("message", f"the batch did not complete ({tally})")
        print(f"error: {code}: {message}", file=sys.stderr)
        return EXIT_FAILED
    print(client.report(batch["report_url"]))
    print(f"batch {batch['id']}: {tally}; report URL {batch['report_url']}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stockmemo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "analyze", help="write a research memo for one ticker, or compare several")
    run.add_argument("tickers", nargs="+", metavar="TICKER",
                     help="one ticker, or several (spaces or commas) to compare as one batch")
    run.add_argument("--api", default=os.environ.get("STOCKMEMO_API_URL", DEFAULT_API),
                     help=f"base URL of the API (default {DEFAULT_API})")
    run.add_argument("--wait", type=float, default=900, help="seconds to wait for the memo")
    run.add_argument("--as-of", metavar="YYYY-MM-DD",
                     help="a point-in-time analysis: only evidence dated on or before that day")
    run.add_argument("--http-timeout", type=float, default=30, help="seconds per HTTP call")
    history.add_parser(commands)
    backtest.add_parser(commands)
    watchlists.add_parsers(commands)
    args = parser.parse_args(argv)
    if args.command in ("history", "backtest", "watch", "watchlists"):
        return int(args.handler(args))
    return analyze(args)


if __name__ == "__main__":
    sys.exit(main())
