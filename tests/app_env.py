"""Environment for running the app's own code against the session's Azurite.

The host runs the app in its language-worker processes, which inherit this process's
environment when the host starts: settings go in the environment (`app_settings`) before the
host starts, and HTTP calls to function-level routes carry the host's function key
(`keyed(host)`), as on Azure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from devhost.host import DevHost
from shared.settings import reset_settings
from shared.store.clients import reset_storage_clients

OFFLINE_SETTINGS = {
    "MARKET_DATA_PROVIDER": "simulated",
    "NEWS_PROVIDER": "none",
    "LLM_PROVIDER": "offline",
    "SIMULATED_LATENCY_MS": "0",
    "ACTIVITY_RETRY_FIRST_MS": "50",
    "ACTIVITY_MAX_ATTEMPTS": "3",
    "JOB_DEADLINE_SECONDS": "120",
    # Every host in one test run shares the `anonymous` owner; quota tests set their own limit.
    "ANALYSES_PER_HOUR": "100000",
    # The retention timer's schedule (its NCRONTAB is an app setting): daily, as in the sample.
    "RETENTION_CRON": "0 30 3 * * *",
    # The worker's sync threads, as deployed: host.json's activity + orchestrator concurrency.
    "PYTHON_THREADPOOL_THREAD_COUNT": json.loads(
        (Path(__file__).resolve().parents[1] / "local.settings.sample.json").read_text()
    )["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"],
}
# The real function app, as the host's workers load it (module:attribute).
APP = "function_app:app"
KEY_HEADER = "x-functions-key"


@contextmanager
def app_settings(monkeypatch: pytest.MonkeyPatch, connection: str, **extra: str) -> Iterator[None]:
    for key, value in {**OFFLINE_SETTINGS, **extra}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AzureWebJobsStorage", connection)
    reset_settings()
    reset_storage_clients()
    try:
        yield
    finally:
        reset_settings()
        reset_storage_clients()


ROOT = Path(__file__).resolve().parents[1]


def key_header(host: DevHost) -> dict[str, str]:
    """The header that opens the app's function-level routes: the host's default function key."""
    return {KEY_HEADER: host.function_key}


def keyed(host: DevHost) -> requests.Session:
    """A session that sends the function key with every request."""
    session = requests.Session()
    session.headers.update(key_header(host))
    return session


def app_folder(folder: Path, hub: str) -> Path:
    """The repo's host.json with a hub of its own in `folder`, and no local.settings.json."""
    host_json = json.loads((ROOT / "host.json").read_text())
    host_json["extensions"]["durableTask"]["hubName"] = hub
    (folder / "host.json").write_text(json.dumps(host_json))
    return folder
