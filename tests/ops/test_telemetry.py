"""Telemetry of real analyses through the local host, with the LLM and Firecrawl stand-ins.

One analysis is one trace: every span of the job shares the trace id derived from the job id,
each carries the job id, and there is a span per activity and per external call (market data,
news, model, storage). The counters move with the job's life, and no secret set here shows up
in any span or log record.

The app runs in the host's worker process, so that is where its telemetry is captured: the host
runs the wrapper app tests/ops/apps/telemetry (the real app, with in-memory providers installed
in the worker before it loads, and a route answering what they hold), with one worker so that
route sees everything. The test process's in-memory providers (the `otel` fixture, installed
before the host starts) hold what the host itself logs, and what the hook functions called
directly here record; the secret checks read both processes.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
import requests
from opentelemetry.sdk.trace import ReadableSpan

import activities.job_stage
import activities.persist
import api.analyses
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared import telemetry
from shared.agents.llm.client import reset_llm_clients
from shared.telemetry import JOB_ID, OUTCOME, PROVIDER, TICKER, job_parent_span_id, job_trace_id
from tests.app_env import key_header
from tests.ops.conftest import Captured, hooked, moved
from tests.ops.otel_capture import Points
from tests.ops.worker_telemetry import WorkerTelemetry
from tests.standins.firecrawl_server import FirecrawlStandIn
from tests.standins.openai_server import OpenAIStandIn
from tests.trust.agents import agents, long_articles
from tests.trust.support import (
    durable_status,
    follow,
    make_app_root,
    running_host,
    submit,
    wait_until,
)

SECRETS = {
    "OPENAI_API_KEY": f"sk-ops-{secrets.token_hex(16)}",
    "AZURE_OPENAI_API_KEY": f"azk-ops-{secrets.token_hex(16)}",
    "FIRECRAWL_API_KEY": f"fc-ops-{secrets.token_hex(16)}",
    "STATS_ADMIN_KEY": f"adm-ops-{secrets.token_hex(16)}",
}
MODEL = "gpt-4o-mini"
TELEMETRY_APP = "tests.ops.apps.telemetry.function_app:app"

LIFE_HOOKS = hooked(api.analyses, "telemetry.record_job_started(") and hooked(
    activities.persist, "telemetry.activity_span(", "telemetry.record_job_completed("
) and hooked(activities.job_stage, "telemetry.activity_span(", "telemetry.record_job_failed(")
needs_life_hooks = pytest.mark.skipif(
    not LIFE_HOOKS,
    reason="needs the telemetry hooks in api/analyses.py, activities/persist.py and "
    "activities/job_stage.py (see shared/telemetry.py: record_job_*, activity_span)",
)


@dataclass
class Run:
    """One job through the host and what it left in the telemetry."""

    job_id: str
    ticker: str
    status: dict[str, Any]
    spans: list[ReadableSpan]  # every span of the job's trace
    before: Points
    after: Points
    prompt_tokens: int  # what the LLM stand-in reported during the run
    completion_tokens: int

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def storage(self, action: str) -> list[ReadableSpan]:
        return [s for s in self.spans if attr(s, "stockmemo.storage.action") == action]


def attr(span: ReadableSpan, key: str) -> Any:
    return (span.attributes or {}).get(key)


@pytest.fixture(scope="module")
def llm() -> Iterator[OpenAIStandIn]:
    reset_llm_clients()
    with OpenAIStandIn(default=agents, api_key=SECRETS["OPENAI_API_KEY"]) as standin:
        yield standin
    reset_llm_clients()


@pytest.fixture(scope="module")
def host(
    otel: Captured, azurite: Azurite, llm: OpenAIStandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DevHost]:
    with FirecrawlStandIn() as firecrawl:
        firecrawl.results(*long_articles(count=2, chars=400))
        root = make_app_root(tmp_path_factory.mktemp("ops-telemetry"), "OpsTelemetry")
        settings: dict[str, Any] = {  # Any: mypy would match a str to running_host's `board`
            **SECRETS,
            "LLM_PROVIDER": "openai",
            "OPENAI_BASE_URL": llm.openai_base_url,
            "OPENAI_MODEL": MODEL,
            "NEWS_PROVIDER": "firecrawl",
            "FIRECRAWL_API_URL": firecrawl.url,
            "BENCHMARK_CACHE_SECONDS": "0",  # every job fetches SPY: one span per fetch
            "FUNCTIONS_WORKER_PROCESS_COUNT": "1",  # the capture route sees all the app did
        }
        with running_host(root, azurite.connection_string, azurite.connection_string,
                          app=TELEMETRY_APP, **settings) as running:
            assert len(running.worker_pids) == 1
            yield running


@pytest.fixture(scope="module")
def captured(host: DevHost) -> WorkerTelemetry:
    """What the app's worker recorded."""
    return WorkerTelemetry(host)


