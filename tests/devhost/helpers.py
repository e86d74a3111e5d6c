"""Polling and HTTP helpers for tests that drive a host over HTTP."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

T = TypeVar("T")


def wait_until[T](
    probe: Callable[[], T | None], timeout: float = 20.0, interval: float = 0.02, what: str = ""
) -> T:
    """Call `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or probe}")
        time.sleep(interval)


def types(history: list[dict[str, Any]]) -> list[str]:
    return [event["EventType"] for event in history]


def of_type(history: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [event for event in history if event["EventType"] == event_type]


class Api:
    """Start orchestrations through an app route and read them through the webhook API."""

    def __init__(self, base_url: str, start_route: str = "/api/start") -> None:
        self.base_url = base_url
        self.start_route = start_route
        self.http = requests.Session()

    def start(
        self, name: str, payload: Any = None, instance_id: str | None = None
    ) -> dict[str, Any]:
        url = f"{self.base_url}{self.start_route}/{name}" + (
            f"/{instance_id}" if instance_id else ""
        )
        response = self.http.post(url, json=payload, timeout=10)
        assert response.status_code == 202, response.text
        links: dict[str, Any] = response.json()
        return links

    def status(self, links: dict[str, Any], **params: str) -> requests.Response:
        return self.http.get(links["statusQueryGetUri"], params=params, timeout=10)

    def wait_done(self, links: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
        """The final status, with history and outputs, once the instance left Pending/Running."""

        def finished() -> dict[str, Any] | None:
            response = self.status(links, showHistory="true", showHistoryOutput="true")
            if response.status_code == 202:
                return None
            assert response.status_code == 200, response.text
            body: dict[str, Any] = response.json()
            return body

        return wait_until(finished, timeout, what=f"instance {links['id']} to finish")

    def wait_status(
        self, links: dict[str, Any], check: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            response = self.status(links, showHistory="true")
            body: dict[str, Any] = response.json()
            return body if check(body) else None

        return wait_until(probe, timeout, what=f"a status of {links['id']}")
