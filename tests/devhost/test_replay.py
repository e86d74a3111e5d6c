"""Actions read from the SDK's state, and the divergence check between replays."""

from __future__ import annotations

import json

from devhost.replay import Action, context_json, find_divergence, flatten

CALL = 0
TIMER = 5


def test_compound_actions_flatten_in_sequence_id_order() -> None:
    state_actions = [
        [
            {
                "actionType": 12,
                "compoundActions": [
                    {
                        "actionType": 12,
                        "compoundActions": [
                            {
                                "actionType": 1,
                                "functionName": "flaky",
                                "input": "1",
                                "retryOptions": {
                                    "firstRetryIntervalInMilliseconds": 100,
                                    "maxNumberOfAttempts": 3,
                                },
                            },
                        ],
                    },
                    {"actionType": 0, "functionName": "ok", "input": "2"},
                ],
            },
            {"actionType": 11, "compoundActions": []},
            {"actionType": 5, "fireAt": "2024-01-01T00:00:00.000000Z", "isCanceled": True},
        ]
    ]
    flat = flatten(state_actions)
    assert [(a.kind, a.name) for a in flat] == [(1, "flaky"), (0, "ok"), (5, None)]
    assert (flat[0].first_retry_ms, flat[0].max_attempts) == (100, 3)
    assert flat[2].cancelled


def test_same_history_is_no_divergence_and_cancelling_a_timer_is_allowed() -> None:
    recorded = [Action(CALL, "a", '"x"'), Action(TIMER, fire_at="T1")]
    replayed = [
        Action(CALL, "a", '"x"'),
        Action(TIMER, fire_at="T1", cancelled=True),
        Action(CALL, "b", "null"),
    ]
    assert find_divergence(recorded, replayed) is None


def test_divergences_name_the_action() -> None:
    recorded = [Action(CALL, "a", '"x"'), Action(CALL, "b", '"y"')]
    assert find_divergence(recorded, [Action(CALL, "a", '"x"'), Action(CALL, "c", '"y"')]) == (
        "Non-deterministic orchestrator: action #2 was CallActivity 'b' with input \"y\" in "
        "history, replay produced CallActivity 'c' with input \"y\""
    )
    timer_instead = find_divergence(recorded, [Action(TIMER, fire_at="T")])
    assert timer_instead == (
        "Non-deterministic orchestrator: action #1 was CallActivity 'a' with input \"x\" in "
        "history, replay produced CreateTimer firing at T"
    )
    assert find_divergence(recorded, [Action(CALL, "a", '"x"')]) == (
        "Non-deterministic orchestrator: action #2 was CallActivity 'b' with input \"y\" in "
        "history, replay produced no action #2"
    )


def test_the_context_carries_what_the_extension_sends() -> None:
    """OrchestrationTriggerAttributeBindingProvider.OrchestrationContextToString (2.13.7, v3.x):
    schema V2 and V3 as numbers, Azure Storage's timer limits as TimeSpans, the input as JSON,
    and isReplaying true on every episode after the first."""
    first = json.loads(context_json("id-1", [], '{"a": 1}', replaying=False))
    assert first == {
        "history": [],
        "input": {"a": 1},
        "instanceId": "id-1",
        "isReplaying": False,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "maximumShortTimerDuration": "6.00:00:00",
        "longRunningTimerIntervalDuration": "3.00:00:00",
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    }
    assert json.loads(context_json("id-1", [], None, replaying=True))["isReplaying"] is True