def run_job(host: DevHost, captured: WorkerTelemetry, llm: OpenAIStandIn, ticker: str) -> Run:
    before, tokens = captured.points(), (llm.prompt_tokens, llm.completion_tokens)
    answer = submit(host, ticker)
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    job = follow(host, answer.json()["statusQueryGetUri"])
    # Every activity has returned (its span ended) once the orchestration is over.
    wait_until(
        lambda: durable_status(host, job_id)["runtimeStatus"] in ("Completed", "Failed"),
        30, "the orchestration to end",
    )
    trace_id = job_trace_id(job_id)
    spans = [s for s in captured.spans()
             if s.context is not None and s.context.trace_id == trace_id]
    return Run(job_id, ticker, job, spans, before, captured.points(),
               llm.prompt_tokens - tokens[0], llm.completion_tokens - tokens[1])


@pytest.fixture(scope="module")
def completed(host: DevHost, captured: WorkerTelemetry, llm: OpenAIStandIn) -> Run:
    run = run_job(host, captured, llm, f"OT{uuid.uuid4().hex[:6].upper()}")
    assert run.status["status"] == "completed", run.status
    return run


@pytest.fixture(scope="module")
def failed(
    host: DevHost, captured: WorkerTelemetry, llm: OpenAIStandIn, completed: Run
) -> Run:
    run = run_job(host, captured, llm, f"ZZZZ{uuid.uuid4().hex[:4].upper()}")  # unknown: fails
    assert run.status["status"] == "failed", run.status
    assert run.status["error"]["code"] == "unknown_ticker"
    return run


def test_the_trace_id_is_the_job_id() -> None:
    job_id = uuid.uuid4().hex
    assert job_trace_id(job_id) == int(job_id, 16)
    assert job_trace_id("not-hex") == job_trace_id("not-hex") != 0  # hashed, stable
    assert job_parent_span_id(job_id) == job_parent_span_id(job_id) != 0


def test_one_analysis_is_one_trace_with_the_job_id_on_every_span(
    completed: Run, captured: WorkerTelemetry
) -> None:
    trace_id = job_trace_id(completed.job_id)
    assert trace_id == int(completed.job_id, 16)
    with_job = [s for s in captured.spans()
                if attr(s, JOB_ID) == completed.job_id]
    assert with_job and {s.context.trace_id for s in with_job if s.context} == {trace_id}
    assert completed.spans and all(attr(s, JOB_ID) == completed.job_id for s in completed.spans)

    # One span per activity run: a run that Durable retried shows as a failed span too.
    ok = Counter(s.name for s in completed.spans if attr(s, OUTCOME) == "ok")
    assert ok["activity fetch_market_data"] == 2
    for activity in ("research_news", "run_quant_analyst", "write_memo"):
        assert ok[f"activity {activity}"] == 1, ok

    by_id = {s.context.span_id: s for s in completed.spans if s.context}
    for span in completed.spans:
        if span.name.startswith("activity "):  # under the job's synthetic parent, every run
            assert span.parent is not None and span.parent.is_remote
            assert span.parent.span_id == job_parent_span_id(completed.job_id)
            bookkeeping = span.name in ("activity set_job_stage", "activity fail_job")
            assert attr(span, TICKER) == (None if bookkeeping else completed.ticker)
        else:  # a call made inside an activity (a storage call may be inside another call)
            ancestor = span
            while not ancestor.name.startswith("activity "):
                assert ancestor.parent is not None, span.name
                ancestor = by_id[ancestor.parent.span_id]


