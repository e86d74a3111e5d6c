"""A small HTTP client for the public API, standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_API = "http://127.0.0.1:7071"
TERMINAL = {"completed", "failed", "cancelled"}


class ApiError(Exception):
    """The API answered with an error body (or not at all)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        value: str | None = None,
        retry_after: str | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.field = field  # the part of the request refused, e.g. "tickers[1]"
        self.value = value  # the offending input, as the server read it
        self.retry_after = retry_after  # a 429's Retry-After, in seconds


def tickers_of(values: list[str]) -> list[str]:
    """The tickers as given (`AAPL MSFT` or `AAPL,MSFT`), upper-cased, each once, in order."""
    tickers: list[str] = []
    for value in values:
        for part in value.split(","):
            ticker = part.strip().upper()
            if ticker and ticker not in tickers:
                tickers.append(ticker)
    return tickers


def refusal_details(exc: ApiError) -> str:
    facts = []
    if exc.field:
        facts.append(f"field {exc.field}")
    if exc.value is not None:
        facts.append(f"value {exc.value!r}")
    if exc.retry_after:
        facts.append(f"retry after {exc.retry_after}s")
    return f" ({', '.join(facts)})" if facts else ""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class MemoClient:
    def __init__(self, api: str = DEFAULT_API, key: str | None = None, timeout: float = 30) -> None:
        self.api = api.rstrip("/")
        self.key = key
        self.timeout = timeout

    def _request(
        self, method: str, url: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.key:
            request.add_header("x-functions-key", self.key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            retry_after = exc.headers.get("Retry-After") if exc.code == 429 else None
            try:
                error = json.loads(payload)["error"]
                raise ApiError(
                    exc.code, error["code"], error["message"], field=error.get("field"),
                    value=error.get("value"), retry_after=retry_after,
                ) from exc
            except (ValueError, KeyError, TypeError, AttributeError):
                text = payload[:200].decode(errors="replace")
                raise ApiError(exc.code, f"http_{exc.code}", text) from exc
        except urllib.error.URLError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.api}: {exc.reason}") from exc

    def submit(self, ticker: str, as_of: str | None = None) -> dict[str, Any]:
        body = {"ticker": ticker, **({"as_of": as_of} if as_of else {})}
        answer = self._request("POST", f"{self.api}/api/analyses", body)
        result: dict[str, Any] = answer.json()
        return result

    def submit_batch(self, tickers: list[str], as_of: str | None = None) -> dict[str, Any]:
        body = {"tickers": tickers, **({"as_of": as_of} if as_of else {})}
        answer = self._request("POST", f"{self.api}/api/batches", body)
        result: dict[str, Any] = answer.json()
        return result

    def submit_point_in_time_batch(
        self, tickers: list[str], as_of: str, idempotency_key: str
    ) -> dict[str, Any]:
        """A batch as of a past day, under an Idempotency-Key: the same key and body answer the
        batch the first request started, and start nothing new."""
        answer = self._request(
            "POST", f"{self.api}/api/batches", {"tickers": tickers, "as_of": as_of},
            headers={"Idempotency-Key": idempotency_key},
        )
        result: dict[str, Any] = answer.json()
        return result

    def get_json(self, path: str, **query: str) -> Any:
        """GET `/api/{path}` (query values URL-encoded) and its JSON body."""
        url = f"{self.api}/api/{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        return self._request("GET", url).json()

    def put_watchlist(
        self, name: str, tickers: list[str], schedule: str, webhook_url: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """PUT /api/watchlists/{name}: 201 with `webhook_secret` (shown once) when it creates
        the watchlist, 200 when it replaces one."""
        body: dict[str, Any] = {"tickers": tickers, "schedule": schedule}
        if webhook_url:
            body["webhook_url"] = webhook_url
        quoted = urllib.parse.quote(name, safe="")
        answer = self._request("PUT", f"{self.api}/api/watchlists/{quoted}", body)
        view: dict[str, Any] = answer.json()
        return answer.status, view

    def watchlists(self) -> list[dict[str, Any]]:
        """The caller's watchlists (GET /api/watchlists), each with its last runs."""
        items: list[dict[str, Any]] = self.get_json("watchlists").get("items", [])
        return items

    def job(self, job_id: str) -> dict[str, Any]:
        quoted = urllib.parse.quote(job_id, safe="")
        job: dict[str, Any] = self._request("GET", f"{self.api}/api/analyses/{quoted}").json()
        return job

    def status(self, url: str) -> tuple[dict[str, Any], float]:
        answer = self._request("GET", url)
        retry_after = float(answer.headers.get("Retry-After", "1") or 1)
        job: dict[str, Any] = answer.json()
        return job, retry_after

    def report(self, url: str) -> str:
        return self._request("GET", url).body.decode("utf-8")

    def follow(
        self, url: str, timeout: float = 900, sleep: Callable[[float], None] = time.sleep
    ) -> Iterator[dict[str, Any]]:
        """Yield the job each time its stage changes, until it ends (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            job, retry_after = self.status(url)
            if job.get("stage") != last:
                last = job.get("stage")
                yield job
            if job.get("status") in TERMINAL:
                return
            if time.monotonic() > deadline:
                raise ApiError(0, "client_timeout", f"the job did not finish within {timeout}s")
            sleep(min(max(retry_after, 0.2), 5.0) if retry_after else 1.0)

    def follow_batch(
        self, url: str, timeout: float = 900, sleep: Callable[[float], None] = time.sleep
    ) -> Iterator[tuple[dict[str, Any], list[ChildChange]]]:
        """Yield the batch with its children's changes since the last yield, each time a child
        moves (or the batch ends), until it ends (or `timeout` passes).

        A child's status comes from the batch; the batch does not carry stages, so each running
        child's stage is read from its own job, and a failed child's job once, for its error.
        """
        deadline = time.monotonic() + timeout
        seen: dict[str, str] = {}
        while True:
            batch, retry_after = self.status(url)
            changes = []
            for item in batch.get("items", []):
                job = None
                if item["status"] in TERMINAL or item["status"] == "queued":
                    stage = item["status"]
                    if item["status"] == "failed":
                        job = self._child_or_none(item["id"])
                else:
                    job = self._child_or_none(item["id"])
                    stage = job.get("stage") if job else None
                    # Unread this time, or ended but not yet in the batch: the next poll says.
                    if not isinstance(stage, str) or stage in TERMINAL:
                        continue
                if seen.get(item["id"]) != stage:
                    seen[item["id"]] = stage
                    changes.append(ChildChange(item, stage, (job or {}).get("error")))
            if changes or batch.get("status") in TERMINAL:
                yield batch, changes
            if batch.get("status") in TERMINAL:
                return
            if time.monotonic() > deadline:
                raise ApiError(0, "client_timeout", f"the batch did not finish within {timeout}s")
            sleep(min(max(retry_after, 0.2), 5.0) if retry_after else 1.0)

    def _child_or_none(self, job_id: str) -> dict[str, Any] | None:
        """A child's job, or None when reading it failed this time (the next poll tries again)."""
        try:
            return self.job(job_id)
        except ApiError as exc:
            if exc.status in (401, 403):
                raise
            return None


@dataclass(frozen=True)
class ChildChange:
    """One child of a batch reached `stage` (its error, once it has failed)."""

    item: dict[str, Any]
    stage: str
    error: dict[str, Any] | None = None
