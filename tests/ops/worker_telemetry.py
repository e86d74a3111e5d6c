"""What the telemetry wrapper app's worker captured, read back in the test.

`WorkerTelemetry` fetches the worker's `snapshot` (tests.ops.otel_capture) from the wrapper
app's route and rebuilds what the test reads: spans as `ReadableSpan`s, metric points, and
log records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import Link, SpanContext, Status, StatusCode

from devhost.host import DevHost
from tests.app_env import key_header
from tests.ops.otel_capture import ROUTE, Points


@dataclass(frozen=True)
class LogLine:
    """One log record the app wrote, as OpenTelemetry exported it."""

    body: str
    trace_id: int
    attributes: dict[str, Any]


def _span_context(data: dict[str, Any] | None) -> SpanContext | None:
    if data is None:
        return None
    return SpanContext(data["trace_id"], data["span_id"], is_remote=data["is_remote"])


def _read_span(data: dict[str, Any]) -> ReadableSpan:
    code, description = data["status"]
    links = []
    for context, attributes in data["links"]:
        linked = _span_context(context)
        assert linked is not None
        links.append(Link(linked, attributes))
    return ReadableSpan(
        name=data["name"],
        context=_span_context(data["context"]),
        parent=_span_context(data["parent"]),
        attributes=data["attributes"],
        events=[Event(name, attributes) for name, attributes in data["events"]],
        links=links,
        status=Status(StatusCode[code], description) if code == "ERROR" else Status(
            StatusCode[code]),
    )


class WorkerTelemetry:
    """What the wrapper app's worker captured, read over its route."""

    def __init__(self, host: DevHost) -> None:
        self.host = host

    def _snapshot(self) -> dict[str, Any]:
        answer = requests.get(f"{self.host.base_url}/api/{ROUTE}", headers=key_header(self.host),
                              timeout=30)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def spans(self) -> list[ReadableSpan]:
        return [_read_span(s) for s in self._snapshot()["spans"]]

    def points(self) -> Points:
        return {(name, tuple((k, v) for k, v in attrs)): value
                for name, attrs, value in self._snapshot()["points"]}

    def logs(self) -> list[LogLine]:
        return [LogLine(r["body"], r["trace_id"], r["attributes"])
                for r in self._snapshot()["logs"]]
