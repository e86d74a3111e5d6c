"""A host killed with SIGKILL while instances wait on timers and events: on restart, on the same
storage, a due timer fires once, a timer weeks ahead is still armed and nothing fired, and an
event accepted before the kill is not lost."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import requests

from devhost.azurite import Azurite
from tests.control import CONTROL_SETTING, Board
from tests.devhost.conftest import APPS, app_root
from tests.devhost.helpers import Api, of_type, types
from tests.devhost.test_resume import REPO, serve


def _start(url: str, name: str, payload: Any) -> dict[str, Any]:
    answer = requests.post(f"{url}/api/start/{name}", json=payload, timeout=10)
    assert answer.status_code == 202, answer.text
    links: dict[str, Any] = answer.json()
    return links


def _moved(links: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {key: value.replace(old, new) for key, value in links.items()}


def test_a_timer_pending_across_a_kill_fires_once(azurite: Azurite, tmp_path: Path) -> None:
    root = app_root(tmp_path / "app", APPS / "events")
    (root / "function_app.py").write_text((APPS / "events" / "function_app.py").read_text())
    board = Board(tmp_path / "board")
    env = dict(
        os.environ,
        AzureWebJobsStorage=azurite.connection_string,
        PYTHONPATH=str(REPO),
        **{CONTROL_SETTING: str(board.folder)},
    )
    log = tmp_path / "devhost.log"

    with serve(root, env, log) as (first, url):
        api = Api(url)
        soon = _start(url, "sleeper", {"seconds": 4, "label": "soon"})
        weeks = _start(url, "sleeper", {"seconds": 30 * 86400, "label": "weeks"})
        for links in (soon, weeks):
            api.wait_status(links, lambda s: "TimerCreated" in types(s.get("historyEvents") or []))
        collector = _start(url, "collector", 2)
        api.wait_status(collector, lambda s: s["runtimeStatus"] == "Running")
        headers = {"Content-Type": "application/json"}
        send = collector["sendEventPostUri"].replace("{eventName}", "item")
        assert requests.post(send, data='"before"', headers=headers, timeout=10).status_code == 202
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    started = time.monotonic()

    with serve(root, env, log) as (second, after):
        api = Api(after)
        done = api.wait_done(_moved(soon, url, after))
        assert time.monotonic() - started < 15
        send = _moved(collector, url, after)["sendEventPostUri"].replace("{eventName}", "item")
        assert requests.post(send, data='"after"', headers=headers, timeout=10).status_code == 202
        collected = api.wait_done(_moved(collector, url, after))
        waiting = api.status(_moved(weeks, url, after), showHistory="true").json()
        second.send_signal(signal.SIGTERM)
        assert second.wait(15) == 0

    assert done["output"] == 1
    assert board.count("effect-soon") == 1
    assert types(done["historyEvents"]).count("TimerFired") == 1
    assert collected["output"] == ["before", "after"]
    # The 30-day timer: split by the SDK into a first 3-day timer, re-armed, not fired.
    assert waiting["runtimeStatus"] == "Running"
    (created,) = of_type(waiting["historyEvents"], "TimerCreated")
    assert "TimerFired" not in types(waiting["historyEvents"])
    assert board.count("effect-weeks") == 0
    assert json.loads(waiting["input"])["seconds"] == 30 * 86400
    assert created["FireAt"] > done["historyEvents"][-1]["Timestamp"]
