"""One base error for the project, a subclass per failure kind, each with a stable code."""

from __future__ import annotations


class StockMemoError(Exception):
    """Base of every error this project raises on purpose; `code` is part of the public API."""

    code = "internal_error"
    http_status = 500

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        # The code leads the message: Durable turns a failed activity into a plain Exception
        # carrying only this text, and the orchestrator reads the code back from it.
        return f"[{self.code}] {self.message}"


class InvalidBody(StockMemoError):
    """The request body is not JSON, not an object, or has missing or unknown fields."""

    code = "invalid_body"
    http_status = 400


class InvalidTicker(StockMemoError):
    """The ticker is not 1-10 characters of letters, digits, '.' or '-'."""

    code = "invalid_ticker"
    http_status = 400


class InvalidQuery(StockMemoError):
    """A query parameter (limit, cursor) is malformed."""

    code = "invalid_query"
    http_status = 400


class NotFound(StockMemoError):
    """No job with that id is visible to this caller."""

    code = "not_found"
    http_status = 404


class NotCompleted(StockMemoError):
    """The job has no report yet (or never will): its status says why."""

    code = "not_completed"
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
        InvalidBody, InvalidTicker, InvalidQuery, NotFound, NotCompleted, UnknownTicker,
        MarketDataUnavailable, NewsUnavailable, LlmFailed, StorageFailed, JobTimeout,
        ConfigurationError,
        BudgetExceeded,
        Unauthenticated, InvalidIdempotencyKey, IdempotencyConflict, NotCancellable,
        QuotaExceeded, BodyTooLarge, LengthRequired,
    )
}


def code_from_failure(message: str, default: str = "internal_error") -> str:
    """Read the stable code back from a failed activity's message ('[code] ...')."""
    start = message.find("[")
    end = message.find("]", start + 1)
    if start != -1 and end != -1:
        candidate = message[start + 1 : end]
        if candidate in ERROR_CODES:
            return candidate
    return default


# The SDK raises a failed activity as `Exception(f"{Reason} \n {Details}")`; the Details carry the
# worker's traceback, where a project error *handled* by the activity can still be named.
REASON_END = " \n "


def describe_failure(exc: BaseException, default_code: str) -> tuple[str, str]:
    """(code, one-line message) for an activity failure as Durable hands it to the orchestrator:
    read from its Reason only, never from the traceback in its Details."""
    text = str(exc).partition(REASON_END)[0]
    code = code_from_failure(text, default_code)
    marker = f"[{code}]"
    if marker in text:
        text = text.split(marker, 1)[1]
    line = text.strip().splitlines()[0].strip() if text.strip() else code
    return code, line[:500]
