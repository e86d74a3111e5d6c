"""The host's public instrumentation hook: an observer told of each activity and orchestrator
invocation, replay and checkpoint it makes for an instance, with their durations."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from devhost import observe
from devhost.azurite import Azurite
from devhost.observe import Checkpoint, Invocation, Observer, Replay
from tests.devhost.conftest import APPS, BASICS, BASICS_SETTINGS, app_root, running_host
from tests.devhost.helpers import Api


class Recorder(Observer):
    def __init__(self) -> None:
        self.invocations: list[Invocation] = []
        self.replays: list[Replay] = []
        self.checkpoints: list[Checkpoint] = []
        self.threads: set[str] = set()
        self._lock = threading.Lock()

    def invoked(self, invocation: Invocation) -> None:
        with self._lock:
            self.invocations.append(invocation)
            self.threads.add(threading.current_thread().name)

    def replayed(self, replay: Replay) -> None:
        with self._lock:
            self.replays.append(replay)

    def checkpointed(self, checkpoint: Checkpoint) -> None:
        with self._lock:
            self.checkpoints.append(checkpoint)


def _end(span: Invocation | Replay | Checkpoint) -> float:
    return span.started + span.seconds


def test_the_observer_is_told_of_every_invocation_replay_and_checkpoint(
    tmp_path: Path, azurite: Azurite
) -> None:
    recorder = Recorder()
    root = app_root(tmp_path / "app", APPS / "basics", BASICS_SETTINGS)
    before = time.monotonic()
    with running_host(BASICS, root, azurite, observer=recorder, hub_name="ObserveHub") as host:
        api = Api(host.base_url)
        links = api.start("sequence", ["a", "b", "c"])
        status = api.wait_done(links)
    assert status["output"] == ["A", "B", "C"]
    instance = links["id"]
    mine = [i for i in recorder.invocations if i.instance_id == instance]
    activities = [i for i in mine if i.kind == "activity"]
    orchestrators = [i for i in mine if i.kind == "orchestrator"]
    replays = [r for r in recorder.replays if r.instance_id == instance]
    checkpoints = [c for c in recorder.checkpoints if c.instance_id == instance]

    # The start, then one episode per completion: four replays, each followed by a checkpoint.
    assert [a.function for a in activities] == ["shout"] * 3
    assert len(replays) == len(orchestrators) == len(checkpoints) == 4
    assert {o.function for o in orchestrators} == {"sequence"}
    assert [c.runtime_status for c in checkpoints] == ["Running"] * 3 + ["Completed"]
    sizes = [r.history_events for r in replays]
    assert sizes == sorted(set(sizes)) and sizes[0] >= 2  # the history grows every episode
    written = [c.document_bytes for c in checkpoints]
    assert written == sorted(set(written)) and written[0] > 0
    for span in [*mine, *replays, *checkpoints]:
        assert span.seconds >= 0 and span.started >= before
    # Each replay holds its orchestrator's invocation; its checkpoint comes after it, and the
    # activity it scheduled after the checkpoint.
    for replay, invoked, saved in zip(replays, orchestrators, checkpoints, strict=True):
        assert replay.started <= invoked.started and _end(invoked) <= _end(replay)
        assert _end(replay) <= saved.started
    for saved, activity in zip(checkpoints, activities, strict=False):
        assert _end(saved) <= activity.started
    assert recorder.threads == {"devhost-loop"}  # called on the host's event loop


def test_without_an_observer_nothing_is_timed() -> None:
    unobserved = observe.invocation(None, "activity", "f", "i")
    assert unobserved is observe.replay(None, "i", 3)
    assert unobserved is observe.checkpoint(None, "i", 10, "Running")


def test_a_block_that_raises_is_still_reported_and_its_error_kept() -> None:
    recorder = Recorder()
    with pytest.raises(ValueError), observe.invocation(recorder, "activity", "f", "i"):
        raise ValueError("the worker died")
    (invocation,) = recorder.invocations
    assert (invocation.kind, invocation.function, invocation.instance_id) == ("activity", "f", "i")


def test_an_observer_that_raises_is_logged_never_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(Observer):
        def replayed(self, replay: Replay) -> None:
            raise RuntimeError("broken observer")

    with caplog.at_level(logging.ERROR, logger="devhost.observe"):
        with observe.replay(Broken(), "i", 3):
            pass
    assert "observer failed" in caplog.text
