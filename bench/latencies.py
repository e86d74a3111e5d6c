"""The injected latencies and the critical-path bounds they imply."""

from __future__ import annotations

from dataclasses import asdict, dataclass


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
        """The seed's shape: every stage after the previous one."""
        return self.market + self.spy + self.news + self.llm + self.llm

    def as_json(self) -> dict[str, float]:
        return {**asdict(self), "spy": self.spy}


ZERO = Latencies(market=0.0, news=0.0, llm=0.0)
