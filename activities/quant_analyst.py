"""The Quant Analyst: metrics computed in code from the snapshots, then one note on them."""

from __future__ import annotations

import logging
from typing import Any

import azure.durable_functions as df

from shared import names, telemetry
from shared.agents.writer import writer
from shared.contracts import QuantInput, QuantSummary
from shared.domain.evidence import DataGap, MarketSnapshot, QuantResult
from shared.domain.lookahead import check_evidence, check_snapshot
from shared.domain.metrics import completeness, compute_metrics
from shared.settings import get_settings
from shared.store.artifacts import ArtifactStore, work_blob
from shared.store.evidence_blobs import load_snapshot

bp = df.Blueprint()
log = logging.getLogger(__name__)


def quant_result(
    ticker: str,
    subject: MarketSnapshot,
    benchmark: MarketSnapshot | None,
    benchmark_gaps: list[DataGap],
) -> QuantResult:
    """What the snapshots say, before the note: every metric computed in code, and how complete
    they are. Pure (no I/O), so the golden memos run this very code."""
    gap_reason = "; ".join(g.message for g in benchmark_gaps) or None
    metrics = compute_metrics(subject, benchmark, benchmark_gap_reason=gap_reason)
    return QuantResult(
        ticker=ticker,
        outcome="ok",
        company_name=subject.name,
        currency=subject.currency,
        simulated=subject.simulated or bool(benchmark and benchmark.simulated),
        market_source=subject.source,
        metrics=metrics,
        completeness=completeness(metrics),
        gaps=list(benchmark_gaps),
        ticker_series=subject.series,
        benchmark_series=benchmark.series if benchmark else None,
    )


def summarize(result: QuantResult, artifact: str) -> QuantSummary:
    score = result.completeness.score if result.completeness else 0.0
    missing = result.completeness.missing if result.completeness else []
    return QuantSummary(
        outcome=result.outcome,
        completeness_score=score,
        missing=missing,
        gaps=result.gaps,
        artifact=artifact,
    )


def analyze(request: QuantInput) -> QuantSummary:
    artifacts = ArtifactStore()
    name = work_blob(request.ticker, request.job_id, "quant")
    stored = artifacts.read_model(name, QuantResult)
    if stored is not None:  # a re-run: the note was already written and paid for
        return summarize(stored, name)

    subject = load_snapshot(artifacts, request.subject_artifact)
    benchmark = (
        load_snapshot(artifacts, request.benchmark_artifact)
        if request.benchmark_artifact
        else None
    )
    # The look-ahead guard, before any metric or note is made of them: a point-in-time
    # analysis fails here (lookahead_violation) on a snapshot dated after its as_of.
    check_snapshot(subject, request.as_of)
    if benchmark is not None:
        check_snapshot(benchmark, request.as_of)
    result = quant_result(request.ticker, subject, benchmark, request.benchmark_gaps)
    check_evidence(result, None, request.as_of)
    author = writer(get_settings())
    result.note = author.quant_note(result)
    result = artifacts.write_model_once(name, result)
    log.info(
        "job %s: quant note by %s, completeness %.2f",
        request.job_id, result.note.writer if result.note else "-", summarize(result, name)
        .completeness_score,
    )
    return summarize(result, name)


@bp.activity_trigger(input_name="payload", activity=names.RUN_QUANT_ANALYST)
def run_quant_analyst(payload: dict) -> dict[str, Any]:
    request = QuantInput.model_validate(payload)
    with telemetry.activity_span(names.RUN_QUANT_ANALYST, request.job_id, request.ticker):
        return analyze(request).model_dump(mode="json")
