"""The bench's HTTP client side: submit jobs, follow them, read them, and ask the Durable HTTP
API which of their instances have not finished."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

TERMINAL = frozenset({"completed", "failed", "cancelled"})
KEY_HEADER = "x-functions-key"  # the app's routes are at AuthLevel.FUNCTION
DURABLE_API = "/runtime/webhooks/durabletask"  # the Durable extension's HTTP API, as on Azure
UNFINISHED = frozenset({"Pending", "Running"})


def keyed_session(function_key: str) -> requests.Session:
    """A session whose requests carry the host's function key."""
    session = requests.Session()
    session.headers[KEY_HEADER] = function_key
    return session


@dataclass
class Submitted:
    """One accepted POST: the job id and how long the POST took (seconds)."""

    job_id: str
    ticker: str
    sent: float  # time.monotonic() when the request was sent
    seconds: float
    status: int


def submit(
    session: requests.Session, base_url: str, ticker: str, path: str = "/api/analyses"
) -> Submitted:
    sent = time.monotonic()
    answer = session.post(f"{base_url}{path}", json={"ticker": ticker}, timeout=120)
    seconds = time.monotonic() - sent
    job_id = answer.json().get("id", "") if answer.status_code == 202 else ""
    return Submitted(job_id, ticker, sent, seconds, answer.status_code)


def job(session: requests.Session, base_url: str, job_id: str) -> dict[str, Any]:
    answer = session.get(f"{base_url}/api/analyses/{job_id}", timeout=60)
    answer.raise_for_status()
    data: dict[str, Any] = answer.json()
    return data


def follow(
    session: requests.Session, base_url: str, job_id: str, timeout: float, interval: float = 0.05
) -> tuple[dict[str, Any], float]:
    """Poll until the job is terminal: its last view and when that was seen (monotonic)."""
    deadline = time.monotonic() + timeout
    while True:
        view = job(session, base_url, job_id)
        if view["status"] in TERMINAL:
            return view, time.monotonic()
        if time.monotonic() > deadline:
            return view, time.monotonic()
        time.sleep(interval)


def server_seconds(view: dict[str, Any]) -> float | None:
    """created_at -> completed_at of a job view, as the service recorded them."""
    if not view.get("completed_at"):
        return None
    created = datetime.fromisoformat(view["created_at"])
    completed = datetime.fromisoformat(view["completed_at"])
    return (completed - created).total_seconds()


def unfinished_instances(base_url: str, system_key: str, instance_ids: list[str]) -> set[str]:
    """The instances the Durable HTTP API still shows as Pending or Running (one GET each)."""
    session = requests.Session()
    session.headers[KEY_HEADER] = system_key
    found = set()
    for instance_id in instance_ids:
        answer = session.get(f"{base_url}{DURABLE_API}/instances/{instance_id}", timeout=60)
        if answer.status_code == 404:
            continue
        answer.raise_for_status()
        if answer.json().get("runtimeStatus") in UNFINISHED:
            found.add(instance_id)
    return found
