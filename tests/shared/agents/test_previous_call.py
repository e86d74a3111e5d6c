"""The strategist of a watchlist run: the previous call and its realised outcome in its one call,
held to the grounding gate (issue 17, item 4)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from shared.agents.grounding import check_decision
from shared.agents.llm import prompts
from shared.agents.llm.client import LlmClient, reset_llm_clients
from shared.agents.model_writer import LlmWriter
from shared.domain.changes import ChangeSet
from shared.domain.models import Grounding, Verdict
from tests.shared.agents.llm_samples import CALM_NEWS, CLEAN_DECISION, CLEAN_NOTE, quant_result
from tests.standins.openai_server import (
    OpenAIStandIn,
    Received,
    Reply,
    openai_standin,
    standin_settings,
)

CHANGES = ChangeSet(
    previous_job_id="p" * 32,
    previous_completed_at=datetime(2024, 4, 2, 20, 0, tzinfo=UTC),
    previous_evidence_date=date(2024, 4, 2),
    verdict_before=Verdict.SELL,
    confidence_before=0.35,
    realised_excess_return=0.0317,
    ticker_return=0.0512,
    benchmark_return=0.0195,
    benchmark_symbol="SPY",
    window_start=date(2024, 4, 2),
    window_end=date(2024, 5, 1),
)

ADDRESSED = CLEAN_DECISION.model_copy(
    update={
        "thesis": CLEAN_DECISION.thesis
        + " The last memo said sell at 0.35 [previous_verdict]; since then the stock beat SPY "
        "by +3.2% [realised_excess_return], so the call moves to hold."
    }
)


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    reset_llm_clients()
    with openai_standin() as server:
        yield server
    reset_llm_clients()


def llm_writer(standin: OpenAIStandIn) -> LlmWriter:
    settings = standin_settings(standin)
    return LlmWriter(settings, client=LlmClient(settings))


def test_the_gate_accepts_the_previous_call_and_its_outcome_when_cited() -> None:
    assert check_decision(ADDRESSED, quant_result(), CALM_NEWS, CHANGES) == []


def test_the_gate_refuses_an_invented_outcome_and_an_ignored_previous_call() -> None:
    invented = ADDRESSED.model_copy(
        update={"thesis": ADDRESSED.thesis.replace("+3.2%", "+7.5%")}
    )
    assert any('"+7.5%" is not in the evidence' in v
               for v in check_decision(invented, quant_result(), CALM_NEWS, CHANGES))
    ignored = check_decision(CLEAN_DECISION, quant_result(), CALM_NEWS, CHANGES)
    assert any("does not address the previous call" in v for v in ignored)
    # Without a previous memo nothing changes, and its ids are unknown.
    assert check_decision(CLEAN_DECISION, quant_result(), CALM_NEWS) == []
    assert any("unknown id [previous_verdict]" in v
               for v in check_decision(ADDRESSED, quant_result(), CALM_NEWS))


def test_a_missing_realised_return_cannot_be_cited() -> None:
    unknown = CHANGES.model_copy(
        update={"realised_excess_return": None, "ticker_return": None,
                "benchmark_return": None, "realised_reason": "not covered"}
    )
    found = check_decision(ADDRESSED, quant_result(), CALM_NEWS, unknown)
    assert any("cites missing metric [realised_excess_return]" in v for v in found)


def test_the_prompt_carries_the_previous_call_and_the_realised_outcome() -> None:
    message = prompts.strategist_user_message(quant_result(), CALM_NEWS, CHANGES)
    rows = {
        row["id"]: row
        for row in (json.loads(line) for line in message.splitlines() if line.startswith("{"))
    }
    assert rows["previous_verdict"]["value"] == "sell"
    assert rows["previous_verdict"]["date"] == "2024-04-02"
    assert rows["previous_confidence"]["value"] == "0.35"
    assert rows["realised_excess_return"]["value"] == "+3.2%"
    assert "cite [previous_verdict]" in message
    assert "previous_verdict" not in prompts.strategist_user_message(quant_result(), CALM_NEWS)
    # The system prompt stays the one constant every memo is written under.
    assert prompts.strategist_messages(quant_result(), CALM_NEWS, CHANGES)[0]["content"] == (
        prompts.STRATEGIST_SYSTEM_PROMPT
    )


def test_with_the_openai_standin_a_memo_still_costs_two_calls(standin: OpenAIStandIn) -> None:
    standin.script(Reply.json(CLEAN_NOTE), Reply.json(ADDRESSED))
    writer = llm_writer(standin)
    result = quant_result()

    result.note = writer.quant_note(result)
    decision = writer.decide(result, CALM_NEWS, CHANGES)

    assert standin.calls == 2
    assert decision.grounding is Grounding.GROUNDED and decision.violations == []
    strategist: Received = list(standin.requests)[-1]
    assert strategist.system == prompts.STRATEGIST_SYSTEM_PROMPT
    assert '"id": "previous_verdict", "label": "The previous memo\'s verdict", "value": "sell"' in (
        strategist.user[0]
    )
    assert '"value": "+3.2%"' in strategist.user[0]


def test_a_draft_that_ignores_the_previous_call_is_regenerated_once(
    standin: OpenAIStandIn,
) -> None:
    standin.script(Reply.json(CLEAN_DECISION), Reply.json(CLEAN_DECISION))
    writer = llm_writer(standin)
    result = quant_result()

    decision = writer.decide(result, CALM_NEWS, CHANGES)

    assert standin.calls == 2
    assert decision.grounding is Grounding.UNGROUNDED
    assert any("previous call" in v for v in decision.violations)
