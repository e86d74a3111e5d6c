"""Failure codes read back from an activity failure as the orchestrator receives it: the SDK's
`Exception(f"{Reason} \\n {Details}")`, with the extension's reason text and the worker's
traceback in the details."""

from __future__ import annotations

import json

from shared.errors import describe_failure


def failure(reason_message: str, traceback: str) -> Exception:
    reason = f"Activity function 'fetch_market_data' failed:  {reason_message}"
    details = json.dumps({"Message": f" {reason_message}",
                          "InnerException": {"Message": f"Exception: {reason_message}\nStack: "
                                             f"{traceback}"}})
    return Exception(f"{reason} \n {details}")


def test_a_coded_project_error_gives_its_code_and_message() -> None:
    exc = failure("MarketDataUnavailable: [market_data_unavailable] Yahoo answered 429",
                  "Traceback ...")
    assert describe_failure(exc, "internal_error") == (
        "market_data_unavailable", "Yahoo answered 429"
    )


def test_a_code_in_the_traceback_only_is_not_the_failure_code() -> None:
    """An activity that handled a project error and then failed otherwise: the code named in
    its traceback is not what failed."""
    traceback = ("shared.errors.MarketDataUnavailable: [market_data_unavailable] earlier\n"
                 "During handling of the above exception, another exception occurred:\n"
                 "KeyError: 'k'")
    code, message = describe_failure(failure("KeyError: 'k'", traceback), "storage_failed")
    assert code == "storage_failed"
    assert message == "Activity function 'fetch_market_data' failed:  KeyError: 'k'"