def test_a_span_per_external_call(completed: Run) -> None:
    market = completed.named("market_data fetch")
    assert sorted(attr(s, "stockmemo.symbol") for s in market) == sorted([completed.ticker, "SPY"])
    assert {attr(s, PROVIDER) for s in market} == {"simulated"}

    (news,) = completed.named("news search")
    assert attr(news, PROVIDER) == "firecrawl" and attr(news, OUTCOME) == "ok"
    assert attr(news, "stockmemo.news.articles") == 2

    chats = completed.named(f"chat {MODEL}")
    assert sorted(attr(s, "stockmemo.llm.purpose") for s in chats) == ["decision", "quant_note"]
    for span in chats:
        assert attr(span, "gen_ai.request.model") == MODEL and attr(span, PROVIDER) == "openai"
        assert attr(span, "gen_ai.usage.input_tokens") > 0
        assert attr(span, "gen_ai.usage.output_tokens") > 0
    assert sum(attr(s, "gen_ai.usage.input_tokens") for s in chats) == completed.prompt_tokens
    assert sum(attr(s, "gen_ai.usage.output_tokens") for s in chats) == (
        completed.completion_tokens
    )

    work = f"{completed.ticker}/{completed.job_id}/work"
    for name in (f"market_{completed.ticker}", "market_SPY", "news", "quant", "decision"):
        (write,) = completed.storage(f"write {work}/{name}.json")
        assert write.name == "storage write" and attr(write, OUTCOME) == "ok"


def test_metrics_of_stages_and_tokens(completed: Run) -> None:
    def stage(name: str) -> float:
        return moved(completed.before, completed.after, "stockmemo.stage.duration",
                     stage=name, **{OUTCOME: "ok"})

    assert stage("gathering_evidence") == 4  # two market fetches, news, the quant analyst
    assert stage("writing_memo") == 1
    tokens = "stockmemo.llm.tokens"
    assert moved(completed.before, completed.after, tokens, direction="input") == (
        completed.prompt_tokens
    )
    assert moved(completed.before, completed.after, tokens, direction="output") == (
        completed.completion_tokens
    )


def test_log_lines_of_the_job_carry_its_trace(
    completed: Run, captured: WorkerTelemetry
) -> None:
    trace_id = job_trace_id(completed.job_id)
    mine = [r for r in captured.logs() if f"job {completed.job_id}:" in r.body]
    in_activities = [r for r in mine if r.trace_id]
    assert any("news" in str(r.body) for r in in_activities)
    assert any("quant note" in str(r.body) for r in in_activities)
    assert {r.trace_id for r in in_activities} == {trace_id}


def test_a_failed_fetch_is_an_outcome_on_its_spans(failed: Run) -> None:
    fetches = {attr(s, "stockmemo.symbol"): s for s in failed.named("market_data fetch")}
    assert attr(fetches[failed.ticker], OUTCOME) == "unknown_ticker"
    assert fetches[failed.ticker].status.status_code.name == "ERROR"
    subject = [s for s in failed.named("activity fetch_market_data")
               if attr(s, "stockmemo.symbol") == failed.ticker]
    assert [attr(s, OUTCOME) for s in subject] == ["unknown_ticker"]  # a typed outcome


