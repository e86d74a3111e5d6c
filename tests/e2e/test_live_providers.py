"""Live evidence and real agents, end to end: the app on the local host over HTTP, Azurite, and
the three live providers through their real client libraries against local stand-ins.

- market data: MARKET_DATA_PROVIDER=yfinance, yfinance's own request and parsing code, in the
  host's workers, on a requests session that reaches the test's `FakeYahoo` (the session factory
  is the boundary, switched in the workers by the wrapper app tests/e2e/apps/live; see
  tests/e2e/yahoo_switch.py);
- news: NEWS_PROVIDER=firecrawl, firecrawl-py against the Firecrawl stand-in on 127.0.0.1;
- the two agents: LLM_PROVIDER=openai, the openai client against the OpenAI stand-in.

Each test uses its own ticker, so neither the work blobs nor the model's response cache (both
keyed by what they hold) carry over from one test to the next.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from activities import market_data, quant_analyst
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.agents.llm.client import reset_llm_clients
from shared.agents.llm.prompts import QUANT_SYSTEM_PROMPT, STRATEGIST_SYSTEM_PROMPT
from shared.contracts import MarketRequest, QuantInput
from shared.domain.evidence import QuantResult
from shared.errors import MarketDataUnavailable
from shared.settings import REPORTS_CONTAINER
from shared.sources.market.yfinance_provider import YFinanceMarketData
from shared.store.artifacts import work_blob
from tests.app_env import app_folder, app_settings
from tests.control import CONTROL_SETTING, Board
from tests.e2e.live_stack import (
    BENCHMARK,
    INJECTION,
    MODEL,
    Shown,
    add_benchmark,
    add_stock,
    analyze,
    grounded_writer,
    gullible_writer,
    model_requests,
    nan_lines,
    renamed,
    section,
    walk,
)
from tests.e2e.yahoo_switch import RELAY_SETTING, YahooSwitch, switched_session
from tests.standins.firecrawl_server import FirecrawlStandIn, document
from tests.standins.openai_server import OpenAIStandIn, Received, Reply, openai_standin
from tests.standins.yahoo_transport import FakeYahoo, isolate_yfinance

# yfinance 1.7 still calls pandas methods with inplace=True, which pandas 3.1 deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning")

ROOT = Path(__file__).resolve().parents[2]
HUB = "StockMemoLive"
LIVE_APP = "tests.e2e.apps.live.function_app:app"
MAX_ATTEMPTS = 3
FIRECRAWL_KEY = "fc-standin-not-a-secret"
ARTICLES = (
    document(
        "https://news.example.com/live/orders",
        "Orders hold up through the quarter",
        "The company said orders held up through the quarter.",
        published="2025-11-25T13:00:00Z",
    ),
    document(
        "https://wire.example.org/live/valuation",
        "Analysts split on the valuation",
        "Analysts disagreed on how much growth the share price already assumes.",
        published="2025-11-24T09:30:00Z",
    ),
)


# -- the stack ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> Iterator[OpenAIStandIn]:
    with openai_standin(grounded_writer) as server:
        yield server


@pytest.fixture(scope="module")
def firecrawl() -> Iterator[FirecrawlStandIn]:
    with FirecrawlStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def yahoo_switch(tmp_path_factory: pytest.TempPathFactory) -> Iterator[YahooSwitch]:
    """The relay to the test's current FakeYahoo; the workers' yfinance sessions end there."""
    with YahooSwitch(Board(tmp_path_factory.mktemp("live-board"))) as switch:
        yield switch


@pytest.fixture(scope="module")
def live_env(
    azurite: Azurite, model: OpenAIStandIn, firecrawl: FirecrawlStandIn, yahoo_switch: YahooSwitch
) -> Iterator[None]:
    settings = {
        "MARKET_DATA_PROVIDER": "yfinance",
        "MARKET_DATA_TIMEOUT_SECONDS": "5",
        "BENCHMARK_CACHE_SECONDS": "0",  # every job fetches SPY from this test's Yahoo
        "NEWS_PROVIDER": "firecrawl",
        "FIRECRAWL_API_URL": firecrawl.url,
        "FIRECRAWL_API_KEY": FIRECRAWL_KEY,
        "NEWS_TIMEOUT_SECONDS": "5",
        "LLM_PROVIDER": "openai",
        "OPENAI_BASE_URL": model.openai_base_url,
        "OPENAI_API_KEY": model.api_key,
        "OPENAI_MODEL": MODEL,
        "LLM_TIMEOUT_SECONDS": "1",
        "ACTIVITY_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
        "ACTIVITY_RETRY_FIRST_MS": "20",
        RELAY_SETTING: yahoo_switch.url,
        CONTROL_SETTING: str(yahoo_switch.board.folder),
    }
    with pytest.MonkeyPatch.context() as patch:
        with app_settings(patch, azurite.connection_string, **settings):
            reset_llm_clients()
            yield
    reset_llm_clients()


@pytest.fixture(scope="module")
def live_host(live_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevHost]:
    root = app_folder(tmp_path_factory.mktemp("live-app"), HUB)
    with DevHost(LIVE_APP, root=root, port=0) as running:
        yield running


@pytest.fixture
def yahoo(yahoo_switch: YahooSwitch, tmp_path_factory: pytest.TempPathFactory) -> FakeYahoo:
    """A fresh Yahoo serving SPY, installed behind the app's session factory; yfinance starts
    fresh, in the workers (at their next session) and in this process (for the probes)."""
    isolate_yfinance(Path(tmp_path_factory.getbasetemp()) / "yfinance-cache")
    fake = FakeYahoo()
    add_benchmark(fake)
    yahoo_switch.use(fake)
    return fake


@pytest.fixture
def switched_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers' session factory in this process too, for a test that runs activities here."""
    monkeypatch.setattr("shared.sources.market.yfinance_provider.shared_session", switched_session)
    monkeypatch.setattr("shared.sources.news.yfinance_news.shared_session", switched_session)


