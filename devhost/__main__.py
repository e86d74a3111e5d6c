"""The command line.

`python -m devhost serve --app function_app:app --port 7071 [--root DIR] [--azurite]
[--worker-processes N]` serves the app; `--azurite` also starts Azurite (from node_modules) with
its data in `DIR/.azurite`, so a restarted host finds its instances, and points
AzureWebJobsStorage at it.

`python -m devhost keys [--root DIR]` prints the host's keys as `az functionapp keys list` does,
from the storage `serve` uses (a running `serve --azurite` for that folder, else the settings).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

from devhost.azurite import Azurite
from devhost.config import apply_settings, load_config
from devhost.errors import DevHostError
from devhost.host import DevHost, host_connection
from devhost.keys import load_or_create_keys
from devhost.store import CheckpointStore

AZURITE_FOLDER = ".azurite"
CONNECTION_FILE = "connection"  # written by `serve --azurite` while it runs, for `keys`


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a function app on 127.0.0.1")
    serve.add_argument("--app", default="function_app:app", help="module:attribute of the app")
    serve.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    serve.add_argument("--root", type=Path, default=Path.cwd(), help="app folder (default: cwd)")
    serve.add_argument("--hub", default=None, help="task hub (default: host.json's hubName)")
    serve.add_argument(
        "--azurite", action="store_true", help="start Azurite (data in ROOT/.azurite) and use it"
    )
    serve.add_argument(
        "--worker-processes",
        type=int,
        default=None,
        metavar="N",
        help="language worker processes (default: FUNCTIONS_WORKER_PROCESS_COUNT, else 1)",
    )
    serve.add_argument("--log-level", default="INFO")
    keys = commands.add_parser("keys", help="print the host's keys (as az functionapp keys list)")
    keys.add_argument("--root", type=Path, default=Path.cwd(), help="app folder (default: cwd)")
    keys.add_argument("--hub", default=None, help="task hub (default: host.json's hubName)")
    keys.add_argument("--log-level", default="WARNING")
    return parser


def serve(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    os.chdir(root)  # the worker runs with the app folder as its working directory
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as stack:
        if args.azurite:
            data = root / AZURITE_FOLDER
            data.mkdir(exist_ok=True)
            azurite = stack.enter_context(Azurite(in_memory=False, data_dir=data))
            os.environ["AzureWebJobsStorage"] = azurite.connection_string
            marker = data / CONNECTION_FILE
            marker.write_text(azurite.connection_string)
            stack.callback(marker.unlink, missing_ok=True)
            print(f"devhost: Azurite blob port {azurite.blob_port}, data in {data}", flush=True)
        host = DevHost(
            args.app,
            root=root,
            port=args.port,
            hub_name=args.hub,
            worker_processes=args.worker_processes,
        )
        stack.enter_context(host)
        print(f"devhost: hub {host.hub_name} listening on {host.base_url}", flush=True)
        print(
            f"devhost: {len(host.worker_pids)} language worker process(es) {host.worker_pids}; "
            f"function keys: python -m devhost keys --root {root}",
            flush=True,
        )
        stop.wait()
    return 0


def _keys_storage(root: Path) -> tuple[str, ExitStack]:
    """A running `serve --azurite` for this folder; its data folder (Azurite started for the
    read); else the settings `serve` would use."""
    stack = ExitStack()
    data = root / AZURITE_FOLDER
    marker = data / CONNECTION_FILE
    if marker.is_file():
        return marker.read_text().strip(), stack
    apply_settings(load_config(root).values)
    connection = host_connection()
    if data.is_dir() and connection.replace(" ", "") == "UseDevelopmentStorage=true":
        azurite = stack.enter_context(Azurite(in_memory=False, data_dir=data))
        return azurite.connection_string, stack
    return connection, stack


async def _read_keys(connection: str, hub: str) -> dict[str, object]:
    store = CheckpointStore(connection, hub)
    await store.open()
    try:
        keys = await load_or_create_keys(store.blob_service, hub)
    finally:
        await store.close()
    return keys.listing()


def keys(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    hub = load_config(root, args.hub).hub_name
    connection, stack = _keys_storage(root)
    with stack:
        listing = asyncio.run(_read_keys(connection, hub))
    print(json.dumps(listing, indent=2, sort_keys=True))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        return serve(args) if args.command == "serve" else keys(args)
    except DevHostError as exc:
        print(f"devhost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
