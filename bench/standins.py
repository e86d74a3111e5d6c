"""The stand-ins on 127.0.0.1, with the latencies the benchmark sets, and the app settings that
point the real providers at them.

The model stand-in answers the agents' real prompts with grounded drafts: it reads what the
prompts show (the metric JSON lines, the completeness cap, the article ids), copies metric values
exactly as displayed, cites their ids, and keeps the confidence under the cap, so the app's
grounding gate passes both drafts and a memo costs exactly two calls. A batch's Portfolio
Strategist prompt gets `tests.standins.openai_server.portfolio_draft`, grounded the same way, so
its summary costs exactly one call. Which prompt is which is read from the response schema the
request asks for, not from the prompt's wording.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.critical_path import Latencies
from shared.agents.llm.schemas import DecisionDraft, PortfolioSummaryDraft, QuantNoteDraft
from shared.domain.changes import PREVIOUS_VERDICT_ID
from tests.standins.firecrawl_server import FirecrawlStandIn, document, search_body
from tests.standins.openai_server import OpenAIStandIn, Received, Reply, portfolio_draft

FIRECRAWL_KEY = "fc-standin-not-a-secret"
SAMPLE_SETTINGS = Path(__file__).resolve().parents[1] / "local.settings.sample.json"
WORKER_THREADS = json.loads(SAMPLE_SETTINGS.read_text())["Values"]["PYTHON_THREADPOOL_THREAD_COUNT"]
ARTICLES = 3
_CAP = re.compile(r"must not exceed the completeness score, (\d+(?:\.\d+)?)\.")
_FENCE = re.compile(r"^<<<UNTRUSTED_ARTICLE ([A-Za-z0-9_.\-]+)>>>$", re.MULTILINE)


def shown_metrics(user: str) -> list[tuple[str, str]]:
    """(id, value as shown) of every available metric in a prompt's metric lines."""
    found: list[tuple[str, str]] = []
    for line in user.splitlines():
        if not line.startswith("{"):
            continue
        row: dict[str, Any] = json.loads(line)
        if row.get("value") is not None:
            found.append((str(row["id"]), str(row["value"])))
    return found


def quant_draft(user: str) -> QuantNoteDraft:
    metrics = shown_metrics(user)[:4]
    cited = ", ".join(f"{value} [{metric_id}]" for metric_id, value in metrics)
    return QuantNoteDraft(
        text=f"The computed metrics show {cited}. Weigh them against the missing data.",
        red_flags=[f"Watch {value} [{metric_id}]." for metric_id, value in metrics[:1]],
        cited_metrics=[metric_id for metric_id, _ in metrics],
    )


def decision_draft(user: str) -> DecisionDraft:
    metrics = shown_metrics(user)[:2]
    match = _CAP.search(user)
    cap = float(match.group(1)) if match else 0.0
    articles = _FENCE.findall(user)
    news = f" The news is mixed [{articles[0]}]." if articles else ""
    cited = " and ".join(f"{value} [{metric_id}]" for metric_id, value in metrics)
    # A watchlist run's strategist addresses the previous call (issue 17).
    previous = (
        f" The previous call [{PREVIOUS_VERDICT_ID}] stands."
        if f'"id": "{PREVIOUS_VERDICT_ID}"' in user
        else ""
    )
    return DecisionDraft(
        verdict="hold",
        confidence=round(cap / 2, 2),
        thesis=f"The evidence is mixed: {cited}.{news}{previous} Hold.",
        risks=[f"The data may move against the call [{metrics[0][0]}]."] if metrics else [],
        cited_metrics=[metric_id for metric_id, _ in metrics],
        cited_articles=articles[:1],
    )


class GroundedResponder:
    """The stand-in's `default` responder; `delay` (seconds) is each call's latency."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self._lock = threading.Lock()

    def set_delay(self, delay: float) -> None:
        with self._lock:
            self.delay = delay

    def __call__(self, request: Received) -> Reply:
        with self._lock:
            delay = self.delay
        schema, user = request.schema, request.user[-1]
        if schema == QuantNoteDraft.__name__:
            return Reply.json(quant_draft(request.user[0]), delay=delay)
        if schema == DecisionDraft.__name__:
            return Reply.json(decision_draft(request.user[0]), delay=delay)
        if schema == PortfolioSummaryDraft.__name__:
            return Reply.json(portfolio_draft(request.user[0]), delay=delay)
        return Reply.status_code(
            500, f"unexpected prompt ({schema or 'no schema'}, {len(user)} characters)"
        )


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
