"""One base error for the project, a subclass per failure kind, each with a stable code.

A failed activity reaches the orchestrator as text only, so a project error's str() is an
envelope, a compact JSON object `{"code": ..., "message": ...}`, and `read_failure` is the one
reader of it (see the end of this module).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

INTERNAL_ERROR = "internal_error"


class StockMemoError(Exception):
    """Base of every error this project raises on purpose; `code` is part of the public API."""

    code = INTERNAL_ERROR
    http_status = 500

    def __init__(
        self, message: str, *, field: str | None = None, value: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value  # the offending input, when showing it helps the caller

    def __str__(self) -> str:
        # Durable turns a failed activity into a plain Exception carrying only the runtime's
        # `<Type>: <str(exc)>`, so str() is the envelope the orchestrator reads the code from.
        # The human text is `self.message`.
        return envelope(self.code, self.message)


class InvalidBody(StockMemoError):
    """The request body is not JSON, not an object, or has missing or unknown fields."""

    code = "invalid_body"
    http_status = 400


class InvalidTicker(StockMemoError):
    """The ticker is not 1-10 characters of letters, digits, '.' or '-'."""

    code = "invalid_ticker"
    http_status = 400


class InvalidBatch(StockMemoError):
    """A batch has fewer than 2 or more than BATCH_MAX_TICKERS distinct tickers."""

    code = "invalid_batch"
    http_status = 400


class InvalidPriceFile(StockMemoError):
    """A price file to load into the price store is refused: an unknown column layout (no `date`
    column, a bad or repeated symbol), a date that is malformed or repeated, a price that is not
    a finite positive number, or a gap inside a symbol's range. Nothing is stored."""

    code = "invalid_price_file"
    http_status = 400


class InvalidQuery(StockMemoError):
    """A query parameter (limit, cursor) is malformed."""

    code = "invalid_query"
    http_status = 400


class InvalidAsOf(StockMemoError):
    """`as_of` is not a YYYY-MM-DD date, is after today (UTC), or is before the first day the
    market data provider has data for the ticker."""

    code = "invalid_as_of"
    http_status = 400


class InvalidWebhookUrl(StockMemoError):
    """A watchlist's `webhook_url` is refused: not `https` (plain http only to loopback, and only
    when WEBHOOK_ALLOW_LOOPBACK_HTTP=true), carries userinfo, is malformed, its host does not
    resolve, or any address it resolves to is not a global one (loopback, private, link-local,
    CGNAT, unspecified, multicast, reserved, IPv4-mapped to any of those, cloud metadata)."""

    code = "invalid_webhook_url"
    http_status = 400

    def __init__(self, message: str, *, field: str | None = "webhook_url") -> None:
        super().__init__(message, field=field)


class InvalidWatchlist(StockMemoError):
    """A watchlist's name is not 1-40 of `a-z`, `0-9` and '-', or its body is not
    `{"tickers": [...], "schedule": ..., "webhook_url": ...}` with 1 to BATCH_MAX_TICKERS
    distinct tickers."""

    code = "invalid_watchlist"
    http_status = 400


class InvalidSchedule(StockMemoError):
    """A watchlist's schedule is not a six-field NCRONTAB expression (seconds first, UTC), or it
    runs more often than WATCHLIST_MIN_INTERVAL_SECONDS allows."""

    code = "invalid_schedule"
    http_status = 400


class NotFound(StockMemoError):
    """No job with that id is visible to this caller."""

    code = "not_found"
    http_status = 404


class NotCompleted(StockMemoError):
    """The job has no report yet (or never will): its status says why."""

    code = "not_completed"
    http_status = 409


class TrackRecordUnavailable(StockMemoError):
    """GET /api/track-record with the simulated market data provider: its prices are made up
    and re-dated for each request, so a forward return on them means nothing."""

    code = "track_record_unavailable"
    http_status = 409