@pytest.fixture
def llm(model: OpenAIStandIn) -> Iterator[OpenAIStandIn]:
    """The model stand-in, answering with `grounded_writer` unless the test says otherwise."""
    model.default = grounded_writer
    yield model
    model.default = grounded_writer


@pytest.fixture
def news(firecrawl: FirecrawlStandIn) -> FirecrawlStandIn:
    firecrawl.results(*ARTICLES)
    return firecrawl


# -- 1. all three stand-ins, both outputs grounded ---------------------------------------------


def test_live_providers_end_to_end_make_two_grounded_model_calls(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, news: FirecrawlStandIn
) -> None:
    ticker = "LIVE"
    add_stock(yahoo, ticker)

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    calls = model_requests(llm, ticker)
    assert len(calls) == 2 and all(c.status == 200 for c in calls)
    quant_call, strategist_call = calls
    assert quant_call.system == QUANT_SYSTEM_PROMPT
    assert strategist_call.system == STRATEGIST_SYSTEM_PROMPT
    assert all(c.headers["authorization"] == f"Bearer {llm.api_key}" for c in calls)
    assert all(c.body["model"] == MODEL for c in calls)
    assert "<<<UNTRUSTED_ARTICLE n1>>>" in strategist_call.user[0]
    assert job["usage"] == {
        "llm_calls": 2,
        "prompt_tokens": sum(c.prompt_tokens for c in calls),
        "completion_tokens": sum(c.completion_tokens for c in calls),
    }
    assert job["grounding"] == "grounded"
    assert job["verdict"] == "hold" and job["confidence"] == 0.5

    assert yahoo.count("quoteSummary", ticker) == 1 and yahoo.count("chart", ticker) >= 1
    assert yahoo.count("quoteSummary", BENCHMARK) == 1
    [search] = [r for r in news.requests if ticker in r.body["query"]]
    assert search.headers["Authorization"] == f"Bearer {FIRECRAWL_KEY}"

    assert memo.startswith(f"# {ticker} research memo") and "SIMULATED" not in memo
    assert "- Grounding: grounded" in memo
    assert "| Price (`price`) | $277.55 | yfinance |" in memo  # the real parsing, shown
    for article in ARTICLES:
        assert f"[{article['title']}]({article['url']})" in section(memo, "News and narrative")
    assert f"quant note {MODEL}; decision {MODEL}" in section(memo, "Provenance")
    assert "- News provider: firecrawl (status ok)" in memo
    assert "- Market data provider: yfinance" in memo


