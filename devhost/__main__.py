"""`python -m devhost serve --app function_app:app --port 7071 [--root DIR] [--azurite]
[--activity-processes N]`.

`--azurite` also starts Azurite (from node_modules) with its data in `DIR/.azurite`, so a
restarted host finds its instances, and points AzureWebJobsStorage at it.
"""

from __future__ import annotations

import argparse
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
from devhost.host import DevHost
from devhost.registry import load_app


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devhost")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve a function app on 127.0.0.1")
    serve.add_argument("--app", default="function_app:app", help="module:attribute of a DFApp")
    serve.add_argument("--port", type=int, default=7071, help="0 picks a free port")
    serve.add_argument("--root", type=Path, default=Path.cwd(), help="app folder (default: cwd)")
    serve.add_argument("--hub", default=None, help="task hub (default: host.json's hubName)")
    serve.add_argument(
        "--azurite", action="store_true", help="start Azurite (data in ROOT/.azurite) and use it"
    )
    serve.add_argument(
        "--activity-processes",
        type=int,
        default=0,
        metavar="N",
        help="run activities in N worker processes (default 0: on the host's threads)",
    )
    serve.add_argument("--log-level", default="INFO")
    return parser


def serve(args: argparse.Namespace) -> int:
    root = args.root.resolve()
    os.chdir(root)  # the worker runs with the app folder as its working directory
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with ExitStack() as stack:
        if args.azurite:
            data = root / ".azurite"
            data.mkdir(exist_ok=True)
            azurite = stack.enter_context(Azurite(in_memory=False, data_dir=data))
            os.environ["AzureWebJobsStorage"] = azurite.connection_string
            print(f"devhost: Azurite blob port {azurite.blob_port}, data in {data}", flush=True)
        apply_settings(load_config(root).values)  # before import, as func start does
        app = load_app(args.app, root)
        host = DevHost(
            app,
            root=root,
            port=args.port,
            hub_name=args.hub,
            activity_processes=args.activity_processes,
            app_ref=args.app,
        )
        stack.enter_context(host)
        print(f"devhost: hub {host.hub_name} listening on {host.base_url}", flush=True)
        stop.wait()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    try:
        return serve(args)
    except DevHostError as exc:
        print(f"devhost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
