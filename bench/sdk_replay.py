"""The SDK's replay alone: the episodes a chain orchestration went through, replayed again in the
bench process through the SDK's own orchestrator handle (the callable the runtime invokes in a
worker), with no host, pipe or runtime around it.

Each episode's input is what the host sent the worker for it: the history up to that
episode's OrchestratorCompleted, read back from the instance's checkpoint. Two ways:
`unmodified`, the SDK as the workers run it; and `memoised_timestamps`, with the SDK's
timestamp parser (dateutil's `parse`, called for every event of every replay) cached, as
devhost patched it in its own process before replays moved to the workers.
"""

from __future__ import annotations

import functools
import importlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import azure.durable_functions as df
from azure.durable_functions.models.history import HistoryEventType
from azure.storage.blob import BlobServiceClient

from bench.chain import bench_chain
from bench.stats import line_fit, rounded
from devhost.replay import context_json
from devhost.store import container_name

HISTORY_EVENT_MODULE = "azure.durable_functions.models.history.HistoryEvent"
EPISODES = 20
ROUNDS = 3


def checkpoint(connection: str, hub: str, instance_id: str) -> dict[str, Any]:
    """The instance document the host wrote last (history included)."""
    blobs = BlobServiceClient.from_connection_string(connection)
    blob = blobs.get_blob_client(container_name(hub), f"{instance_id}.json")
    document: dict[str, Any] = json.loads(blob.download_blob().readall())
    return document


def episode_inputs(document: dict[str, Any], count: int = EPISODES) -> list[tuple[int, str]]:
    """(history events, context JSON) of `count` episodes spread over the instance's life."""
    history = document["history"]
    ends = [
        i for i, event in enumerate(history)
        if event["EventType"] == HistoryEventType.ORCHESTRATOR_COMPLETED
    ]
    spread = {round(k * (len(ends) - 1) / max(1, count - 1)) for k in range(count)}
    picked = [ends[k] for k in sorted(spread)] if ends else []
    return [
        (i, context_json(document["instanceId"], history[:i], document["input"], i > ends[0]))
        for i in picked
    ]


@contextmanager
def memoised_timestamps() -> Iterator[None]:
    module: Any = importlib.import_module(HISTORY_EVENT_MODULE)
    parse = module.dt_parse
    module.dt_parse = functools.lru_cache(maxsize=1 << 16)(parse)
    try:
        yield
    finally:
        module.dt_parse = parse


def _timed(handle: Callable[[str], str], payloads: list[tuple[int, str]]) -> list[float]:
    """The best of ROUNDS replays of each payload (the least disturbed by other processes)."""
    best = []
    for _, payload in payloads:
        rounds = []
        for _ in range(ROUNDS):
            started = time.perf_counter()
            handle(payload)
            rounds.append(time.perf_counter() - started)
        best.append(min(rounds))
    return best


def _fit(payloads: list[tuple[int, str]], seconds: list[float]) -> dict[str, Any]:
    slope, intercept = line_fit([float(size) for size, _ in payloads], seconds)
    return {
        "us_per_history_event": rounded(slope * 1e6, 2),
        "ms_at_empty_history": rounded(intercept * 1000, 3),
        "last_ms": rounded(seconds[-1] * 1000, 2) if seconds else None,
    }


def sdk_replay(connection: str, hub: str, instance_id: str) -> dict[str, Any]:
    payloads = episode_inputs(checkpoint(connection, hub, instance_id))
    handle = df.Orchestrator.create(bench_chain)
    unmodified = _timed(handle, payloads)
    with memoised_timestamps():
        memoised = _timed(handle, payloads)
    return {
        "where": "the bench process, the SDK's orchestrator handle on each episode's input "
        f"(best of {ROUNDS})",
        "episodes": len(payloads),
        "history_events_at_end": payloads[-1][0] if payloads else None,
        "unmodified": _fit(payloads, unmodified),
        "memoised_timestamps": _fit(payloads, memoised),
    }
