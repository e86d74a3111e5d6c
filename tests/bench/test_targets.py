"""The targets the README states, checked exactly as stated."""

from __future__ import annotations

from typing import Any

from bench.__main__ import _targets


def results(ratio: float, calls: int, grounded: bool, p95_vs_idle: float) -> dict[str, Any]:
    return {
        "single": {"ratio": ratio},
        "llm": {"calls_per_memo": calls, "all_grounded": grounded},
        "load": {
            "levels": [
                {"in_flight": 0, "p95_vs_idle": None, "p95_vs_idle_90pct_interval": None},
                {"in_flight": 50, "p95_vs_idle": p95_vs_idle,
                 "p95_vs_idle_90pct_interval": [1.0, 4.0]},
            ],
            "integrity": [{"lost": 0, "duplicated": 0, "stuck": 0}],
            "job_rows_no_post_answered_with": 0,
        },
    }


def test_the_limits_are_inclusive() -> None:
    met = _targets(results(1.10, 2, True, 3.0))
    assert met["single_ratio"]["met"] and met["llm_calls"]["met"] and met["post_p95"]["met"]
    assert met["integrity"]["met"]


def test_just_over_a_limit_misses_it() -> None:
    missed = _targets(results(1.101, 3, True, 3.01))
    assert not missed["single_ratio"]["met"]
    assert not missed["llm_calls"]["met"]
    assert not missed["post_p95"]["met"]


def test_two_calls_count_only_when_every_memo_was_grounded() -> None:
    assert not _targets(results(1.0, 2, False, 1.0))["llm_calls"]["met"]


def test_a_lost_job_fails_integrity() -> None:
    found = results(1.0, 2, True, 1.0)
    found["load"]["integrity"][0]["lost"] = 1
    assert not _targets(found)["integrity"]["met"]


def test_parts_not_run_are_not_met() -> None:
    empty = _targets({})
    assert not empty["single_ratio"]["met"] and not empty["post_p95"]["met"]
    assert "integrity" not in empty
