"""The analysis orchestrator through the host's real replay, with scripted activities.

The harness app (apps/harness) runs in the host's language-worker processes; each test scripts
its job's activities and reads their attempts and calls through a `tests.control.Board`.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from devhost.host import DevHost
from shared import names
from shared.contracts import AnalysisInput, RetryPolicy
from tests.control import CONTROL_SETTING, Board
from tests.devhost.helpers import Api, of_type
from tests.orchestrators.scripted import Scripted

HARNESS = "tests.orchestrators.apps.harness.function_app:app"
HARNESS_DIR = Path(__file__).parent / "apps" / "harness"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("harness")
    shutil.copy(HARNESS_DIR / "host.json", folder / "host.json")
    return folder


@pytest.fixture(scope="module")
def harness(root: Path) -> Scripted:
    return Scripted(Board(root / "board"))


@pytest.fixture(scope="module")
def host(azurite: Azurite, root: Path, harness: Scripted) -> Iterator[DevHost]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AzureWebJobsStorage", azurite.connection_string)
        patch.setenv(CONTROL_SETTING, str(harness.board.folder))
        with DevHost(HARNESS, root=root, port=0) as running:
            yield running


@pytest.fixture
def api(host: DevHost) -> Api:
    return Api(host.base_url, start_route="/api/start")


def run(
    api: Api, harness: Scripted, ticker: str = "MSFT", deadline: int = 60, **steps: str
) -> tuple[str, dict]:
    job_id = uuid.uuid4().hex
    harness.script(job_id, **steps)
    payload = AnalysisInput(
        job_id=job_id, owner="anonymous", ticker=ticker, created_at=datetime.now(UTC),
        deadline_seconds=deadline, retry=RetryPolicy(first_retry_ms=20, max_attempts=3),
    ).model_dump(mode="json")
    links = _start(api, job_id, payload)
    return job_id, api.wait_done(links, timeout=30)


def _start(api: Api, job_id: str, payload: dict[str, Any]) -> dict[str, Any]:
    response = api.http.post(f"{api.base_url}/api/start/{job_id}", json=payload, timeout=10)
    assert response.status_code == 202, response.text
    links: dict[str, Any] = response.json()
    return links


def outcomes(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Completed and failed activities, as the management API shows them (with FunctionName)."""
    return [e for e in status["historyEvents"] if e["EventType"] in ("TaskCompleted", "TaskFailed")]


def scheduled(status: dict[str, Any]) -> list[str]:
    """Activity names in the order they were scheduled."""
    ordered = sorted(outcomes(status), key=lambda e: e["ScheduledTime"])
    return [e["FunctionName"] for e in ordered]


def stages(harness: Scripted, job_id: str) -> list[str]:
    return [c["stage"] for c in harness.calls(job_id, names.SET_JOB_STAGE)]


def test_happy_path(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness)
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["status"] == "completed" and status["output"]["verdict"] == "hold"
    assert status["customStatus"] == {"stage": "completed", "status": "completed"}
    assert stages(harness, job_id) == ["gathering_evidence", "writing_memo", "persisting"]
    order = scheduled(status)
    assert order.index(names.RUN_QUANT_ANALYST) > order.index(names.FETCH_MARKET_DATA)
    assert order.count(names.FETCH_MARKET_DATA) == 2
    assert order[-1] == names.PERSIST_REPORT and names.FAIL_JOB not in order
    assert harness.calls(job_id, names.FAIL_JOB) == []


def test_quant_does_not_wait_for_news(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, news="slow:1.5")
    assert status["output"]["status"] == "completed"
    events = {e["FunctionName"]: e for e in outcomes(status)}
    quant, news = events[names.RUN_QUANT_ANALYST], events[names.RESEARCH_NEWS]
    assert quant["ScheduledTime"] < news["Timestamp"]  # scheduled before the news came back


def test_market_data_failing_fails_the_job_at_gathering_evidence(
    api: Api, harness: Scripted
) -> None:
    job_id, status = run(api, harness, subject="fail")
    assert status["output"]["status"] == "failed"
    error = status["output"]["error"]
    assert error["code"] == "market_data_unavailable" and error["stage"] == "gathering_evidence"
    assert error["message"] == "the market data stand-in failed"  # the human text, not JSON
    (failure,) = harness.calls(job_id, names.FAIL_JOB)
    assert failure["error"]["code"] == "market_data_unavailable"
    assert harness.attempts(job_id, "subject") == 3  # retried as configured, then given up
    assert len(of_type(status["historyEvents"], "TaskFailed")) >= 3
    assert names.WRITE_MEMO not in scheduled(status)


