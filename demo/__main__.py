"""Run one ticker end to end: Azurite, the local Durable host, and the CLI client.

`python -m demo`: real prices, offline. The bundled sample (adjusted daily closes of 20 US
stocks and the S&P 500 index, from the skfolio wheel) is loaded into the demo's Azurite and
the memo for MSFT is written as of the sample's last day, on `MARKET_DATA_PROVIDER=history`.
`python -m demo TICKER`: any ticker, on simulated market data, and it says so. Either way no
news and the rule-based writer; any setting already in the environment wins.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from devhost.azurite import Azurite, free_port

ROOT = Path(__file__).resolve().parent.parent
REAL_PRICES_TICKER = "MSFT"
DEMO_SETTINGS = {
    "NEWS_PROVIDER": "none",
    "LLM_PROVIDER": "offline",
    "SIMULATED_LATENCY_MS": "300",
}


def wait_until_up(url: str, host: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if host.poll() is not None:
            raise SystemExit(f"the local host exited with {host.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (401 without a key): it is up
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the local host did not answer {url} within {timeout}s")


def function_key(env: dict[str, str]) -> str:
    """The host's default function key, as `python -m devhost keys` prints it."""
    listing = subprocess.check_output(
        [sys.executable, "-m", "devhost", "keys", "--root", str(ROOT)], cwd=ROOT, env=env
    )
    return str(json.loads(listing)["functionKeys"]["default"])


@contextmanager
def local_host(env: dict[str, str], *options: str) -> Iterator[str]:
    """`python -m devhost serve` of the app on a free port with `env` (and devhost `options`);
    its base URL once it answers, with STOCKMEMO_API_KEY set in `env`; stopped on exit."""
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    host = subprocess.Popen(
        [sys.executable, "-m", "devhost", "serve", "--app", "function_app:app",
         "--port", str(port), "--root", str(ROOT), "--log-level", "WARNING", *options],
        cwd=ROOT, env=env,
    )
    try:
        wait_until_up(f"{api}/api/health", host)
        env.setdefault("STOCKMEMO_API_KEY", function_key(env))
        yield api
    finally:
        host.terminate()
        try:
            host.wait(timeout=15)
        except subprocess.TimeoutExpired:
            host.kill()


def load_sample(env: dict[str, str], ticker: str) -> str:
    """Load the bundled sample into the demo's storage; the ticker's last day in it."""
    subprocess.check_call(
        [sys.executable, "-m", "stockmemo", "history", "load", "--sample"], cwd=ROOT, env=env,
        stdout=sys.stderr,  # the memo alone goes to stdout
    )
    from shared.store.prices import sample_dataset

    table, _ = sample_dataset()
    return table.closes[ticker][-1][0].isoformat()


def main(argv: list[str]) -> int:
    real_prices = not argv
    ticker = argv[0] if argv else REAL_PRICES_TICKER
    env = dict(os.environ)
    for key, value in DEMO_SETTINGS.items():
        env.setdefault(key, value)
    env.setdefault("MARKET_DATA_PROVIDER", "history" if real_prices else "simulated")
    analyze = ["analyze", ticker]
    with Azurite() as azurite:
        env["AzureWebJobsStorage"] = azurite.connection_string
        if env["MARKET_DATA_PROVIDER"] == "history":
            as_of = load_sample(env, ticker)
            analyze += ["--as-of", as_of]
            print(f"demo: {ticker} on real prices (the skfolio sample) as of {as_of}",
                  file=sys.stderr)
        elif env["MARKET_DATA_PROVIDER"] == "simulated":
            print(f"demo: {ticker} on SIMULATED market data (synthetic prices); "
                  "`make demo` without TICKER uses real prices", file=sys.stderr)
        with local_host(env) as api:
            print(f"local host at {api}; Azurite blob port {azurite.blob_port}", file=sys.stderr)
            return subprocess.call(
                [sys.executable, "-m", "stockmemo", *analyze, "--api", api, "--wait", "300"],
                cwd=ROOT, env=env,
            )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
