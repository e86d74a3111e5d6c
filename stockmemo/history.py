"""`python -m stockmemo history load --sample | --csv FILE`: fill the price store that
MARKET_DATA_PROVIDER=history reads (`shared/store/prices.py`).

It writes to the storage the app's settings name: `AzureWebJobsStorage` (a connection string:
Azurite, or an account key), or the identity-based `AzureWebJobsStorage__accountName` /
`__blobServiceUri` (+ `__clientId`) with your Azure login, as the app does. Settings missing
from the environment are read from `local.settings.json` (its `Values`), as `func start` would.
The whole file is checked before anything is written: a refused file stores nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.store.prices import Benchmark

EXIT_REFUSED = 2
EXIT_FAILED = 1
STORAGE_SETTINGS = (
    "AzureWebJobsStorage",
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__clientId",
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    history = commands.add_parser(
        "history", help="the price store MARKET_DATA_PROVIDER=history reads")
    actions = history.add_subparsers(dest="action", required=True)
    load = actions.add_parser(
        "load", help="load daily closes into the price store (replaces the stored dataset)",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = load.add_mutually_exclusive_group(required=True)
    source.add_argument("--sample", action="store_true",
                        help="the bundled sample: skfolio's 20 US stocks and the S&P 500 index, "
                             "1990-01-02 to 2022-12-28")
    source.add_argument("--csv", type=Path, metavar="FILE",
                        help="a CSV (or .csv.gz): a `date` column, then one column per symbol")
    load.add_argument("--benchmark", metavar="SYMBOL",
                      help="with --csv: the column every ticker is measured against (served "
                           "for the benchmark); default SPY when the file has it")
    load.add_argument("--benchmark-name", metavar="NAME",
                      help="with --csv: how memos name the benchmark (default: its symbol)")
    load.add_argument("--dataset", help="with --csv: the dataset's name (default: the file name)")
    load.add_argument("--currency", help="with --csv: the prices' currency, e.g. USD")
    load.add_argument("--local-settings", type=Path, default=Path("local.settings.json"),
                      help="read storage settings missing from the environment from here")
    load.set_defaults(handler=load_command)


def load_command(args: argparse.Namespace) -> int:
    # Imported here, so `analyze` starts without the storage SDK.
    from shared.errors import StockMemoError
    from shared.settings import PRICES_CONTAINER
    from shared.store.prices import Manifest, PriceStore, read_csv_file, sample_dataset

    _storage_settings(args.local_settings)
    try:
        if args.sample:
            table, manifest = sample_dataset()
        else:
            table = read_csv_file(args.csv)
            manifest = Manifest(
                dataset=args.dataset or args.csv.name,
                source=f"CSV file {args.csv.name}",
                currency=args.currency,
                benchmark=_csv_benchmark(args),
                symbols={},
            )
        result = PriceStore().load(table, manifest)
    except StockMemoError as exc:
        none = " (nothing was stored)" if exc.code == "invalid_price_file" else ""
        print(f"error: {exc.code}: {exc.message}{none}", file=sys.stderr)
        return EXIT_REFUSED if exc.http_status < 500 else EXIT_FAILED
    stored = result.manifest
    bench = stored.benchmark
    print(
        f"price store ({PRICES_CONTAINER} container): {stored.dataset}, "
        f"{len(stored.symbols)} symbols, benchmark "
        f"{f'{bench.name} ({bench.symbol})' if bench else 'none'}; "
        f"{len(result.written)} blobs written, {len(result.unchanged)} unchanged, "
        f"{len(result.deleted)} deleted",
        file=sys.stderr,
    )
    for symbol, entry in sorted(stored.symbols.items()):
        print(f"{symbol}\t{entry.first}\t{entry.last}\t{entry.closes}")
    return 0


def _csv_benchmark(args: argparse.Namespace) -> Benchmark | None:
    from shared.store.prices import Benchmark

    symbol = args.benchmark.strip().upper() if args.benchmark else None
    if symbol is None:
        # SPY is what the orchestrator asks for; without a named benchmark it is served as is.
        return None
    return Benchmark(symbol=symbol, name=args.benchmark_name or symbol)


def _storage_settings(path: Path) -> None:
    """Take the storage settings from `path` when the environment names no storage at all."""
    if any(os.environ.get(name) for name in STORAGE_SETTINGS) or not path.is_file():
        return
    try:
        values = json.loads(path.read_text()).get("Values", {})
    except (OSError, ValueError, AttributeError):
        return
    for name in STORAGE_SETTINGS:
        if isinstance(values.get(name), str) and values[name]:
            os.environ[name] = values[name]
