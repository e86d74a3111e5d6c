"""The function index as Azure's Python runtime reports it to the host.

This process runs `azure_functions_runtime`'s own handlers over `function_app.py`, as the Python
worker does at start: WorkerInitRequest (the runtime imports, indexes and validates the app; a
function it refuses fails the init with its message) and FunctionsMetadataRequest (what the host
receives: each function's name, id and bindings). The runtime keeps its state in module globals,
so run this in a process of its own: `python -m tools.function_index` prints the index,
`--check` compares it with tests/snapshots/function_index.json, `--write` refreshes that file
after an intended change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from devhost import rpc_messages as rpc
from devhost.language_worker import WorkerRequest

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "snapshots" / "function_index.json"


class IndexRefused(Exception):
    """The runtime would not initialise or index the app."""


def _directions(bindings: Any) -> dict[str, dict[str, str]]:
    return {
        name: {
            "type": info.type,
            "direction": rpc.BindingInfo.Direction.Name(info.direction),
            "dataType": rpc.BindingInfo.DataType.Name(info.data_type),
        }
        for name, info in sorted(bindings.items())
    }


def _describe(metadata: Any) -> dict[str, Any]:
    raw = [json.loads(binding) for binding in metadata.raw_bindings]
    return {
        "name": metadata.name,
        "functionId": metadata.function_id,
        "scriptFile": metadata.script_file,
        "bindings": sorted(raw, key=lambda b: (b["direction"], b["name"])),
        "bindingInfo": _directions(metadata.bindings),
    }


async def _metadata(directory: Path) -> list[Any]:
    import azure_functions_runtime as runtime

    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))
    properties = {"protos": rpc, "host": "127.0.0.1"}
    init = rpc.StreamingMessage(
        worker_init_request=rpc.WorkerInitRequest(function_app_directory=str(directory))
    )
    answer = await runtime.worker_init_request(WorkerRequest("init", init, properties))
    if answer.result.status != rpc.StatusResult.Success:
        raise IndexRefused(answer.result.exception.message)
    request = rpc.StreamingMessage(
        functions_metadata_request=rpc.FunctionsMetadataRequest(
            function_app_directory=str(directory)
        )
    )
    response = await runtime.functions_metadata_request(WorkerRequest("md", request, properties))
    return list(response.function_metadata_results or [])


def current_index(directory: Path = ROOT) -> list[dict[str, Any]]:
    """Every function the runtime indexed, sorted by name (once per process)."""
    described = [_describe(metadata) for metadata in asyncio.run(_metadata(directory))]
    return sorted(described, key=lambda f: f["name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    try:
        index = current_index()
    except IndexRefused as exc:
        print(f"the Python runtime refused the app: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(index, indent=2, sort_keys=True) + "\n"
    if args.write:
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(text)
        print(f"wrote {len(index)} functions to {SNAPSHOT}")
        return 0
    if args.check:
        expected = SNAPSHOT.read_text() if SNAPSHOT.exists() else ""
        if text != expected:
            print("function index differs from tests/snapshots/function_index.json:")
            print(text)
            return 1
        print(f"function index matches the snapshot ({len(index)} functions)")
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
