"""A host killed while children run resumes parent and children from their checkpoints, at every
point where a parent and its child can be out of step."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.store import container_name, table_name
from tests.control import CONTROL_SETTING, Board
from tests.devhost.conftest import APPS, app_root
from tests.devhost.helpers import Api, of_type, wait_until
from tests.devhost.test_resume import REPO, serve

HUB = "DevhostSubOrchResume"
SUB_COMPLETED = 8  # HistoryEventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED


def test_a_killed_host_resumes_parent_and_children_without_rerunning_finished_ones(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = app_root(tmp_path / "app", APPS / "suborch")
    (root / "function_app.py").write_text((APPS / "suborch" / "function_app.py").read_text())
    settings = json.loads((root / "host.json").read_text())
    settings["extensions"]["durableTask"]["hubName"] = HUB
    (root / "host.json").write_text(json.dumps(settings))
    board = Board(tmp_path / "board")
    board.put("gated", [2, 3])
    env = dict(
        os.environ,
        AzureWebJobsStorage=azurite.connection_string,
        PYTHONPATH=str(REPO),
        **{CONTROL_SETTING: str(board.folder)},
    )
    log = tmp_path / "devhost.log"
    kids = [f"kid-{n}-{tmp_path.name}" for n in range(4)]

    with serve(root, env, log) as (first, url):
        api = Api(url)
        links = api.start("gathering_parent", kids)

        def parent_heard_two() -> bool:
            history = api.status(links, showHistory="true").json().get("historyEvents", [])
            return len(of_type(history, "SubOrchestrationInstanceCompleted")) == 2

        wait_until(parent_heard_two, what="children 0 and 1 to finish")
        wait_until(lambda: board.count("ran-2") == board.count("ran-3") == 1, what="2 and 3")
        first.send_signal(signal.SIGKILL)
        first.wait(10)

    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = blobs.get_container_client(container_name(HUB))
    # Crash point: the parent checkpointed kid-3's creation, but kid-3 was never written.
    container.delete_blob(f"{kids[3]}.json")
    tables = TableServiceClient.from_connection_string(azurite.connection_string)
    tables.get_table_client(table_name(HUB)).delete_entity(kids[3], "")
    # Crash point: kid-1 finished and checkpointed, the parent never stored its completion.
    parent_blob = container.get_blob_client(f"{links['id']}.json")
    document: dict[str, Any] = json.loads(parent_blob.download_blob().readall())
    document["history"] = [
        e
        for e in document["history"]
        if not (e["EventType"] == SUB_COMPLETED and e["TaskScheduledId"] == 1)
    ]
    parent_blob.upload_blob(json.dumps(document).encode(), overwrite=True)

    with serve(root, env, log) as (second, url_after):
        board.open_gate("release-2")
        board.open_gate("release-3")
        status_url = links["statusQueryGetUri"].replace(url, url_after)
        status = Api(url_after).wait_done({"id": links["id"], "statusQueryGetUri": status_url})
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0

    assert status["runtimeStatus"] == "Completed", status["output"]
    assert status["output"] == [0, 100, 200, 300]
    # Finished children ran once; the in-flight ones finished once.
    assert [board.count(f"ran-{n}") for n in range(4)] == [1, 1, 2, 2]
    assert [board.count(f"finished-{n}") for n in range(4)] == [1, 1, 1, 1]
    recorded = json.loads(parent_blob.download_blob().readall())
    completions = [
        e["TaskScheduledId"] for e in recorded["history"] if e["EventType"] == SUB_COMPLETED
    ]
    assert sorted(completions) == [0, 1, 2, 3]
    created = [e["InstanceId"] for e in recorded["history"] if e["EventType"] == 7]
    assert created == kids
    for kid in kids:
        child = json.loads(container.get_blob_client(f"{kid}.json").download_blob().readall())
        assert child["runtimeStatus"] == "Completed"
        assert [e["EventType"] for e in child["history"]].count(0) == 1  # one ExecutionStarted
