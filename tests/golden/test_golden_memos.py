"""Golden memos: frozen evidence and frozen model outputs, run through the real code path.

For each case in `cases/`: the metrics computed from the frozen snapshots, the messages sent to
the model, the gate's verdict on every frozen output, and the rendered memo must equal the
committed files in `cases/<case>/expected/` (and the system prompts `system_prompts.md`). A
change in metrics, formatting, prompts, gate rules or the memo shows up there, in review.

The steps are the activities' own code: the Quant Analyst's `quant_result` (the snapshots to a
`QuantResult`), the strategist's `decision_for` (the decision, capped by the data) and the
persist step's `evidence_document`, around the real `LlmWriter`; only storage is left out.

Regenerate after an intended change, then read the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/golden -q
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from activities.decision import decision_for
from activities.persist import evidence_document
from activities.quant_analyst import quant_result
from shared.agents.grounding import check_decision, check_quant_note
from shared.agents.llm import prompts
from shared.agents.llm.client import LlmClient, reset_llm_clients
from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from shared.agents.model_writer import LlmWriter
from shared.contracts import PersistInput
from shared.domain.evidence import DataGap, MarketSnapshot, NewsResult, QuantResult
from shared.domain.formatting import format_metric
from shared.render.memo import render_memo
from tests.standins.openai_server import OpenAIStandIn, Reply, openai_standin, standin_settings

GOLDEN = Path(__file__).parent
CASES = sorted(p.name for p in (GOLDEN / "cases").iterdir() if p.is_dir())
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
REGENERATE = "UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/golden -q"


def matches_golden(path: Path, actual: str) -> None:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    assert path.exists(), f"{path.relative_to(GOLDEN)} is missing: run {REGENERATE}"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{path.relative_to(GOLDEN)} changed; if intended, run {REGENERATE} and review the diff"
    )


def dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def quant_from(evidence: dict[str, Any]) -> QuantResult:
    """What the Quant Analyst activity computes before the note, by its own code."""
    subject = MarketSnapshot.model_validate(evidence["subject"])
    bench = (
        MarketSnapshot.model_validate(evidence["benchmark"]) if evidence["benchmark"] else None
    )
    gaps = [DataGap.model_validate(g) for g in evidence["benchmark_gaps"]]
    return quant_result(evidence["ticker"], subject, bench, gaps)


def requests_markdown(standin: OpenAIStandIn) -> str:
    lines = [
        "# Requests sent to the model, in order",
        "",
        "System prompts are in `tests/golden/system_prompts.md`; here only their names.",
    ]
    names = {
        prompts.QUANT_SYSTEM_PROMPT: "QUANT_SYSTEM_PROMPT",
        prompts.STRATEGIST_SYSTEM_PROMPT: "STRATEGIST_SYSTEM_PROMPT",
    }
    for number, request in enumerate(standin.requests, start=1):
        lines += ["", f"## Call {number}", ""]
        for message in request.messages:
            content = str(message["content"])
            if message["role"] == "system":
                lines.append(f"system: {names.get(content, 'UNKNOWN SYSTEM PROMPT')}")
                continue
            lines += ["", f"{message['role']}:", "", "~~~~text", content.rstrip("\n"), "~~~~"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    reset_llm_clients()
    with openai_standin() as server:
        yield server
    reset_llm_clients()


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case: str, standin: OpenAIStandIn) -> None:
    folder = GOLDEN / "cases" / case
    expected = folder / "expected"
    evidence = json.loads((folder / "evidence.json").read_text(encoding="utf-8"))
    outputs = json.loads((folder / "llm_outputs.json").read_text(encoding="utf-8"))
    note_drafts = [QuantNoteDraft.model_validate(d) for d in outputs["quant_note"]]
    decision_drafts = [DecisionDraft.model_validate(d) for d in outputs["decision"]]
    news = NewsResult.model_validate(evidence["news"])

    quant = quant_from(evidence)
    matches_golden(
        expected / "metrics.json",
        dumps(
            {
                "completeness": quant.completeness.model_dump(mode="json")
                if quant.completeness
                else None,
                "metrics": [
                    {"shown": format_metric(m, quant.currency), **m.model_dump(mode="json")}
                    for m in quant.metrics
                ],
            }
        ),
    )

    standin.script(*(Reply.json(d) for d in [*note_drafts, *decision_drafts]))
    settings = standin_settings(standin)
    writer = LlmWriter(settings, client=LlmClient(settings))
    bare = quant.model_copy(deep=True)
    quant.note = writer.quant_note(quant)
    decision = decision_for(quant, news, writer)

    assert standin.pending == 0 and standin.calls == len(note_drafts) + len(decision_drafts), (
        "every frozen output is used, and no call goes unanswered"
    )
    matches_golden(expected / "requests.md", requests_markdown(standin))
    matches_golden(
        expected / "gate.json",
        dumps(
            {
                "quant_note_drafts": [check_quant_note(d, bare) for d in note_drafts],
                "decision_drafts": [check_decision(d, quant, news) for d in decision_drafts],
                "note_violations": quant.note.violations,
                "note_grounding": quant.note.grounding,
                "decision": {
                    "verdict": decision.verdict,
                    "confidence": decision.confidence,
                    "grounding": decision.grounding,
                    "violations": decision.violations,
                },
                "usage": {
                    "quant_calls": quant.usage.llm_calls,
                    "decision_calls": decision.usage.llm_calls,
                },
            }
        ),
    )

    created_at = datetime.fromisoformat(evidence["created_at"])
    request = PersistInput(
        job_id=evidence["job_id"], owner="golden", ticker=evidence["ticker"],
        created_at=created_at, completed_at=datetime(2026, 11, 27, 15, 5, tzinfo=UTC),
        quant_artifact="-", decision_artifact="-",
    )
    document = evidence_document(request, quant, news, decision)
    memo = render_memo(
        job_id=request.job_id, ticker=request.ticker, created_at=created_at, quant=quant,
        news=news, decision=decision, evidence_hash=document["evidence_hash"],
    )
    matches_golden(expected / "memo.md", memo)


def test_system_prompts() -> None:
    text = (
        "# System prompts (constants in shared/agents/llm/prompts.py)\n\n"
        "## QUANT_SYSTEM_PROMPT\n\n~~~~text\n" + prompts.QUANT_SYSTEM_PROMPT + "~~~~\n\n"
        "## STRATEGIST_SYSTEM_PROMPT\n\n~~~~text\n" + prompts.STRATEGIST_SYSTEM_PROMPT + "~~~~\n\n"
        "## REGENERATION_PROMPT\n\n~~~~text\n" + prompts.REGENERATION_PROMPT + "~~~~\n"
    )
    matches_golden(GOLDEN / "system_prompts.md", text)
