"""Where the function apps run: an app folder, the environment, a host in the bench process.

The host keeps HTTP, the Durable engine and checkpoints in the bench process; the app runs in
the host's language-worker processes, which inherit this process's environment when the host
starts. So the settings an app reads are set before the host starts, and changing them takes
a new host.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from bench.host_process import REPO
from devhost.host import DevHost
from devhost.observe import Observer

# The bench's apps, as the host's workers load them (module:attribute; see bench/apps).
MEMO_APP = "bench.apps.memo.function_app:app"
CHAIN_APP = "bench.apps.chain.function_app:app"
THREADPOOL_SETTING = "PYTHON_THREADPOOL_THREAD_COUNT"
# The Functions host's default (FUNCTIONS_WORKER_PROCESS_COUNT unset): what `single` and `host`
# run on; `load` takes `--worker-processes`.
SINGLE_WORKER = 1


def app_root(folder: Path, hub: str, durable: Mapping[str, int] | None = None) -> Path:
    """A folder with the repo's host.json (its concurrency settings, or `durable`'s where it
    names one) under a hub of its own, and no local.settings.json: every setting comes from
    the environment the bench sets."""
    folder.mkdir(parents=True, exist_ok=True)
    host_json = json.loads((REPO / "host.json").read_text())
    host_json["extensions"]["durableTask"].update(durable or {})
    host_json["extensions"]["durableTask"]["hubName"] = hub
    (folder / "host.json").write_text(json.dumps(host_json, indent=2))
    return folder


def sync_threads(values: Mapping[str, str]) -> int:
    """Threads each language worker runs sync functions on (every activity of the app, and the
    SDK's orchestrator): PYTHON_THREADPOOL_THREAD_COUNT when set, else the runtime's default,
    a ThreadPoolExecutor's own (min(32, CPUs + 4))."""
    setting = values.get(THREADPOOL_SETTING) or os.environ.get(THREADPOOL_SETTING)
    if setting and setting.isdigit() and int(setting) > 0:
        return int(setting)
    return min(32, (os.process_cpu_count() or 1) + 4)


def durable_limit(setting: str) -> int:
    """One of the repo's host.json concurrency settings (extensions.durableTask)."""
    host_json = json.loads((REPO / "host.json").read_text())
    return int(host_json["extensions"]["durableTask"][setting])


def activity_concurrency() -> int:
    return durable_limit("maxConcurrentActivityFunctions")


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """`values` set in this process's environment while the block runs."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def bench_host(
    app: str,
    root: Path,
    values: Mapping[str, str],
    worker_processes: int,
    observer: Observer | None = None,
) -> Iterator[DevHost]:
    """A host in this process for `app` (module:attribute), its functions in
    `worker_processes` language workers that start with `values` in their environment, telling
    `observer` what it does (`devhost.observe`)."""
    with environment(values):
        with DevHost(
            app, root=root, port=0, worker_processes=worker_processes, observer=observer
        ) as host:
            yield host
