"""`python -m stockmemo watch NAME TICKER... --schedule CRON [--webhook-url URL]`: create or
replace a watchlist (PUT /api/watchlists/{name}); `python -m stockmemo watchlists`: list the
caller's watchlists as a table, each with its last run and what changed in it."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from stockmemo.client import DEFAULT_API, ApiError, MemoClient, refusal_details, tickers_of

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3


def change_text(change: dict[str, Any]) -> str:
    """`AAPL hold→buy`, `MSFT new buy` (a first memo), `NVDA no memo` (none written)."""
    before, after = change.get("verdict_before"), change.get("verdict_after")
    ticker = change.get("ticker", "?")
    if after is None:
        text = f"{ticker} no memo"
    elif before is None:
        text = f"{ticker} new {after}"
    else:
        text = f"{ticker} {before}→{after}"
    excess = change.get("excess_return")
    if isinstance(excess, int | float):
        text += f" ({excess * 100:+.1f}% vs benchmark)"
    return text


def last_run_text(watchlist: dict[str, Any]) -> str:
    runs = watchlist.get("runs") or []
    if not runs:
        return "no runs yet"
    run = runs[0]
    text = str(run.get("status", "?"))
    if run.get("reason"):
        text += f" ({run['reason']})"
    changes = run.get("changes") or []
    if changes:
        text += ": " + "; ".join(change_text(c) for c in changes)
    if run.get("batch_id"):
        text += f" [batch {run['batch_id']}]"
    return text


def table(items: list[dict[str, Any]]) -> str:
    header = ("NAME", "TICKERS", "SCHEDULE", "NEXT RUN (UTC)", "LAST RUN")
    rows = [
        (
            str(w.get("name", "")),
            ",".join(w.get("tickers") or []),
            str(w.get("schedule", "")),
            str(w.get("next_run_at") or "-"),
            last_run_text(w),
        )
        for w in items
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    lines = []
    for row in [header, *rows]:
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def guarded(action: Callable[[], int]) -> int:
    """Run `action`; an API refusal prints its code, field and value and exits as `analyze`."""
    try:
        return action()
    except ApiError as exc:
        print(f"error: {exc.code}: {exc.message}{refusal_details(exc)}", file=sys.stderr)
        if exc.status == 0:
            return EXIT_UNREACHABLE
        return EXIT_REFUSED if 400 <= exc.status < 500 else EXIT_FAILED


def watch(args: argparse.Namespace) -> int:
    client = MemoClient(args.api, os.environ.get("STOCKMEMO_API_KEY"), timeout=args.http_timeout)

    def create() -> int:
        status, view = client.put_watchlist(
            args.name, tickers_of(args.tickers), args.schedule, args.webhook_url
        )
        verb = "created" if status == 201 else "replaced"
        print(
            f"{verb} watchlist {view['name']}: {', '.join(view['tickers'])} on "
            f"'{view['schedule']}' (UTC); next run {view.get('next_run_at') or '-'}"
        )
        secret = view.get("webhook_secret")
        if secret:
            print(
                "WARNING: the webhook secret is shown only now; store it to verify "
                "X-Stockmemo-Signature-256 (HMAC-SHA256 over the raw body):",
                file=sys.stderr,
            )
            print(f"webhook_secret: {secret}")
        return 0

    return guarded(create)


def watchlists(args: argparse.Namespace) -> int:
    client = MemoClient(args.api, os.environ.get("STOCKMEMO_API_KEY"), timeout=args.http_timeout)

    def show() -> int:
        items = client.watchlists()
        print(table(items) if items else "no watchlists")
        return 0

    return guarded(show)


def add_parsers(commands: Any) -> None:
    api_help = f"base URL of the API (default {DEFAULT_API})"
    api_default = os.environ.get("STOCKMEMO_API_URL", DEFAULT_API)
    watch_parser = commands.add_parser(
        "watch", help="create or replace a watchlist re-analysed on a schedule")
    watch_parser.add_argument("name", metavar="NAME", help="1-40 characters of a-z, 0-9 and '-'")
    watch_parser.add_argument("tickers", nargs="+", metavar="TICKER",
                              help="the tickers (spaces or commas)")
    watch_parser.add_argument("--schedule", required=True,
                              help="NCRONTAB with six fields, seconds first, UTC, "
                              "e.g. '0 0 14 * * 1-5'")
    watch_parser.add_argument("--webhook-url", help="an https URL to notify after each run")
    watch_parser.add_argument("--api", default=api_default, help=api_help)
    watch_parser.add_argument("--http-timeout", type=float, default=30,
                              help="seconds per HTTP call")
    watch_parser.set_defaults(handler=watch)
    list_parser = commands.add_parser(
        "watchlists", help="list your watchlists with their last run's changes")
    list_parser.add_argument("--api", default=api_default, help=api_help)
    list_parser.add_argument("--http-timeout", type=float, default=30,
                             help="seconds per HTTP call")
    list_parser.set_defaults(handler=watchlists)
