"""A small HTTP client for the public API, standard library only."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

DEFAULT_API = "http://127.0.0.1:7071"
TERMINAL = {"completed", "failed", "cancelled"}


class ApiError(Exception):
    """The API answered with an error body (or not at all)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message


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

    def _request(self, method: str, url: str, body: Any = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.key:
            request.add_header("x-functions-key", self.key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return Response(answer.status, dict(answer.headers), answer.read())
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            try:
                error = json.loads(payload)["error"]
                raise ApiError(exc.code, error["code"], error["message"]) from exc
            except (ValueError, KeyError, TypeError):
                text = payload[:200].decode(errors="replace")
                raise ApiError(exc.code, f"http_{exc.code}", text) from exc
        except urllib.error.URLError as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.api}: {exc.reason}") from exc

    def submit(self, ticker: str) -> dict[str, Any]:
        answer = self._request("POST", f"{self.api}/api/analyses", {"ticker": ticker})
        result: dict[str, Any] = answer.json()
        return result

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
