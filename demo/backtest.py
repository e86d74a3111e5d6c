"""`make backtest`: the backtest on the sample's real prices, end to end on this machine.

Azurite (in memory), the bundled sample loaded into it (`python -m stockmemo history load
--sample`), the local host with MARKET_DATA_PROVIDER=history, no news, the offline writer and a
raised ANALYSES_PER_HOUR, then `python -m stockmemo backtest ... --yes` against it, as a user
would run it against a deployed app. The defaults: the sample's 20 tickers, every 63 trading
days (quarterly), 2015-01-01 to 2022-12-31. `python -m demo.backtest --help` for the knobs;
any setting already in the environment wins over these.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from demo.__main__ import ROOT, local_host
from devhost.azurite import Azurite

SAMPLE_TICKERS = ("AAPL,AMD,BAC,BBY,CVX,GE,HD,JNJ,JPM,KO,LLY,MRK,MSFT,PEP,PFE,PG,RRC,UNH,WMT,"
                  "XOM")
BACKTEST_SETTINGS = {
    "MARKET_DATA_PROVIDER": "history",
    "NEWS_PROVIDER": "none",
    "LLM_PROVIDER": "offline",
    # A batch of 20 counts 20 against the hour: 32 dates are 640 analyses.
    "ANALYSES_PER_HOUR": "100000",
    # Every child of a batch at once: the offline writer spends no tokens and the price store
    # is local, so the host's workers, not a provider, set the pace.
    "BATCH_CONCURRENCY": "20",
    "FUNCTIONS_WORKER_PROCESS_COUNT": "2",
    "JOB_DEADLINE_SECONDS": "900",
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.backtest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", default=SAMPLE_TICKERS)
    parser.add_argument("--start", default="2015-01-01")
    parser.add_argument("--end", default="2022-12-31")
    parser.add_argument("--every", default="63")
    parser.add_argument("--output", default=str(ROOT / "backtest-results"))
    parser.add_argument("--parallel", default="3", help="batches in flight at once")
    args = parser.parse_args(argv)

    env = dict(os.environ)
    for key, value in BACKTEST_SETTINGS.items():
        env.setdefault(key, value)
    started = time.monotonic()
    with Azurite() as azurite:
        env["AzureWebJobsStorage"] = azurite.connection_string
        loaded = subprocess.run(
            [sys.executable, "-m", "stockmemo", "history", "load", "--sample"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        )
        if loaded.returncode != 0:
            return loaded.returncode
        with local_host(env, "--worker-processes", env["FUNCTIONS_WORKER_PROCESS_COUNT"]) as api:
            print(f"local host at {api} (MARKET_DATA_PROVIDER={env['MARKET_DATA_PROVIDER']}, "
                  f"LLM_PROVIDER={env['LLM_PROVIDER']}, ANALYSES_PER_HOUR="
                  f"{env['ANALYSES_PER_HOUR']}, BATCH_CONCURRENCY={env['BATCH_CONCURRENCY']})",
                  file=sys.stderr)
            code = subprocess.call(
                [sys.executable, "-m", "stockmemo", "backtest", "--tickers", args.tickers,
                 "--start", args.start, "--end", args.end, "--every", args.every,
                 "--output", args.output, "--parallel", args.parallel, "--yes",
                 "--api", api],
                cwd=ROOT, env=env,
            )
    print(f"make backtest: {time.monotonic() - started:.0f}s wall time", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