def test_a_bug_in_an_activity_fails_the_job_as_internal_error(
    api: Api, harness: Scripted
) -> None:
    """A KeyError in the Quant Analyst is our bug, not a provider failing: internal_error at
    the stage it happened in, never the stage's provider code."""
    job_id, status = run(api, harness, quant="keyerror")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["status"] == "failed"
    error = status["output"]["error"]
    assert error == {
        "code": "internal_error",
        "message": "Activity function 'run_quant_analyst' failed: KeyError: 'quant_field'",
        "stage": "gathering_evidence",
    }
    (failure,) = harness.calls(job_id, names.FAIL_JOB)
    assert failure["error"] == error
    assert harness.attempts(job_id, "quant") == 3  # retried as any failure is
    assert names.WRITE_MEMO not in scheduled(status)


def test_a_provider_failure_in_the_quant_analyst_keeps_its_own_code(
    api: Api, harness: Scripted
) -> None:
    job_id, status = run(api, harness, quant="fail")
    assert status["output"]["error"] == {
        "code": "llm_failed", "message": "the quant stand-in failed", "stage": "gathering_evidence"
    }
    assert harness.attempts(job_id, "quant") == 3


def test_a_bug_while_persisting_is_internal_error_at_persisting(
    api: Api, harness: Scripted
) -> None:
    job_id, status = run(api, harness, persist="keyerror")
    error = status["output"]["error"]
    assert (error["code"], error["stage"]) == ("internal_error", "persisting")
    assert "KeyError" in error["message"]


def test_a_bug_in_news_research_is_a_gap_named_internal_error(
    api: Api, harness: Scripted
) -> None:
    job_id, status = run(api, harness, news="keyerror")
    assert status["output"]["status"] == "completed"
    (memo_call,) = harness.calls(job_id, names.WRITE_MEMO)
    (gap,) = memo_call["news_gaps"]
    assert gap == {
        "source": "news",
        "code": "internal_error",
        "message": "Activity function 'research_news' failed: KeyError: 'news_field'",
    }


def test_retry_succeeds_on_attempt_three(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, subject="fail_twice")
    assert status["output"]["status"] == "completed"
    assert harness.attempts(job_id, "subject") == 3


def test_retry_exhausted_at_the_strategist(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, memo="fail")
    assert status["output"]["error"]["code"] == "llm_failed"
    assert status["output"]["error"]["stage"] == "writing_memo"
    assert status["output"]["error"]["message"] == "the strategist stand-in failed"
    assert harness.attempts(job_id, "memo") == 3
    assert stages(harness, job_id) == ["gathering_evidence", "writing_memo"]


def test_news_failing_alone_still_completes_with_the_gap(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, news="fail")
    assert status["output"]["status"] == "completed"
    (memo_call,) = harness.calls(job_id, names.WRITE_MEMO)
    assert memo_call["news_artifact"] is None
    assert memo_call["news_gaps"][0]["code"] == "news_unavailable"
    assert memo_call["news_gaps"][0]["message"] == "the news stand-in failed"
    (persist_call,) = harness.calls(job_id, names.PERSIST_REPORT)
    assert persist_call["news_gaps"] == memo_call["news_gaps"]


def test_spy_failing_alone_still_completes_with_the_gap(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, benchmark="fail")
    assert status["output"]["status"] == "completed"
    (quant_call,) = harness.calls(job_id, names.RUN_QUANT_ANALYST)
    assert quant_call["benchmark_artifact"] is None
    assert quant_call["benchmark_gaps"][0]["source"] == "benchmark SPY"
    assert quant_call["benchmark_gaps"][0]["code"] == "market_data_unavailable"


def test_unknown_ticker_is_not_retried(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, ticker="ZZZZ", subject="unknown")
    assert status["output"]["error"]["code"] == "unknown_ticker"
    assert harness.attempts(job_id, "subject") == 1


def test_deadline_passed_fails_with_timeout(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, deadline=1, memo="slow:3")
    assert status["runtimeStatus"] == "Completed"
    assert status["output"]["error"] == {
        "code": "timeout", "message": "the job passed its deadline of 1s", "stage": "writing_memo"
    }
    assert of_type(status["historyEvents"], "TimerFired")
    assert harness.calls(job_id, names.PERSIST_REPORT) == []


def test_persist_failing_fails_loudly(api: Api, harness: Scripted) -> None:
    job_id, status = run(api, harness, persist="fail")
    assert status["output"]["error"]["code"] == "storage_failed"
    assert status["output"]["error"]["stage"] == "persisting"