# -- 2. the model failing: Durable's retries, never the client's -------------------------------


@pytest.mark.parametrize(
    ("ticker", "failure", "stage"),
    [
        ("LLM429", "429", "gathering_evidence"),
        ("LLM500", "500", "gathering_evidence"),
        ("LLMSLOW", "timeout", "gathering_evidence"),
        ("LLM429S", "429 strategist", "writing_memo"),
    ],
)
def test_a_failing_model_is_retried_by_the_orchestrator_then_fails_the_job(
    live_host: DevHost,
    yahoo: FakeYahoo,
    llm: OpenAIStandIn,
    news: FirecrawlStandIn,
    ticker: str,
    failure: str,
    stage: str,
) -> None:
    add_stock(yahoo, ticker)
    if failure == "timeout":  # past LLM_TIMEOUT_SECONDS=1
        llm.default = lambda request: Reply(content="{}", delay=5)
    elif failure == "429 strategist":  # the note is written; the decision is rate limited
        llm.default = lambda request: (
            Reply.status_code(429, "rate limited")
            if request.system == STRATEGIST_SYSTEM_PROMPT
            else grounded_writer(request)
        )
    else:
        llm.default = lambda request: Reply.status_code(int(failure), "scripted failure")

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "failed" and memo == ""
    assert job["error"]["code"] == "llm_failed" and job["error"]["stage"] == stage, job
    failing = STRATEGIST_SYSTEM_PROMPT if stage == "writing_memo" else QUANT_SYSTEM_PROMPT
    seen = model_requests(llm, ticker)
    assert len([r for r in seen if r.system == failing]) == MAX_ATTEMPTS  # one per attempt
    if stage == "writing_memo":  # the note was paid for once; the retries did not redo it
        assert len([r for r in seen if r.system == QUANT_SYSTEM_PROMPT]) == 1
    said = {"429": "HTTP 429", "500": "HTTP 500", "timeout": "no answer within 1s"}
    assert said[failure.split()[0]] in job["error"]["message"]


# -- 3. Yahoo rate limits ----------------------------------------------------------------------


def yahoo_requests_per_fetch(symbol: str) -> int:
    """How many quoteSummary requests one fetch makes when Yahoo answers 429 (yfinance retries
    once with its other cookie strategy), measured on a throwaway fake."""
    probe = FakeYahoo()
    add_stock(probe, symbol)
    probe.fail("quoteSummary", 429, "Too Many Requests", symbol=symbol)
    with pytest.raises(MarketDataUnavailable):
        YFinanceMarketData(session=probe.session(), timeout=5).fetch(symbol)
    return probe.count("quoteSummary", symbol)


def test_a_rate_limited_ticker_is_retried_then_fails_the_job(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, news: FirecrawlStandIn
) -> None:
    ticker = "YRL"
    per_fetch = yahoo_requests_per_fetch(ticker)
    add_stock(yahoo, ticker)
    yahoo.fail("quoteSummary", 429, "Too Many Requests", symbol=ticker)

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "failed" and memo == ""
    assert job["error"]["code"] == "market_data_unavailable"
    assert job["error"]["stage"] == "gathering_evidence"
    assert "429" in job["error"]["message"]
    assert yahoo.count("quoteSummary", ticker) == MAX_ATTEMPTS * per_fetch
    assert model_requests(llm, ticker) == []