class UnknownTicker(StockMemoError):
    """The market data provider does not know the ticker: permanent, never retried."""

    code = "unknown_ticker"
    http_status = 422


class MarketDataUnavailable(StockMemoError):
    """Market data could not be fetched (network, rate limit, provider outage): transient."""

    code = "market_data_unavailable"
    http_status = 502


class NewsUnavailable(StockMemoError):
    """News could not be fetched: transient; the memo degrades to 'no news' if it persists."""

    code = "news_unavailable"
    http_status = 502


class LlmFailed(StockMemoError):
    """The language model failed, timed out or answered malformed output."""

    code = "llm_failed"
    http_status = 502


class StorageFailed(StockMemoError):
    """Blob or Table Storage failed: the job fails loudly rather than claim success."""

    code = "storage_failed"
    http_status = 503


class JobTimeout(StockMemoError):
    """The job ran past JOB_DEADLINE_SECONDS."""

    code = "timeout"
    http_status = 504


class LookaheadViolation(StockMemoError):
    """A point-in-time analysis found evidence dated after its `as_of` (or news whose date is
    unknown): the job fails rather than trim it, since a provider leaked the future."""

    code = "lookahead_violation"
    http_status = 500


class ConfigurationError(StockMemoError):
    """A setting is missing or invalid for the selected provider."""

    code = "configuration_error"
    http_status = 500


class BudgetExceeded(StockMemoError):
    """A model call would take the job past LLM_TOKEN_BUDGET: refused before anything is spent."""

    code = "budget_exceeded"
    http_status = 429


class Unauthenticated(StockMemoError):
    """AUTH_MODE=easyauth and the request carries no usable App Service principal."""

    code = "unauthenticated"
    http_status = 401


class InvalidIdempotencyKey(StockMemoError):
    """The Idempotency-Key header is empty, longer than 200 characters, or not printable ASCII."""

    code = "invalid_idempotency_key"
    http_status = 400


class IdempotencyConflict(StockMemoError):
    """The Idempotency-Key was already used by this caller with a different body."""

    code = "idempotency_conflict"
    http_status = 422


class NotCancellable(StockMemoError):
    """The job has already finished (completed, failed or cancelled): there is nothing to stop."""

    code = "not_cancellable"
    http_status = 409


class QuotaExceeded(StockMemoError):
    """The caller has submitted ANALYSES_PER_HOUR analyses this clock hour; `retry_after` says
    how many seconds until the next hour starts."""

    code = "quota_exceeded"
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BodyTooLarge(StockMemoError):
    """The request body is larger than MAX_BODY_BYTES."""

    code = "body_too_large"
    http_status = 413


class LengthRequired(StockMemoError):
    """A chunked body without Content-Length: the Functions host passes a body to the app only
    when the request declares its length (azure-functions-host#4926), so this one never arrives
    and cannot be checked."""

    code = "length_required"
    http_status = 411


ERROR_CODES: dict[str, type[StockMemoError]] = {
    cls.code: cls
    for cls in (
        InvalidBody, InvalidTicker, InvalidBatch, InvalidQuery, InvalidPriceFile, InvalidAsOf,
        InvalidWebhookUrl,
        NotFound, NotCompleted, UnknownTicker, LookaheadViolation, TrackRecordUnavailable,
        MarketDataUnavailable, NewsUnavailable, LlmFailed, StorageFailed, JobTimeout,
        ConfigurationError,
        BudgetExceeded,
        Unauthenticated, InvalidIdempotencyKey, IdempotencyConflict, NotCancellable,
        QuotaExceeded, BodyTooLarge, LengthRequired,
    )
}


def envelope(code: str, message: str) -> str:
    """The compact JSON object a project error travels as: one line (JSON escapes newlines)."""
    return json.dumps({"code": code, "message": message}, ensure_ascii=False, separators=(",", ":"))


