"""The figures `batch` rests on: its ideal, its host's limits, the handoffs, and its target."""

from __future__ import annotations

import pytest

from bench.__main__ import _targets
from bench.batch import Limits, handoffs, ideal_seconds
from bench.runtime import durable_limit


@pytest.mark.parametrize(
    ("tickers", "concurrency", "waves"), [(50, 5, 10), (51, 5, 11), (10, 5, 2), (3, 5, 1)]
)
def test_the_ideal_is_whole_waves_of_single_memos_and_one_model_call(
    tickers: int, concurrency: int, waves: int
) -> None:
    assert ideal_seconds(tickers, concurrency, 3.2, 1.0) == pytest.approx(waves * 3.2 + 1.0)


def test_the_host_lets_three_activities_run_for_every_child() -> None:
    limits = Limits.of(5)
    assert limits.activities == 15
    assert limits.orchestrators >= 6
    assert limits.threads == limits.activities + limits.orchestrators
    small = Limits.of(1)  # never below what host.json already allows
    assert small.activities == durable_limit("maxConcurrentActivityFunctions")


def test_the_kth_child_to_end_hands_its_slot_to_the_next_one_started() -> None:
    starts = [0.0, 0.0, 3.4, 3.6, 7.0]  # two at once; the third starts after the first ends
    ends = [3.2, 3.5, 6.8, 7.1, 10.0]
    assert handoffs(starts, ends, 2) == pytest.approx([0.2, 0.1, 0.2])


def batch(ratio: float, calls: int, grounded: bool = True) -> dict[str, object]:
    return {"ratio": ratio, "llm_calls": calls, "llm_calls_expected": 101,
            "all_grounded": grounded}


def test_the_batch_target_is_inclusive_and_counts_calls_exactly() -> None:
    met = _targets({"batch": batch(1.2, 101)})
    assert met["batch_ratio"]["met"] and met["batch_llm_calls"]["met"]
    missed = _targets({"batch": batch(1.201, 102)})
    assert not missed["batch_ratio"]["met"] and not missed["batch_llm_calls"]["met"]
    assert not _targets({"batch": batch(1.0, 101, grounded=False)})["batch_llm_calls"]["met"]
    assert not _targets({})["batch_ratio"]["met"]
