"""The two rules applied to a decision after whichever writer made it: confidence never above the
evidence's completeness, and the memo's overall grounding from both agents' outputs."""

from __future__ import annotations

from shared.domain.evidence import Decision, QuantNote, QuantResult
from shared.domain.models import Grounding


def cap_confidence(decision: Decision, quant: QuantResult) -> Decision:
    """The invariant, whoever wrote the decision: confidence never exceeds completeness."""
    cap = quant.completeness.score if quant.completeness else 0.0
    if decision.confidence > cap:
        decision = decision.model_copy(update={"confidence": cap})
    return decision


def overall_grounding(note: QuantNote | None, decision: Decision) -> Grounding:
    """The memo's grounding: ungrounded if either model output is; grounded only if both are."""
    states = {decision.grounding, note.grounding if note else Grounding.NOT_APPLICABLE}
    if Grounding.UNGROUNDED in states:
        return Grounding.UNGROUNDED
    if Grounding.GROUNDED in states:
        return Grounding.GROUNDED
    return Grounding.NOT_APPLICABLE
