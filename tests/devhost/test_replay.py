"""Actions read from the SDK's state, and the divergence check between replays."""

from __future__ import annotations

from devhost.replay import Action, find_divergence, flatten

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
