"""Replay a recorded instance's history through the Python runtime, as the host replays one
episode: the app indexed and loaded by `azure_functions_runtime` in a language-worker process,
the orchestrator invoked over the whole history, its actions read back with devhost's replay."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from devhost.app_script import resolve_app
from devhost.registry import index_metadata
from devhost.replay import EpisodeResult, context_json, run_episode
from devhost.worker_pool import WorkerPool


async def _replay(app: str, root: Path, document: dict[str, Any]) -> EpisodeResult:
    pool = await WorkerPool(resolve_app(app, root), root, count=1).start()
    try:
        function = index_metadata(pool.metadata).orchestrators[document["name"]]
        payload = context_json(
            document["instanceId"], document["history"], document["input"], replaying=True
        )
        return await run_episode(pool.invoke, function, payload)
    finally:
        await pool.stop()


def replay(app: str, root: Path, document: dict[str, Any]) -> EpisodeResult:
    """`document` is a checkpoint document; `app` (module:attribute) is resolved under `root`."""
    return asyncio.run(_replay(app, root, document))
