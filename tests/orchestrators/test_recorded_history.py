"""A recorded history of a completed analysis replays against the current orchestrator.

A change that alters the sequence of tasks the orchestrator yields would break instances in
flight; it fails here and must ship under a new orchestrator name instead (re-record only then:
`python -m tests.orchestrators.record_history`). Each replay runs the orchestrator as the host
does: the app loaded by Microsoft's Python runtime in a language-worker process.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from devhost.replay import Action, find_divergence
from shared import names
from tests.app_env import APP, ROOT
from tests.orchestrators.replaying import replay

RECORDED = Path(__file__).parent / "recorded" / "completed_analysis.json"
REORDERED = "tests.orchestrators.apps.reordered.function_app:app"


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(RECORDED.read_text())
    return document


def recorded_actions(document: dict[str, Any]) -> list[Action]:
    return [Action.from_json(a) for a in document["actions"]]


def test_the_recording_is_a_completed_analysis(recorded: dict[str, Any]) -> None:
    assert recorded["name"] == names.ANALYSIS_ORCHESTRATOR
    assert recorded["runtimeStatus"] == "Completed"
    assert json.loads(recorded["output"])["status"] == "completed"


def test_current_orchestrator_replays_the_recording(recorded: dict[str, Any]) -> None:
    result = replay(APP, ROOT, recorded)
    assert result.error is None
    assert find_divergence(recorded_actions(recorded), result.actions) is None
    assert len(result.actions) == len(recorded["actions"])
    assert result.done and result.output_json is not None
    assert json.loads(result.output_json) == json.loads(recorded["output"])


def test_a_reordered_orchestrator_is_caught(recorded: dict[str, Any]) -> None:
    """The same orchestrator with its first step moved after the fan-out diverges."""
    result = replay(REORDERED, ROOT, recorded)
    divergence = find_divergence(recorded_actions(recorded), result.actions)
    assert divergence is not None and "action #1" in divergence
    assert names.SET_JOB_STAGE in divergence and names.RESEARCH_NEWS in divergence