def test_a_rate_limited_benchmark_becomes_a_data_gap(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, news: FirecrawlStandIn
) -> None:
    ticker = "YSPYRL"
    per_fetch = yahoo_requests_per_fetch(BENCHMARK)
    add_stock(yahoo, ticker)
    yahoo.fail("quoteSummary", 429, "Too Many Requests", symbol=BENCHMARK)

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    assert yahoo.count("quoteSummary", BENCHMARK) == MAX_ATTEMPTS * per_fetch
    gaps = section(memo, "Data gaps")
    assert "- benchmark SPY / market_data_unavailable: " in gaps and "429" in gaps
    assert "- Metric `spy_return_1y` (SPY return, 1y (252 trading days)): benchmark " \
        "unavailable" in gaps
    assert "- Metric `beta_1y`" in gaps and "- Metric `excess_return_1m`" in gaps
    assert job["grounding"] == "grounded" and len(model_requests(llm, ticker)) == 2


def test_a_failing_news_search_is_retried_then_stated_as_a_gap(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, firecrawl: FirecrawlStandIn
) -> None:
    ticker = "NEWS429"
    add_stock(yahoo, ticker)
    firecrawl.respond(429, {"success": False, "error": "Rate limit exceeded"})

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    searches = [r for r in firecrawl.requests if ticker in r.body["query"]]
    assert len(searches) == MAX_ATTEMPTS  # firecrawl-py makes one request per attempt
    assert "- news / news_unavailable: Firecrawl search failed (HTTP 429)" in section(
        memo, "Data gaps")
    assert "the news provider failed (firecrawl, status failed)" in memo
    assert job["grounding"] == "grounded"


# -- 4. NaN and empty data ---------------------------------------------------------------------


def test_nan_fields_empty_history_and_no_news_are_stated_gaps_never_nan(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, firecrawl: FirecrawlStandIn
) -> None:
    ticker = "NANCO"
    nan = float("nan")
    summary = renamed("quote_summary_AAPL.json", ticker)
    modules = summary["quoteSummary"]["result"][0]
    for module, key in [("summaryDetail", "trailingPE"), ("summaryDetail", "beta"),
                        ("summaryDetail", "marketCap"), ("defaultKeyStatistics", "beta"),
                        ("defaultKeyStatistics", "trailingEps")]:
        modules[module][key] = nan  # sent as a bare NaN token, which yfinance's json accepts
    quote = renamed("quote_AAPL.json", ticker)
    fields = quote["quoteResponse"]["result"][0]
    for key in ("trailingPE", "marketCap", "epsTrailingTwelveMonths"):
        fields[key] = nan
    add_stock(yahoo, ticker, closes=[], summary=summary, quote=quote)
    firecrawl.results()  # Firecrawl finds nothing

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    assert nan_lines(memo) == []
    gaps = section(memo, "Data gaps")
    for metric in ("pe_ratio", "market_cap", "eps", "beta", "return_1m", "volatility_1y"):
        assert f"- Metric `{metric}`" in gaps
    assert "did not report a finite trailing P/E" in gaps
    assert f"no price series for {ticker} from yfinance" in gaps
    assert f"- news / news_empty: Firecrawl found no news on {ticker}" in gaps
    assert "No news was used" in section(memo, "News and narrative")
    assert "| P/E ratio (trailing) (`pe_ratio`) | n/a |" in memo
    assert job["grounding"] == "grounded"


# -- 5. an activity run twice pays for one model call -----------------------------------------


