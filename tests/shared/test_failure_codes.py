"""Failure codes read back from an activity failure as the orchestrator receives it: the SDK's
`Exception(f"{Reason} \\n {Details}")`, with the extension's reason text and the worker's
traceback in the details.

`raised_in_activity` builds that exception along the real chain: Microsoft's Python runtime
serialises what the activity raised (`<Type>: <str(exc)>` and the traceback), devhost writes the
TaskFailed as the Durable extension does, and the SDK joins Reason and Details."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace

import azure.durable_functions as df
from azure_functions_runtime.utils.tracing import serialize_exception

from api.analyses import reconcile
from devhost import rpc_messages
from devhost.invocations import activity_failed, activity_lost
from shared.domain.models import Job, JobStatus, Stage
from shared.errors import (
    INTERNAL_ERROR,
    ActivityFailure,
    MarketDataUnavailable,
    StorageFailed,
    activity_failure,
    envelope,
    job_failure,
    orchestration_failure,
    read_failure,
)


def sdk_failure(reason: str, details: str) -> Exception:
    """What the SDK raises into the orchestrator for a TaskFailed event."""
    return Exception(f"{reason} \n {details}")


def raised_in_activity(activity: str, body: Callable[[], None]) -> Exception:
    try:
        body()
    except Exception as exc:  # what the runtime catches around the activity function
        rpc = serialize_exception(exc, rpc_messages)
        outcome = activity_failed(activity, rpc.message, rpc)
        return sdk_failure(outcome.reason, outcome.details or "")
    raise AssertionError("the activity body did not raise")


def raise_(exc: Exception) -> Callable[[], None]:
    def body() -> None:
        raise exc

    return body


def test_a_project_error_is_a_compact_json_envelope() -> None:
    error = MarketDataUnavailable("Yahoo answered 429\nafter 3 tries")
    assert error.message == "Yahoo answered 429\nafter 3 tries"  # the human text is unchanged
    assert str(error) == (
        '{"code":"market_data_unavailable","message":"Yahoo answered 429\\nafter 3 tries"}'
    )
    assert "\n" not in str(error), "one line: nothing in it can look like the Reason's end"
    assert json.loads(str(error)) == {"code": error.code, "message": error.message}


def test_a_coded_project_error_gives_its_code_and_message() -> None:
    exc = raised_in_activity(
        "fetch_market_data", raise_(MarketDataUnavailable("Yahoo answered 429"))
    )
    assert read_failure(str(exc)) == ActivityFailure(
        "fetch_market_data", "market_data_unavailable", "Yahoo answered 429"
    )
    assert job_failure(exc) == ("market_data_unavailable", "Yahoo answered 429")


def test_the_reason_as_the_extension_writes_it_with_two_spaces() -> None:
    body = envelope("llm_failed", "the model timed out")
    exc = sdk_failure(
        f"Activity function 'write_memo' failed:  LlmFailed: {body}",
        json.dumps({"Message": f" LlmFailed: {body}"}),
    )
    assert job_failure(exc) == ("llm_failed", "the model timed out")
    one_space = f"Activity function 'write_memo' failed: LlmFailed: {body}"
    assert read_failure(one_space) == ActivityFailure("write_memo", "llm_failed",
                                                      "the model timed out")


def test_an_unexpected_exception_in_an_activity_is_internal_error() -> None:
    exc = raised_in_activity("run_quant_analyst", raise_(KeyError("closes")))
    assert job_failure(exc) == (
        INTERNAL_ERROR, "Activity function 'run_quant_analyst' failed: KeyError: 'closes'"
    )


def test_a_code_in_the_traceback_only_is_not_the_failure_code() -> None:
    """An activity that handled a project error and then failed otherwise: the code named in
    its traceback is not what failed."""

    def body() -> None:
        try:
            raise MarketDataUnavailable("earlier")
        except MarketDataUnavailable as handled:
            raise KeyError("k") from handled

    exc = raised_in_activity("fetch_market_data", body)
    reason, _, details = str(exc).partition(" \n ")
    traceback = json.loads(details)["InnerException"]["Message"]
    assert str(MarketDataUnavailable("earlier")) in traceback  # the envelope is there, unread
    assert "market_data_unavailable" not in reason
    code, message = job_failure(exc)
    assert code == INTERNAL_ERROR
    assert message == "Activity function 'fetch_market_data' failed: KeyError: 'k'"


def test_an_envelope_raised_by_another_exception_type_is_not_trusted() -> None:
    """Only our error classes carry codes: a ValueError whose text happens to be an envelope (a
    provider's answer echoed, say) is still an unexpected exception."""
    exc = raised_in_activity(
        "research_news", raise_(ValueError(envelope("news_unavailable", "echoed")))
    )
    assert job_failure(exc)[0] == INTERNAL_ERROR
    # an envelope whose code is not the raised class's own is not trusted either
    forged = f"StorageFailed: {envelope('llm_failed', 'm')}"
    assert read_failure(f"Activity function 'x' failed:  {forged}") == ActivityFailure(
        "x", INTERNAL_ERROR, f"Activity function 'x' failed: {forged}"
    )


def test_an_exception_of_the_orchestrators_own_code_is_not_an_activity_failure() -> None:
    bug = KeyError("k")
    assert activity_failure(bug) is None
    assert job_failure(bug) == (INTERNAL_ERROR, "KeyError: 'k'")
    # even when its text reads like one: only the SDK's plain Exception is an activity failure
    lookalike = RuntimeError(
        f"Activity function 'x' failed:  LlmFailed: {envelope('llm_failed', 'm')}"
    )
    assert activity_failure(lookalike) is None
    assert job_failure(lookalike)[0] == INTERNAL_ERROR


def test_a_failure_whose_reason_names_no_activity_is_not_an_activity_failure() -> None:
    lost = activity_lost("the worker exited while running this call")
    exc = sdk_failure(lost.reason, lost.details or "")
    assert read_failure(str(exc)) is None and activity_failure(exc) is None
    assert job_failure(exc) == (INTERNAL_ERROR, "the worker exited while running this call")
    assert read_failure(f"Something else \n {envelope('llm_failed', 'in the details')}") is None


def fail_job_failed() -> str:
    """A failed orchestration's output when its last step, fail_job, failed for good."""
    exc = raised_in_activity("fail_job", raise_(StorageFailed("the table is down")))
    return f"Orchestrator function 'analysis_orchestrator' failed: {exc}"


def test_a_failed_orchestration_reads_the_activity_that_ended_it() -> None:
    assert orchestration_failure(fail_job_failed()) == ("storage_failed", "the table is down")
    bug = "Orchestrator function 'analysis_orchestrator' failed: 'k'\n\n$OutOfProcData$:{}"
    assert orchestration_failure(bug) == (
        INTERNAL_ERROR, "Orchestrator function 'analysis_orchestrator' failed: 'k'"
    )


def test_the_starter_shows_a_failed_orchestration_as_a_failed_job() -> None:
    """api/analyses.py: a row still running whose orchestration failed outright."""
    now = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
    job = Job(id="a" * 32, owner="anonymous", ticker="MSFT", status=JobStatus.RUNNING,
              stage=Stage.PERSISTING, created_at=now)
    status = SimpleNamespace(
        runtime_status=df.OrchestrationRuntimeStatus.Failed, output=fail_job_failed()
    )
    shown = reconcile(job, status)
    assert shown.status is JobStatus.FAILED and shown.stage is Stage.FAILED
    assert shown.error is not None
    assert shown.error.model_dump(mode="json") == {
        "code": "storage_failed", "message": "the table is down", "stage": "persisting"
    }
