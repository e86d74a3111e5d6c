"""Where the function apps run: an app folder, the environment, an in-process host."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.children import REPO
from devhost.host import DevHost
from shared.llm.client import reset_llm_clients
from shared.settings import reset_settings
from shared.storage import reset_storage_clients


def app_root(folder: Path, hub: str) -> Path:
    """A folder with the repo's host.json (its concurrency settings) under a hub of its own,
    and no local.settings.json: every setting comes from the environment the bench sets."""
    folder.mkdir(parents=True, exist_ok=True)
    host_json = json.loads((REPO / "host.json").read_text())
    host_json["extensions"]["durableTask"]["hubName"] = hub
    (folder / "host.json").write_text(json.dumps(host_json, indent=2))
    return folder


def activity_concurrency() -> int:
    host_json = json.loads((REPO / "host.json").read_text())
    return int(host_json["extensions"]["durableTask"]["maxConcurrentActivityFunctions"])


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set `values` in this process (the in-process app reads them) and forget cached settings
    and clients on the way in and out."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    _forget()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _forget()


def _forget() -> None:
    reset_settings()
    reset_storage_clients()
    reset_llm_clients()


@contextmanager
def in_process_host(
    app: Any,
    root: Path,
    values: Mapping[str, str],
    activity_processes: int = 0,
    app_ref: str | None = None,
) -> Iterator[DevHost]:
    """A host in this process; activities on its threads, or in `activity_processes` workers
    that import `app_ref` (and see `values`, set before they start)."""
    with environment(values):
        with DevHost(
            app, root=root, port=0, activity_processes=activity_processes, app_ref=app_ref
        ) as host:
            yield host
