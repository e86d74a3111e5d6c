"""How this process talks to Yahoo Finance through yfinance: one lock, one session, no hiding.

yfinance 1.7 keeps its HTTP state in a process-wide singleton (`yfinance.data.YfData`): the
session of the most recent `Ticker(..., session=...)` is used by every caller in the process,
together with one cookie, one crumb and an LRU cache of responses. Two callers with different
sessions would silently use each other's. So every Yahoo call made by our providers holds
`YAHOO_LOCK` for its whole duration and passes its session explicitly: the one injected by the
caller (tests), or `shared_session()`, one per process. The price is that Yahoo calls in one
worker process run one at a time (a fetch is a handful of requests; SPY is cached in Blob).

Left at its defaults (`yf.config.debug.hide_exceptions = True`) yfinance logs and swallows most
failures: on the chart request (history, and the time-zone lookup before it) a timeout,
connection error, 5xx or HTML error page becomes an empty DataFrame; an unparsable news body an
empty list; an HTTP error on quoteSummary (with yfinance's own curl_cffi session) an `info`
holding only what the v7 quote returned. Connection errors on `info` and `news`, and HTTP 429
(`YFRateLimitError`, raised after yfinance retried once with its other cookie strategy), raise
either way. `prepare()` turns hiding off, so failures raise and the providers map them to our
transient errors.
"""

from __future__ import annotations

import json
import threading
from functools import lru_cache
from typing import Any

import yfinance as yf
from curl_cffi import requests as curl_requests
from yfinance.data import YfData
from yfinance.exceptions import YFException, YFRateLimitError

YAHOO_LOCK = threading.Lock()
# What a Yahoo failure can look like once hiding is off: HTTP and transport errors of either
# backend (requests' and curl_cffi's are OSError subclasses), yfinance's own errors, and a body
# that is not JSON (an HTML error page).
YAHOO_ERRORS: tuple[type[BaseException], ...] = (OSError, YFException, json.JSONDecodeError)


def prepare() -> None:
    """Make yfinance raise instead of hiding failures, and forget its cached responses.

    Call with `YAHOO_LOCK` held, before each fetch. The response cache (an LRU on the
    singleton, keyed by URL) would otherwise keep serving one bad response, such as a 5xx on the
    time-zone lookup, to every later fetch of that symbol until the process restarts.
    """
    yf.config.debug.hide_exceptions = False
    YfData.cache_get.cache_clear()


def http_status(exc: BaseException) -> int | None:
    """The HTTP status behind an HTTPError of either backend, else None."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    return status if isinstance(status, int) and status >= 100 else None


def http_body(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(getattr(response, "text", "") or "")
    except Exception:  # an undecodable body is just not informative
        return ""


def yahoo_failure(exc: BaseException) -> str:
    """One line saying why a Yahoo call failed, without the URL (it carries the crumb)."""
    if isinstance(exc, YFRateLimitError):
        return "rate limited (HTTP 429)"
    status = http_status(exc)
    if status is not None:
        return f"HTTP {status}"
    if isinstance(exc, json.JSONDecodeError):
        return "the response was not JSON"
    return f"{type(exc).__name__}: {str(exc).split('?', 1)[0][:200]}"


def _capped(given: object, cap: float) -> float:
    """yfinance sets its own per-request timeouts (30 s for quotes): never wait longer than cap."""
    if isinstance(given, int | float) and not isinstance(given, bool) and given > 0:
        return min(float(given), cap)
    return cap


class _CappedCurlSession(curl_requests.Session):
    """curl_cffi's Chrome-impersonating session (what yfinance uses by default), timeout-capped."""

    def __init__(self, timeout: float) -> None:
        super().__init__(impersonate="chrome")
        self.cap = timeout

    def request(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["timeout"] = _capped(kwargs.get("timeout"), self.cap)
        return super().request(*args, **kwargs)


@lru_cache(maxsize=4)
def shared_session(timeout: float) -> Any:
    """The process's Yahoo session for a timeout; one per process, so the cookie is kept."""
    return _CappedCurlSession(timeout)
