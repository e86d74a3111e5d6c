"""Each replay's orchestrator invocation, as `host` pairs them."""

from __future__ import annotations

from bench.host_overhead import replay_invocations
from devhost.observe import Invocation, Replay


def test_each_replay_is_paired_with_the_invocation_that_started_inside_it() -> None:
    replays = [Replay("i", 2, 0.0, 0.010), Replay("i", 6, 0.100, 0.012), Replay("i", 9, 0.5, 0.01)]
    invoked = [
        Invocation("orchestrator", "chain", "i", 0.101, 0.009),
        Invocation("orchestrator", "chain", "i", 0.002, 0.007),
    ]
    # The third replay's invocation is missing (its worker died): it is left out, not guessed.
    assert replay_invocations(replays, invoked) == [0.007, 0.009]
