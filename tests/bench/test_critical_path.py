"""The figures `single` rests on: the bounds, a memo's path, and its derived sequential time."""

from __future__ import annotations

import pytest

from bench.critical_path import Latencies, breakdown, in_wall, medians, on_path
from devhost.observe import Invocation
from shared import names

ONE = Latencies(market=1.0, news=1.0, llm=1.0)


def call(function: str, started: float, ended: float) -> Invocation:
    return Invocation("activity", function, "job", started, ended - started)


def memo(news_ends: float = 1.09) -> list[Invocation]:
    """A memo as the host's observer saw it: 20 ms between activities on the path."""
    return [
        call(names.SET_JOB_STAGE, 0.00, 0.05),
        call(names.FETCH_MARKET_DATA, 0.07, 1.08),  # the ticker
        call(names.FETCH_MARKET_DATA, 0.07, 1.10),  # SPY, the later one
        call(names.RESEARCH_NEWS, 0.07, news_ends),
        call(names.RUN_QUANT_ANALYST, 1.12, 2.13),
        call(names.SET_JOB_STAGE, 2.15, 2.20),
        call(names.WRITE_MEMO, 2.22, 3.23),
        call(names.SET_JOB_STAGE, 3.25, 3.30),
        call(names.PERSIST_REPORT, 3.32, 3.40),  # after completed_at: not in the wall time
    ]


def test_the_bounds_follow_the_orchestrators_shape() -> None:
    latencies = Latencies(market=2.0, news=5.0, llm=1.0)
    assert latencies.critical_path() == 6.0  # max(max(2, 2) + 1, 5) + 1
    assert latencies.sequential() == 11.0  # 2 + 2 + 5 + 1 + 1
    assert ONE.critical_path() == 3.0 and ONE.sequential() == 5.0


def test_the_path_runs_through_the_later_market_fetch_and_the_quant_analyst() -> None:
    calls = memo()
    path = on_path(calls)
    assert path is not None
    assert [c.function for c in path] == [
        names.SET_JOB_STAGE, names.FETCH_MARKET_DATA, names.RUN_QUANT_ANALYST,
        names.SET_JOB_STAGE, names.WRITE_MEMO, names.SET_JOB_STAGE,
    ]
    assert path[1] is calls[2]  # SPY ended last
    wall = in_wall(calls)
    assert wall is not None and len(wall) == 8
    assert names.PERSIST_REPORT not in {c.function for c in wall}


def test_the_path_runs_through_the_news_when_it_ends_after_the_quant_analyst() -> None:
    path = on_path(memo(news_ends=2.13 + 0.5))
    assert path is not None
    assert [c.function for c in path][:3] == [
        names.SET_JOB_STAGE, names.RESEARCH_NEWS, names.SET_JOB_STAGE,
    ]


def test_the_breakdown_and_the_sequential_figure_come_from_the_same_memo() -> None:
    found = breakdown(memo(), wall=3.35, latencies=ONE)
    assert found["activities_on_path_s"] == pytest.approx(3.20)
    assert found["injected_latency_on_path_s"] == pytest.approx(3.0)
    assert found["activity_work_on_path_s"] == pytest.approx(0.20)
    assert found["stage_updates_s"] == pytest.approx(0.15)
    assert found["host_between_activities_s"] == pytest.approx(0.15)
    assert found["host_step_s"] == pytest.approx(0.02)
    # Off the path: the ticker's fetch (1.01 s) and the news (1.02 s), each one more step.
    assert found["activities_off_path"] == 2
    assert found["activities_off_path_s"] == pytest.approx(2.03)
    assert found["sequential_wall_s"] == pytest.approx(3.35 + 2.03 + 2 * 0.02)


def test_a_memo_missing_an_activity_has_no_breakdown() -> None:
    calls = [c for c in memo() if c.function != names.WRITE_MEMO]
    assert on_path(calls) is None
    assert breakdown(calls, wall=3.35, latencies=ONE) == {}


def test_medians_skip_memos_without_a_breakdown() -> None:
    rows = [{"a": 1.0}, {}, {"a": 3.0}, {"a": 2.0}]
    assert medians(rows) == {"a": 2.0}
    assert medians([{}]) == {}
