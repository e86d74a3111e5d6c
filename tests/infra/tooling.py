"""Paths of the infrastructure tests and the commands they run in the tool venv (.venv-infra)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("INFRA_VENV", ROOT / ".venv-infra"))

Inspect = Callable[..., Any]
CheckovRun = tuple[int, dict[str, Any], str]


def run(command: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
    )


def run_checkov(venv: Path, directory: Path) -> CheckovRun:
    """`checkov --framework bicep --skip-download -d DIR`, JSON out: (exit code, report, stderr)."""
    done = run(
        [
            str(venv / "bin" / "checkov"),
            "--framework",
            "bicep",
            "--skip-download",
            "-d",
            os.path.relpath(directory, ROOT),
            "-o",
            "json",
        ],
        300,
    )
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"checkov printed no JSON ({done.returncode}):\n{done.stderr}", pytrace=False)
    if isinstance(report, list):  # one document per framework when several ran
        report = next(r for r in report if r.get("check_type") == "bicep")
    return done.returncode, report, done.stderr
