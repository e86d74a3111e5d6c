"""The function index as Azure's Python runtime reports it, taken in a process of its own (the
runtime keeps its state in module globals and imports the app, which must not happen twice in
the test process)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@functools.cache
def runtime_index() -> list[dict[str, Any]]:
    printed = subprocess.run(
        [sys.executable, "-m", "tools.function_index"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    index: list[dict[str, Any]] = json.loads(printed)
    return index
