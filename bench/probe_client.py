"""The measured POSTs, sent from a process of their own: `python -m bench.probe_client URL`
reads a ticker per line on stdin and answers each with the `Submitted` JSON on stdout. Its POSTs
carry the function key given in BENCH_FUNCTION_KEY.

The bench process also runs the stand-ins (the model's grounded answers are built there), the
refill thread and the job watcher; a POST timed in it would include its waits for that
process's GIL. Timed here, a POST's time is the service's and the loopback's. Times are
`time.monotonic()`, which is system-wide on Linux, so they compare with the bench's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import asdict
from types import TracebackType

import requests

from bench.client import KEY_HEADER, Submitted, submit
from bench.host_process import REPO, child_env

KEY_SETTING = "BENCH_FUNCTION_KEY"


class ProbeClient:
    """One POST at a time through the probe process; `submit` is safe from any thread."""

    def __init__(self, base_url: str, function_key: str) -> None:
        self.base_url = base_url
        self.function_key = function_key
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def start(self) -> ProbeClient:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.probe_client", self.base_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env({KEY_SETTING: self.function_key}),
            cwd=REPO,
        )
        return self

    def submit(self, ticker: str) -> Submitted:
        process = self._process
        assert process is not None and process.stdin is not None and process.stdout is not None
        with self._lock:
            process.stdin.write(ticker + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the probe client exited with code {process.poll()}")
        return Submitted(**json.loads(line))

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> ProbeClient:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(base_url: str) -> int:
    session = requests.Session()
    session.headers[KEY_HEADER] = os.environ[KEY_SETTING]
    for line in sys.stdin:
        sent = submit(session, base_url, line.strip())
        print(json.dumps(asdict(sent)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
