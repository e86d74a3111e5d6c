"""The local host as a subprocess (`python -m devhost serve ...`), so its memory is its own (its
language workers are its children), and its keys read with `python -m devhost keys`; and where
every child process of the bench runs from: the repo root, first on its PYTHONPATH.

Standard library only, so a light child (`bench.probe_client`) does not import the app to find
its way.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SYSTEM_KEY = "durabletask_extension"  # the Durable extension's system key, as Azure names it
_LISTENING = re.compile(r"listening on (http://\S+)")


def child_env(values: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus `values`, with the repo first on PYTHONPATH."""
    env = {**os.environ, **(values or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


class HostProcessError(RuntimeError):
    """The host subprocess did not come up."""


class HostProcess:
    def __init__(
        self,
        app: str,
        root: Path,
        hub: str,
        values: Mapping[str, str],
        log_file: Path,
        worker_processes: int = 1,
    ) -> None:
        self.app = app
        self.worker_processes = worker_processes
        self.root = root
        self.hub = hub
        self.values = dict(values)
        self.log_file = log_file
        self.base_url = ""
        self.function_key = ""
        self.system_key = ""  # the Durable extension's, for its HTTP API
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 180) -> HostProcess:
        env = child_env(self.values)
        command = [
            sys.executable, "-m", "devhost", "serve", "--app", self.app, "--root",
            str(self.root), "--hub", self.hub, "--port", "0", "--log-level", "WARNING",
            "--worker-processes", str(self.worker_processes),
        ]
        with open(self.log_file, "wb") as log:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = _LISTENING.search(self.log_file.read_text(errors="replace"))
            if match:
                self.base_url = match.group(1)
                try:
                    keys = self._keys(env)
                    self.function_key = str(keys["functionKeys"]["default"])
                    self.system_key = str(keys["systemKeys"][SYSTEM_KEY])
                except (subprocess.SubprocessError, ValueError, KeyError) as exc:
                    self.stop()
                    raise HostProcessError(f"cannot read the host's keys: {exc}") from exc
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise HostProcessError(f"the host did not start; see {self.log_file}")

    def _keys(self, env: dict[str, str]) -> dict[str, Any]:
        """The host's keys, as `python -m devhost keys` lists them for this hub (as `az
        functionapp keys list` does)."""
        command = [
            sys.executable, "-m", "devhost", "keys", "--root", str(self.root), "--hub", self.hub,
        ]
        listing = subprocess.run(
            command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=True
        )
        keys: dict[str, Any] = json.loads(listing.stdout)
        return keys

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None

    def __enter__(self) -> HostProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
