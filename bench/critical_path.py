"""The memo's critical path: the bounds the injected latencies imply, and where one real memo's
wall time went, from its activity invocations as the host's observer saw them.

A memo's wall time runs from its job's `created_at` to `completed_at`, which the orchestrator
stamps in the episode that schedules persist_report; so the activities in it are the three stage
updates, the two market fetches (ticker, SPY), the news search, the Quant Analyst and the
strategist (write_memo). Its critical path is the stage update to gathering evidence, then the
later of [the later market fetch, then the Quant Analyst] and [the news search], then the stage
update to writing, the strategist and the stage update to persisting.

The sequential figure is derived from the same run, not from a second orchestrator: what the
memo would take with every activity in line is its wall time, plus the activities it ran off
its critical path (their durations as measured in this run), plus one host step for each of
them (the median gap, in this run, between one activity on the path ending and the next one
starting: the completion back, a replay, a checkpoint, the next activity sent).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.stats import median
from devhost.observe import Invocation
from shared import names

IN_WALL = {  # the activities between created_at and completed_at, and how many of each
    names.SET_JOB_STAGE: 3,
    names.FETCH_MARKET_DATA: 2,
    names.RESEARCH_NEWS: 1,
    names.RUN_QUANT_ANALYST: 1,
    names.WRITE_MEMO: 1,
}


@dataclass(frozen=True)
class Latencies:
    """Seconds each stand-in waits before answering.

    market: each simulated market fetch, the ticker's and SPY's (SIMULATED_LATENCY_MS).
    news: the Firecrawl stand-in's search. llm: each model call (quant note, decision).
    Persisting has no injected latency: it is Azurite work, so it counts as overhead.
    """

    market: float
    news: float
    llm: float

    @property
    def spy(self) -> float:
        return self.market  # one simulated provider, one latency setting for both symbols

    def critical_path(self) -> float:
        """max(max(market, spy) + quant_llm, news) + strategist_llm + persist (0 injected)."""
        return max(max(self.market, self.spy) + self.llm, self.news) + self.llm

    def sequential(self) -> float:
        """Every stage after the previous one."""
        return self.market + self.spy + self.news + self.llm + self.llm

    def injected(self, function: str) -> float:
        """The latency injected into one call of an activity."""
        return {
            names.FETCH_MARKET_DATA: self.market,
            names.RESEARCH_NEWS: self.news,
            names.RUN_QUANT_ANALYST: self.llm,
            names.WRITE_MEMO: self.llm,
        }.get(function, 0.0)

    def as_json(self) -> dict[str, float]:
        return {**asdict(self), "spy": self.spy}


ZERO = Latencies(market=0.0, news=0.0, llm=0.0)


def _ended(call: Invocation) -> float:
    return call.started + call.seconds


def in_wall(calls: list[Invocation]) -> list[Invocation] | None:
    """The memo's activities up to completed_at, in the order they started; None when any is
    missing (a failed or unfinished memo)."""
    by_name: dict[str, list[Invocation]] = {}
    for call in sorted(calls, key=lambda c: c.started):
        by_name.setdefault(call.function, []).append(call)
    picked: list[Invocation] = []
    for name, count in IN_WALL.items():
        found = by_name.get(name, [])
        if len(found) < count:
            return None
        picked += found[:count]
    return sorted(picked, key=lambda c: c.started)


def on_path(calls: list[Invocation]) -> list[Invocation] | None:
    """The activities on the memo's critical path, in order (see the module's docstring)."""
    memo = in_wall(calls)
    if memo is None:
        return None

    def of(name: str) -> list[Invocation]:
        return [c for c in memo if c.function == name]

    stages = of(names.SET_JOB_STAGE)
    market = max(of(names.FETCH_MARKET_DATA), key=_ended)
    (quant,) = of(names.RUN_QUANT_ANALYST)
    (news,) = of(names.RESEARCH_NEWS)
    (strategist,) = of(names.WRITE_MEMO)
    evidence = [news] if _ended(news) > _ended(quant) else [market, quant]
    return [stages[0], *evidence, stages[1], strategist, stages[2]]


def breakdown(calls: list[Invocation], wall: float, latencies: Latencies) -> dict[str, float]:
    """One memo's wall time split along its critical path, and its sequential figure; empty
    when the memo's activities are not all there."""
    memo, path = in_wall(calls), on_path(calls)
    if memo is None or path is None:
        return {}
    spent = sum(c.seconds for c in path)
    injected = sum(latencies.injected(c.function) for c in path)
    off_path = [c for c in memo if all(c is not p for p in path)]
    stages = [c for c in path if c.function == names.SET_JOB_STAGE]
    step = median([b.started - _ended(a) for a, b in zip(path, path[1:], strict=False)])
    return {
        "activities_on_path_s": round(spent, 3),
        "injected_latency_on_path_s": round(injected, 3),
        "activity_work_on_path_s": round(spent - injected, 3),
        "stage_updates_s": round(sum(c.seconds for c in stages), 3),
        "host_between_activities_s": round(wall - spent, 3),
        "host_step_s": round(step, 3),
        "activities_off_path": len(off_path),
        "activities_off_path_s": round(sum(c.seconds for c in off_path), 3),
        "sequential_wall_s": round(
            wall + sum(c.seconds for c in off_path) + len(off_path) * step, 3
        ),
    }


def medians(rows: list[dict[str, float]]) -> dict[str, Any]:
    """Each figure's median over the memos that have one."""
    rows = [r for r in rows if r]
    if not rows:
        return {}
    return {key: round(median([r[key] for r in rows]), 3) for key in rows[0]}