# The SDK raises a failed activity as `Exception(f"{Reason} \n {Details}")`. Reason is
# `Activity function '<name>' failed:  <ExceptionType>: <str(exc)>` (two spaces: the extension
# keeps the leading space of the host's text); Details is JSON carrying the worker's traceback,
# where an error the activity *handled* can still be named, so nothing is ever read from it.
REASON_END = " \n "
ACTIVITY_FAILED = re.compile(r"Activity function '(?P<activity>[^']*)' failed:(?P<rest>.*)", re.S)
RAISED = re.compile(r"(?P<type>[A-Za-z_]\w*): (?P<text>.*)", re.S)
ORCHESTRATOR_FAILED = re.compile(r"Orchestrator function '[^']*' failed: ")
MESSAGE_LIMIT = 500


@dataclass(frozen=True)
class ActivityFailure:
    """What failed an activity: its project error's code and message, or, for any other
    exception, `internal_error` and the Reason's first line (activity, exception type, text)."""

    activity: str
    code: str
    message: str


def read_failure(text: str) -> ActivityFailure | None:
    """The one reader of a failed activity's text as Durable hands it over; None when the text
    is not an activity failure (its Reason does not start `Activity function '...' failed:`).

    The envelope is read from the Reason only, right after the exception's type, and only when
    that type is the project error class of the envelope's code: an envelope named in the
    Details, or carried by any other exception, is not the failure's code."""
    reason = text.partition(REASON_END)[0].strip()
    failed = ACTIVITY_FAILED.match(reason)
    if failed is None:
        return None
    activity, rest = failed["activity"], failed["rest"].strip()
    raised = RAISED.match(rest)
    if raised is not None:
        found = _envelope(raised["text"])
        kind = _error_class(found[0]) if found else None
        if found and kind is not None and kind.__name__ == raised["type"]:
            return ActivityFailure(activity, found[0], _line(found[1]) or found[0])
    said = _line(rest) or "no message"
    return ActivityFailure(
        activity, INTERNAL_ERROR, f"Activity function '{activity}' failed: {said}"[:MESSAGE_LIMIT]
    )


def activity_failure(exc: BaseException) -> ActivityFailure | None:
    """The activity failure an orchestrator caught, or None for an exception its own code raised:
    the SDK raises a failed activity as a plain `Exception` whose Reason names the activity."""
    return read_failure(str(exc)) if type(exc) is Exception else None


def job_failure(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a failure the orchestrator caught: the failed activity's own code and
    message, else `internal_error` with what was raised."""
    failure = activity_failure(exc)
    if failure is not None:
        return failure.code, failure.message
    text = str(exc).partition(REASON_END)[0]
    said = text if type(exc) is Exception else f"{type(exc).__name__}: {text}"
    return INTERNAL_ERROR, _line(said) or INTERNAL_ERROR


def orchestration_failure(output: str) -> tuple[str, str]:
    """(code, message) of an orchestration that failed outright, from the output Durable shows
    (`Orchestrator function '<name>' failed: <what it raised>`): when an activity failure ended it
    (`fail_job` itself failing), that activity's code and message; else `internal_error`."""
    ended = ORCHESTRATOR_FAILED.match(output)
    failure = read_failure(output[ended.end():] if ended else output)
    if failure is not None:
        return failure.code, failure.message
    return INTERNAL_ERROR, _line(output) or "the orchestration failed"


def _error_class(code: str) -> type[StockMemoError] | None:
    return StockMemoError if code == INTERNAL_ERROR else ERROR_CODES.get(code)


def _envelope(text: str) -> tuple[str, str] | None:
    """(code, message) when `text` starts with an envelope; None otherwise."""
    try:
        data, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or set(data) != {"code", "message"}:
        return None
    code, message = data["code"], data["message"]
    if not isinstance(code, str) or not isinstance(message, str):
        return None
    return code, message


def _line(text: str) -> str:
    """The first non-empty line, trimmed to what a job's error keeps."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return lines[0][:MESSAGE_LIMIT] if lines else ""
