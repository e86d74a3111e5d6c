"""A recorded history of a completed analysis replays against the current orchestrator.

A change that alters the sequence of tasks the orchestrator yields would break instances in
flight; it fails here and must ship under a new orchestrator name instead (re-record only then:
`python -m tests.orchestrators.record_history`).
"""

from __future__ import annotations

import json
from collections.abc import Generator
from pathlib import Path
from typing import Any

import azure.durable_functions as df
import pytest

from devhost.registry import OrchestratorFunction, index_app
from devhost.replay import Action, context_json, find_divergence, run_episode
from orchestrators import analysis
from shared import names

RECORDED = Path(__file__).parent / "recorded" / "completed_analysis.json"


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(RECORDED.read_text())
    return document


def replay(function: OrchestratorFunction, document: dict[str, Any]) -> Any:
    payload = context_json(document["instanceId"], document["history"], document["input"])
    return run_episode(function, payload)


def current() -> OrchestratorFunction:
    import function_app

    return index_app(function_app.app).orchestrators[names.ANALYSIS_ORCHESTRATOR]


def test_the_recording_is_a_completed_analysis(recorded: dict[str, Any]) -> None:
    assert recorded["name"] == names.ANALYSIS_ORCHESTRATOR
    assert recorded["runtimeStatus"] == "Completed"
    assert json.loads(recorded["output"])["status"] == "completed"


def test_current_orchestrator_replays_the_recording(recorded: dict[str, Any]) -> None:
    result = replay(current(), recorded)
    assert result.error is None
    history_actions = [Action.from_json(a) for a in recorded["actions"]]
    assert find_divergence(history_actions, result.actions) is None
    assert len(result.actions) == len(recorded["actions"])
    assert result.done and json.loads(result.output_json) == json.loads(recorded["output"])


def test_a_reordered_orchestrator_is_caught(recorded: dict[str, Any]) -> None:
    """The same orchestrator with its first step moved after the fan-out diverges."""

    def reordered(context: df.DurableOrchestrationContext) -> Generator[Any, Any, Any]:
        job = analysis.AnalysisInput.model_validate(context.get_input())
        retry = df.RetryOptions(job.retry.first_retry_ms, job.retry.max_attempts)
        yield context.call_activity_with_retry(names.RESEARCH_NEWS, retry, {"job_id": job.job_id})
        return None

    variant = OrchestratorFunction(
        names.ANALYSIS_ORCHESTRATOR, "context", df.Orchestrator.create(reordered)
    )
    result = replay(variant, recorded)
    divergence = find_divergence([Action.from_json(a) for a in recorded["actions"]], result.actions)
    assert divergence is not None and "action #1" in divergence
    assert names.SET_JOB_STAGE in divergence and names.RESEARCH_NEWS in divergence
