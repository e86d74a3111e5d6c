"""The stand-ins on 127.0.0.1, with the latencies the benchmark sets, and the app settings that
point the real providers at them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.latencies import Latencies
from bench.responder import GroundedResponder
from tests.standins.firecrawl_server import FirecrawlStandIn, document, search_body
from tests.standins.openai_server import OpenAIStandIn

FIRECRAWL_KEY = "fc-standin-not-a-secret"
SAMPLE_SETTINGS = Path(__file__).resolve().parents[1] / "local.settings.sample.json"
WORKER_THREADS = json.loads(SAMPLE_SETTINGS.read_text())["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"]
ARTICLES = 3


def _articles() -> list[dict[str, object]]:
    published = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return [
        document(
            f"https://news.example/bench/{i}",
            f"Company update {i}",
            f"# Update {i}\n\nThe company said demand was steady and costs were under review.",
            published=published,
        )
        for i in range(1, ARTICLES + 1)
    ]


@dataclass
class StandIns:
    llm: OpenAIStandIn
    responder: GroundedResponder
    news: FirecrawlStandIn
    latencies: Latencies

    def set_latencies(self, latencies: Latencies) -> None:
        """From now on; SIMULATED_LATENCY_MS is an app setting (see `app_settings`)."""
        self.latencies = latencies
        self.responder.set_delay(latencies.llm)
        self.news.respond(200, search_body(_articles()), delay=latencies.news)

    def counters(self) -> dict[str, int]:
        return {
            "calls": self.llm.calls,
            "prompt_tokens": self.llm.prompt_tokens,
            "completion_tokens": self.llm.completion_tokens,
            "news_searches": len(self.news.requests),
        }

    def app_settings(self, **extra: str) -> dict[str, str]:
        """Environment for the function app (its workers read it when they start): simulated
        market data with latency, Firecrawl news and the OpenAI provider through the
        stand-ins."""
        return {
            "MARKET_DATA_PROVIDER": "simulated",
            "SIMULATED_LATENCY_MS": str(round(self.latencies.market * 1000)),
            "NEWS_PROVIDER": "firecrawl",
            "FIRECRAWL_API_KEY": FIRECRAWL_KEY,
            "FIRECRAWL_API_URL": self.news.url,
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": self.llm.api_key,
            "OPENAI_BASE_URL": self.llm.openai_base_url,
            "OPENAI_MODEL": "gpt-standin",
            # The bench submits hundreds of jobs an hour for one (anonymous) caller.
            "ANALYSES_PER_HOUR": "1000000",
            # The retention timer's schedule (an app setting the host resolves): daily, as in
            # local.settings.sample.json.
            "RETENTION_CRON": "0 30 3 * * *",
            # As deployed (infra/main.bicep, local.settings.sample.json): the worker's sync
            # threads match host.json's activity + orchestrator concurrency.
            "PYTHON_THREADPOOL_THREAD_COUNT": WORKER_THREADS,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            **extra,
        }


@contextmanager
def standins(latencies: Latencies) -> Iterator[StandIns]:
    responder = GroundedResponder(latencies.llm)
    with ExitStack() as stack:
        llm = stack.enter_context(OpenAIStandIn(default=responder))
        news = stack.enter_context(FirecrawlStandIn())
        running = StandIns(llm=llm, responder=responder, news=news, latencies=latencies)
        running.set_latencies(latencies)
        yield running
