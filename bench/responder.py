"""A model stand-in that answers the two agents' real prompts with grounded drafts.

It reads what the prompts show (the metric JSON lines, the completeness cap, the article ids)
and copies metric values exactly as displayed, cites their ids, and keeps the confidence under
the cap, so the app's grounding gate passes both drafts and a memo costs exactly two calls.
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from shared.agents.llm import prompts
from shared.agents.llm.schemas import DecisionDraft, QuantNoteDraft
from tests.standins.openai_server import Received, Reply

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
    return DecisionDraft(
        verdict="hold",
        confidence=round(cap / 2, 2),
        thesis=f"The evidence is mixed: {cited}.{news} Hold.",
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
        system, user = request.system, request.user[-1]
        if system == prompts.QUANT_SYSTEM_PROMPT:
            return Reply.json(quant_draft(request.user[0]), delay=delay)
        if system == prompts.STRATEGIST_SYSTEM_PROMPT:
            return Reply.json(decision_draft(request.user[0]), delay=delay)
        return Reply.status_code(500, f"unexpected prompt ({len(user)} characters)")