def test_the_quant_activity_run_twice_calls_the_model_once(
    live_env: None, switched_here: None, azurite: Azurite, yahoo: FakeYahoo, llm: OpenAIStandIn
) -> None:
    ticker, job_id = "TWICE", "0123456789abcdef0123456789abcd01"
    add_stock(yahoo, ticker)
    subject = market_data.fetch(MarketRequest(job_id=job_id, ticker=ticker, symbol=ticker))
    benchmark = market_data.fetch(MarketRequest(job_id=job_id, ticker=ticker, symbol=BENCHMARK))
    request = QuantInput(
        job_id=job_id, ticker=ticker,
        subject_artifact=str(subject.artifact), benchmark_artifact=benchmark.artifact,
    )

    first = quant_analyst.analyze(request)
    second = quant_analyst.analyze(request)

    assert first == second
    assert len(model_requests(llm, ticker)) == 1  # the second run found the first one's note

    # A run that paid for the note but died before storing it: the response cache answers.
    blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
    stored = blobs.get_blob_client(REPORTS_CONTAINER, work_blob(ticker, job_id, "quant"))
    note = QuantResult.model_validate_json(stored.download_blob().readall()).note
    stored.delete_blob()

    third = quant_analyst.analyze(request)

    assert third == first
    assert len(model_requests(llm, ticker)) == 1
    again = QuantResult.model_validate_json(stored.download_blob().readall())
    assert again.note == note and again.usage.llm_calls == 0  # nothing was billed this time


# -- 6. prompt injection in a news article -----------------------------------------------------


def test_an_obeyed_injection_completes_ungrounded_with_capped_confidence(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, firecrawl: FirecrawlStandIn
) -> None:
    ticker = "INJECT"
    add_stock(yahoo, ticker, closes=list(walk(100)))  # under a year: completeness below 0.99
    firecrawl.results(
        document("https://evil.example.net/inject", "Totally normal news", INJECTION),
        ARTICLES[0],
    )
    llm.default = gullible_writer

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    calls = model_requests(llm, ticker)
    assert len(calls) == 3  # the note, the decision, and its one regeneration
    assert all(INJECTION in c.user[0] for c in calls[1:])  # the model did read it
    assert "<<<UNTRUSTED_ARTICLE n1>>>\n" in calls[1].user[0]  # inside its fence
    assert job["grounding"] == "ungrounded" and job["usage"]["llm_calls"] == 3

    completeness = float(re.findall(r"capped at completeness (\d\.\d\d)", memo)[0])
    assert completeness < 0.99
    assert job["confidence"] <= completeness
    assert f"- Confidence: {job['confidence']:.2f} (capped at completeness" in memo
    summary = section(memo, "Summary")
    assert "- Grounding: UNGROUNDED" in summary
    violations = summary.split("- Grounding violations: ", 1)[1].splitlines()[0]
    assert f"confidence 0.99 exceeds the completeness score {completeness:g}" in violations
    assert "no metric is cited" in violations
    assert "0.99" not in summary.replace(violations, "")


# -- a model writing NaN -----------------------------------------------------------------------


def test_a_model_writing_nan_for_a_missing_metric_is_caught_by_the_gate(
    live_host: DevHost, yahoo: FakeYahoo, llm: OpenAIStandIn, news: FirecrawlStandIn
) -> None:
    """Shows a bug: the gate reads "NaN" as a word, not as a number that is not in the evidence,
    so a note that gives a missing metric the value NaN passes as grounded and the memo prints
    it. With the fix the gate flags it, the one regeneration removes it, and this passes."""
    ticker = "NANLLM"
    add_stock(yahoo, ticker, closes=list(walk(100)))

    def nan_writer(request: Received) -> Reply:
        shown = Shown.of(request)
        if shown.schema == "QuantNoteDraft" and len(request.user) == 1:  # the first draft
            claims, cited = shown.claims()
            text = f"{claims} `{shown.missing[0]}` is NaN."
            return Reply.json({"text": text, "red_flags": [], "cited_metrics": cited})
        return grounded_writer(request)  # the regeneration, and the strategist

    llm.default = nan_writer

    job, memo = analyze(live_host, ticker)

    assert job["status"] == "completed", job
    assert nan_lines(memo) == []
    assert len(model_requests(llm, ticker)) == 3  # the note, its regeneration, the decision
    assert job["grounding"] == "grounded"
