"""Fixtures for the infrastructure tests: the tool venv, the parsed templates, one checkov run.

The checking tools live in .venv-infra, built by setup_env.sh on first use (cached by a stamp);
they run as subprocesses and hand back JSON, so the app's .venv needs none of them. A tool that
cannot be installed fails the session here: these tests never skip.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.rules import Infra
from tests.infra.tooling import HERE, INFRA, ROOT, VENV, CheckovRun, Inspect, run, run_checkov


@pytest.fixture(scope="session")
def tool_venv() -> Path:
    env = {**os.environ, "PYTHON": sys.executable, "INFRA_VENV": str(VENV)}
    setup = subprocess.run(
        ["bash", str(HERE / "setup_env.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if setup.returncode != 0:
        pytest.fail(
            f"tests/infra/setup_env.sh failed ({setup.returncode}); the infra tools are not "
            f"installed:\n{setup.stdout}\n{setup.stderr}",
            pytrace=False,
        )
    return VENV


@pytest.fixture(scope="session")
def inspect(tool_venv: Path) -> Inspect:
    """Run inspect_infra.py in the tool venv; returns its JSON."""

    def inspect_infra(*args: str) -> Any:
        done = run([str(tool_venv / "bin" / "python"), str(HERE / "inspect_infra.py"), *args], 300)
        if done.returncode != 0:
            pytest.fail(f"inspect_infra.py {args[0]} failed:\n{done.stderr}", pytrace=False)
        return json.loads(done.stdout)

    return inspect_infra


@pytest.fixture(scope="session")
def infra(inspect: Inspect) -> Infra:
    return Infra(INFRA, inspect("bicep", str(INFRA))[str(INFRA)])


@pytest.fixture(scope="session")
def checkov_report(tool_venv: Path) -> CheckovRun:
    return run_checkov(tool_venv, INFRA)
