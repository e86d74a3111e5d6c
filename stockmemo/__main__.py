"""`python -m stockmemo analyze TICKER [--api URL]`: submit, follow the stages, print the memo."""

from __future__ import annotations

import argparse
import os
import sys

from stockmemo.client import DEFAULT_API, ApiError, MemoClient

EXIT_FAILED = 1
EXIT_REFUSED = 2
EXIT_UNREACHABLE = 3


def analyze(args: argparse.Namespace) -> int:
    client = MemoClient(args.api, os.environ.get("STOCKMEMO_API_KEY"), timeout=args.http_timeout)
    try:
        accepted = client.submit(args.ticker)
        print(f"submitted {args.ticker.upper()}: job {accepted['id']}", file=sys.stderr)
        job: dict = {}
        for job in client.follow(accepted["statusQueryGetUri"], timeout=args.wait):
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
    except ApiError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        if exc.status == 0:
            return EXIT_UNREACHABLE
        return EXIT_REFUSED if 400 <= exc.status < 500 else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stockmemo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("analyze", help="write a research memo for one ticker")
    run.add_argument("ticker")
    run.add_argument("--api", default=os.environ.get("STOCKMEMO_API_URL", DEFAULT_API),
                     help=f"base URL of the API (default {DEFAULT_API})")
    run.add_argument("--wait", type=float, default=900, help="seconds to wait for the memo")
    run.add_argument("--http-timeout", type=float, default=30, help="seconds per HTTP call")
    args = parser.parse_args(argv)
    return analyze(args)


if __name__ == "__main__":
    sys.exit(main())
