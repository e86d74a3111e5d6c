"""Operations tests: OpenTelemetry captured in memory in the test process.

The app behind a host runs in the host's worker processes and is captured there (the wrapper
app tests/ops/apps/telemetry, read with tests.ops.worker_telemetry). What runs in the test
process lands in these in-memory providers: the app's functions a test calls directly, and the
host's own log records. They are installed as the *global* ones, as the Functions worker
installs Azure Monitor's, before the app runs; the app's code only asks the global API for a
tracer and a meter. A process can set them once, so this is session-wide.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest
from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from tests.ops.otel_capture import Points, points_of


@dataclass
class Captured:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter

    def points(self) -> Points:
        """Every metric point so far (cumulative): sums of counters, counts of histograms."""
        return points_of(self.reader.get_metrics_data())


def moved(before: Points, after: Points, name: str, **attributes: Any) -> float:
    """How much metric `name` moved between two snapshots, over the points with `attributes`."""
    def total(points: Points) -> float:
        return sum(
            value for (metric, attrs), value in points.items()
            if metric == name and set(attributes.items()) <= set(attrs)
        )
    return total(after) - total(before)


@pytest.fixture(scope="session")
def otel() -> Iterator[Captured]:
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_ON)  # keep every span (ratio 1.0)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    set_logger_provider(logger_provider)
    if trace.get_tracer_provider() is not tracer_provider:
        pytest.fail("another global TracerProvider was installed first in this process")

    root = logging.getLogger()
    handler, level = LoggingHandler(logging.INFO, logger_provider), root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    yield Captured(spans, reader, logs)
    root.removeHandler(handler)
    root.setLevel(level)
    for provider in (tracer_provider, meter_provider, logger_provider):
        provider.shutdown()


def hooked(module: ModuleType, *calls: str) -> bool:
    """Whether `module` makes the telemetry calls named (hooks in files this package does not
    own: until they are added, the assertions that need them are skipped, saying which)."""
    source = inspect.getsource(module)
    return all(call in source for call in calls)


def principal(object_id: str) -> dict[str, str]:
    """The X-MS-CLIENT-PRINCIPAL header App Service Authentication would add for `object_id`."""
    claims = {"claims": [{"typ": "oid", "val": object_id}]}
    return {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode()}
