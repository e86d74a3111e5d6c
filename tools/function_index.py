"""The function index as Azure builds it from `function_app` (names, triggers, bindings).

`python -m tools.function_index --check` compares it with the committed snapshot;
`--write` refreshes the snapshot after an intended change.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import Any

SNAPSHOT = Path(__file__).resolve().parent.parent / "tests" / "snapshots" / "function_index.json"


@functools.cache
def current_index() -> list[dict[str, Any]]:
    """Cached: a DFApp may be indexed only once per process."""
    import function_app

    index = []
    for function in function_app.app.get_functions():
        description = json.loads(function.get_function_json())
        index.append(
            {
                "name": function.get_function_name(),
                "bindings": sorted(
                    description["bindings"], key=lambda b: (b["direction"], b["name"])
                ),
            }
        )
    return sorted(index, key=lambda f: f["name"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    index = current_index()
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
