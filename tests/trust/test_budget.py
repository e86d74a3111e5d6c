"""LLM_TOKEN_BUDGET: a call that would take the job past it is refused before it is sent.

The estimate is characters / 4 (messages and output schema, rounded up) plus LLM_MAX_TOKENS.
The budget covers the whole job: the strategist starts from the analyst's usage, which travels
on QuantResult.usage, and regenerations count like first calls.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import Azurite
from shared import names
from shared.agents.llm import prompts
from shared.agents.llm.budget import TokenBudget, estimate_tokens
from shared.agents.llm.client import LlmClient, reset_llm_clients
from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from shared.agents.model_writer import LlmWriter
from shared.domain.models import Usage
from shared.errors import BudgetExceeded
from tests.shared.agents.llm_samples import CALM_NEWS, CLEAN_NOTE, quant_result
from tests.standins.firecrawl_server import FirecrawlStandIn
from tests.standins.openai_server import OpenAIStandIn, Reply, standin_settings
from tests.trust.agents import agents, is_strategist, long_articles
from tests.trust.support import (
    durable_status,
    follow,
    function_events,
    make_app_root,
    running_host,
    submit,
)

MAX_TOKENS = 800


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    reset_llm_clients()
    with OpenAIStandIn() as server:
        yield server
    reset_llm_clients()


def writer_with(standin: OpenAIStandIn, budget: int) -> LlmWriter:
    settings = standin_settings(
        standin, LLM_MAX_TOKENS=MAX_TOKENS, LLM_TOKEN_BUDGET=budget
    )
    return LlmWriter(settings, client=LlmClient(settings))  # no response cache


def quant_estimate() -> int:
    return estimate_tokens(
        prompts.quant_messages(quant_result()), MAX_TOKENS, QuantNoteDraft.model_json_schema()
    )


def test_the_estimate_is_characters_over_four_plus_max_tokens() -> None:
    messages = [{"role": "system", "content": "x" * 10}, {"role": "user", "content": "y" * 7}]
    assert estimate_tokens(messages, 100) == 5 + 100  # ceil(17 / 4)
    schema = {"type": "object"}
    assert estimate_tokens(messages, 100, schema) == -(-(17 + 17) // 4) + 100
    budget = TokenBudget(1000, Usage(prompt_tokens=300, completion_tokens=200))
    assert budget.spent == 500 and budget.remaining == 500
    budget.check(500, "fits exactly")
    with pytest.raises(BudgetExceeded) as refused:
        budget.check(501, "one over")
    assert refused.value.code == "budget_exceeded"
    assert refused.value.message.startswith("one over: needs up to 501 tokens")


def test_a_quant_call_over_the_budget_is_never_sent(standin: OpenAIStandIn) -> None:
    needed = quant_estimate()
    with pytest.raises(BudgetExceeded):
        writer_with(standin, needed - 1).quant_note(quant_result())
    assert standin.requests == []

    standin.script(Reply.json(CLEAN_NOTE))
    result = quant_result()
    writer_with(standin, needed).quant_note(result)  # exactly the estimate fits
    assert standin.calls == 1
    assert result.usage.prompt_tokens == standin.prompt_tokens


def test_the_strategist_pays_from_what_the_analyst_left(standin: OpenAIStandIn) -> None:
    standin.script(Reply.json(CLEAN_NOTE))
    result = quant_result()
    result.note = writer_with(standin, 100_000).quant_note(result)
    spent = result.usage.prompt_tokens + result.usage.completion_tokens
    assert spent == standin.prompt_tokens + standin.completion_tokens > 0
    needed = estimate_tokens(
        prompts.strategist_messages(result, CALM_NEWS), MAX_TOKENS,
        DecisionDraft.model_json_schema(),
    )

    with pytest.raises(BudgetExceeded) as refused:
        writer_with(standin, spent + needed - 1).decide(result, CALM_NEWS)
    assert standin.calls == 1 and len(standin.requests) == 1  # nothing sent for the decision
    assert f"{needed - 1} of LLM_TOKEN_BUDGET={spent + needed - 1} are left" in str(
        refused.value
    )
    assert needed <= spent + needed - 1  # alone, the decision would have fitted


def test_a_regeneration_over_the_budget_is_refused_after_one_call(
    standin: OpenAIStandIn,
) -> None:
    invented = CLEAN_NOTE.model_copy(update={"text": "Revenue grew 15% [return_1y]."})
    standin.script(Reply.json(invented), Reply.json(CLEAN_NOTE))
    with pytest.raises(BudgetExceeded, match="quant_note_regeneration"):
        writer_with(standin, quant_estimate()).quant_note(quant_result())
    assert standin.calls == 1 and standin.pending == 1


def test_a_writing_memo_over_the_budget_fails_the_job_with_budget_exceeded(
    azurite: Azurite, tmp_path: Path
) -> None:
    """Through the local host: the strategist's call alone would fit the budget, but not on top
    of the analyst's. Durable retries write_memo, and every attempt refuses before calling: the
    analyst's call is the only one the stand-in ever answers."""
    budget, attempts = 5000, 3
    root = make_app_root(tmp_path, "TrustBudget")
    with OpenAIStandIn(default=agents) as llm, FirecrawlStandIn() as firecrawl:
        firecrawl.results(*long_articles())
        settings = {
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": llm.api_key,
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_MODEL": f"gpt-budget-{uuid.uuid4().hex[:8]}",  # no cache hits from others
            "NEWS_PROVIDER": "firecrawl",
            "FIRECRAWL_API_KEY": "fc-budget-test",
            "FIRECRAWL_API_URL": firecrawl.url,
            "LLM_MAX_TOKENS": str(MAX_TOKENS),
            "LLM_TOKEN_BUDGET": str(budget),
            "ACTIVITY_MAX_ATTEMPTS": str(attempts),
        }
        reset_llm_clients()
        try:
            with running_host(root, azurite.connection_string, azurite.connection_string,
                              **settings) as host:
                answer = submit(host, "BUDG")
                assert answer.status_code == 202, answer.text
                job = follow(host, answer.json()["statusQueryGetUri"])
                history = durable_status(host, job["id"])
        finally:
            reset_llm_clients()

    assert job["status"] == "failed", job
    assert job["error"]["code"] == "budget_exceeded" and job["error"]["stage"] == "writing_memo"
    assert function_events(history, names.WRITE_MEMO, "TaskFailed") == attempts
    assert llm.calls == 1 and not any(is_strategist(r) for r in llm.requests)
    spent = llm.prompt_tokens + llm.completion_tokens  # the analyst's call
    refused = re.search(r"needs up to (\d+) tokens but (\d+) of LLM_TOKEN_BUDGET=5000 are left",
                        job["error"]["message"])
    assert refused is not None, job["error"]
    needed, left = int(refused.group(1)), int(refused.group(2))
    assert left == budget - spent and left < needed <= budget
