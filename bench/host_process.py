"""The local host as a subprocess (`python -m devhost serve ...`), so its memory is its own."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from bench.children import REPO, child_env

_LISTENING = re.compile(r"listening on (http://\S+)")


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
        activity_processes: int = 0,
    ) -> None:
        self.app = app
        self.activity_processes = activity_processes
        self.root = root
        self.hub = hub
        self.values = dict(values)
        self.log_file = log_file
        self.base_url = ""
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def start(self, timeout: float = 60) -> HostProcess:
        env = child_env(self.values)
        command = [
            sys.executable, "-m", "devhost", "serve", "--app", self.app, "--root",
            str(self.root), "--hub", self.hub, "--port", "0", "--log-level", "WARNING",
            "--activity-processes", str(self.activity_processes),
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
                return self
            if self._process.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise HostProcessError(f"the host did not start; see {self.log_file}")

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
