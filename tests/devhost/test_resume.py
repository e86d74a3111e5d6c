"""A host killed with SIGKILL mid-run resumes its instances on restart from its checkpoints."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.store import container_name
from tests.devhost.conftest import APPS, app_root
from tests.devhost.helpers import Api, of_type, wait_until

REPO = Path(__file__).resolve().parents[2]
HUB = "DevhostResume"


@contextmanager
def serve(
    root: Path, env: dict[str, str], log: Path
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`python -m devhost serve` in its own process; yields it and its base URL."""
    with open(log, "a") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devhost",
                "serve",
                "--app",
                "function_app:app",
                "--port",
                "0",
                "--root",
                str(root),
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        yield process, _announced_url(process, log)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        assert process.stdout is not None
        process.stdout.close()


def _announced_url(process: subprocess.Popen[str], log: Path, timeout: float = 30) -> str:
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.1):
            line = process.stdout.readline()
            if "listening on " in line:
                return line.rsplit("listening on ", 1)[1].strip()
        if process.poll() is not None:
            break
    raise AssertionError(f"devhost did not start:\n{log.read_text()}")


def runs(effects: Path) -> Counter[str]:
    path = effects / "runs.log"
    return Counter(path.read_text().splitlines()) if path.exists() else Counter()


def test_a_killed_host_resumes_without_rerunning_finished_activities(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = app_root(tmp_path / "app", APPS / "resume")
    (root / "function_app.py").write_text((APPS / "resume" / "function_app.py").read_text())
    effects = tmp_path / "effects"
    effects.mkdir()
    env = dict(
        os.environ,
        AzureWebJobsStorage=azurite.connection_string,
        DEVHOST_SIDE_EFFECTS=str(effects),
        PYTHONPATH=str(REPO),
    )
    log = tmp_path / "devhost.log"

    with serve(root, env, log) as (first, url):
        response = requests.post(f"{url}/api/chain", json=["a", "b", "c", "d"], timeout=10)
        assert response.status_code == 202
        links = response.json()
        wait_until(lambda: runs(effects)["slow c started"] == 1, what="the slow step")
        assert runs(effects) == Counter({"step a": 1, "step b": 1, "slow c started": 1})
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    with serve(root, env, log) as (second, url_after):
        (effects / "release").touch()
        # The key in the links handed out before the kill still opens the API after it.
        status_url = links["statusQueryGetUri"].replace(url, url_after)
        status = Api(url_after).wait_done({"id": links["id"], "statusQueryGetUri": status_url})
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == ["A", "B", "C", "D"]
    assert runs(effects) == Counter(
        {"step a": 1, "step b": 1, "slow c started": 2, "slow c finished": 1, "step d": 1}
    )
    done = of_type(status["historyEvents"], "TaskCompleted")
    assert [(e["FunctionName"], e["Result"]) for e in done] == [
        ("step", "A"),
        ("step", "B"),
        ("slow", "C"),
        ("step", "D"),
    ]
    # The checkpoint itself: each activity was scheduled once; the slow one was re-dispatched,
    # not scheduled again.
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    blob = blobs.get_blob_client(container_name(HUB), f"{links['id']}.json")
    recorded = json.loads(blob.download_blob().readall())
    scheduled = [e for e in recorded["history"] if e["EventType"] == 4]
    assert [(e["EventId"], e["Name"]) for e in scheduled] == [
        (0, "step"),
        (1, "step"),
        (2, "slow"),
        (3, "step"),
    ]
    assert recorded["runtimeStatus"] == "Completed"
