"""`python -m bench.storage_probe OUT`: time one small table read and one small blob read every
50 ms against the storage in BENCH_PROBE_STORAGE, in a process of its own, so the storage's
latency is seen apart from any contention inside the host's process. Appends
`monotonic table_seconds blob_seconds` lines to OUT until terminated.

`running(connection, out)` runs it for the duration of a `with` block; `window(out, start,
end)` summarises the samples taken between two `time.monotonic()` moments (the clock is
system-wide, so the probe's and the bench's moments compare)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from bench.children import REPO, child_env
from bench.stats import median, ms, percentile

PERIOD = 0.05


def main(out: str) -> int:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connection = os.environ["BENCH_PROBE_STORAGE"]
    table = TableServiceClient.from_connection_string(connection).create_table_if_not_exists(
        "benchprobe"
    )
    table.upsert_entity({"PartitionKey": "probe", "RowKey": "probe", "Value": 1})
    container = BlobServiceClient.from_connection_string(connection).get_container_client(
        "bench-probe"
    )
    try:
        container.create_container()
    except ResourceExistsError:
        pass
    container.upload_blob("probe", b"probe", overwrite=True)
    with open(out, "a", buffering=1) as lines:
        while not stop.is_set():
            started = time.monotonic()
            table.get_entity("probe", "probe")
            middle = time.monotonic()
            container.download_blob("probe").readall()
            ended = time.monotonic()
            lines.write(f"{started:.6f} {middle - started:.6f} {ended - middle:.6f}\n")
            stop.wait(PERIOD)
    return 0


@contextmanager
def running(connection: str, out: Path) -> Iterator[None]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.storage_probe", str(out)],
        env=child_env({"BENCH_PROBE_STORAGE": connection}),
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def window(path: Path, start: float, end: float) -> dict[str, Any]:
    rows = []
    for line in path.read_text().splitlines() if path.exists() else []:
        at, table, blob = (float(x) for x in line.split())
        if start <= at <= end:
            rows.append((table, blob))
    if not rows:
        return {}
    return {
        "samples": len(rows),
        "table_read_p50_ms": ms(median([r[0] for r in rows])),
        "table_read_p95_ms": ms(percentile([r[0] for r in rows], 95)),
        "blob_read_p50_ms": ms(median([r[1] for r in rows])),
        "blob_read_p95_ms": ms(percentile([r[1] for r in rows], 95)),
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
