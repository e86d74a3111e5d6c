"""Where the bench's child processes run from: the repo root, first on their PYTHONPATH.

Standard library only, so a light child (`bench.storage_probe`, `bench.probe_client`) does not
import the app to find its way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def child_env(values: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus `values`, with the repo first on PYTHONPATH."""
    env = {**os.environ, **(values or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env