@needs_life_hooks
def test_the_job_life_hooks(completed: Run, failed: Run) -> None:
    ok = Counter(s.name for s in completed.spans if attr(s, OUTCOME) == "ok")
    assert ok["activity persist_report"] == 1 and ok["activity set_job_stage"] >= 3
    prefix = f"{completed.ticker}/{completed.job_id}"
    persist_ids = {s.context.span_id for s in completed.named("activity persist_report")
                   if s.context}
    for action in (f"write {prefix}/memo.md", f"write {prefix}/evidence.json", "update job"):
        found = [s for s in completed.storage(action)
                 if s.parent is not None and s.parent.span_id in persist_ids]
        assert found, action

    assert moved(completed.before, completed.after, "stockmemo.jobs.started") == 1
    assert moved(completed.before, completed.after, "stockmemo.jobs.completed") == 1
    assert moved(completed.before, completed.after, "stockmemo.jobs.failed") == 0

    assert moved(failed.before, failed.after, "stockmemo.jobs.started") == 1
    assert moved(failed.before, failed.after, "stockmemo.jobs.completed") == 0
    assert moved(failed.before, failed.after, "stockmemo.jobs.failed",
                 **{"error.code": "unknown_ticker"}) == 1
    assert failed.named("activity fail_job")


def test_the_hooks_record_what_they_say(otel: Captured) -> None:
    """The hook functions themselves, as the files that own the job's life call them."""
    before = otel.points()
    telemetry.record_job_started(uuid.uuid4().hex, "HOOK")
    telemetry.record_job_completed(uuid.uuid4().hex)
    telemetry.record_job_failed(uuid.uuid4().hex, "timeout")
    after = otel.points()
    assert moved(before, after, "stockmemo.jobs.started") == 1
    assert moved(before, after, "stockmemo.jobs.completed") == 1
    assert moved(before, after, "stockmemo.jobs.failed", **{"error.code": "timeout"}) == 1


def texts_of_spans(spans: Sequence[ReadableSpan]) -> list[str]:
    texts: list[str] = []
    for span in spans:
        texts.append(span.name)
        texts.extend(f"{k}={v}" for k, v in (span.attributes or {}).items())
        texts.append(str(span.status.description or ""))
        for event in span.events:
            texts.append(event.name)
            texts.extend(f"{k}={v}" for k, v in (event.attributes or {}).items())
        for link in span.links:
            texts.extend(f"{k}={v}" for k, v in (link.attributes or {}).items())
    return texts


def test_no_secret_in_spans_or_logs(
    host: DevHost, completed: Run, failed: Run, captured: WorkerTelemetry, otel: Captured
) -> None:
    stats = f"{host.base_url}/api/stats"
    admin = requests.get(stats, headers={**key_header(host),
                                         "x-stats-admin-key": SECRETS["STATS_ADMIN_KEY"]},
                         timeout=30)
    assert admin.status_code == 200 and admin.json()["scope"] == "all"
    wrong = requests.get(stats, headers={**key_header(host), "x-stats-admin-key": "not-it"},
                         timeout=30)
    assert wrong.status_code == 403

    # The app's (its worker's) and the host's (this process's): both are exported.
    spans = [*captured.spans(), *otel.spans.get_finished_spans()]
    records = [*((r.body, r.attributes) for r in captured.logs()),
               *((r.log_record.body, r.log_record.attributes)
                 for r in otel.logs.get_finished_logs())]
    texts = texts_of_spans(spans) + [
        text
        for body, attributes in records
        for text in (str(body), *(f"{k}={v}" for k, v in (attributes or {}).items()))
    ]
    assert len(spans) > 30 and len(records) > 20  # the capture really ran
    assert captured.logs()  # in the app's worker too
    for name, secret in SECRETS.items():
        for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
            leaked = [text[:200] for text in texts if form in text]
            assert not leaked, f"{name} appears in telemetry: {leaked[:3]}"


def test_no_exception_messages_are_exported(
    completed: Run, failed: Run, captured: WorkerTelemetry, otel: Captured
) -> None:
    """Failed spans say their code and the exception's type, never its message."""
    for span in [*captured.spans(), *otel.spans.get_finished_spans()]:
        assert not [e for e in span.events if e.name == "exception"], span.name
