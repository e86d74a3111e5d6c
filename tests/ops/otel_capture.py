"""OpenTelemetry captured in memory inside a language worker, as JSON for the test.

The app runs in the host's worker processes, so its spans, metric points and log records are
made there. In Azure the Functions worker installs Azure Monitor's providers as the global ones
before the app runs; the wrapper app (tests/ops/apps/telemetry) calls `install` at import to
put in-memory SDK providers in their place, and answers `snapshot` on its route `ROUTE`.
`tests.ops.worker_telemetry` reads it back in the test.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, MetricsData
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanContext

# The wrapper app's route (function-level, like the app's own) that answers `snapshot`.
ROUTE = "ops-telemetry"

# (metric name, sorted attribute items) -> a counter's sum or a histogram's count
Points = dict[tuple[str, tuple[tuple[str, Any], ...]], float]


def points_of(data: MetricsData | None) -> Points:
    """Every metric point (cumulative): sums of counters, counts of histograms."""
    found: Points = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    key = (metric.name, tuple(sorted((point.attributes or {}).items())))
                    found[key] = float(getattr(point, "value", getattr(point, "count", 0)))
    return found




@dataclass
class Capture:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    logs: InMemoryLogRecordExporter


def install() -> Capture:
    """In-memory providers as this process's global ones, and a root logging handler that
    turns log records into OpenTelemetry log records (as Azure Monitor's distro does)."""
    spans = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_ON)  # keep every span (ratio 1.0)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    logs = InMemoryLogRecordExporter()
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    set_logger_provider(logger_provider)
    if trace.get_tracer_provider() is not tracer_provider:
        raise RuntimeError("another global TracerProvider was installed first in this worker")

    root = logging.getLogger()
    level = root.getEffectiveLevel()
    for handler in root.handlers:  # the worker's own output stays as it was
        if handler.level == logging.NOTSET:
            handler.setLevel(level)
        handler.addFilter(_quiet_azure)
    # The Azure SDKs' records go to the capture (their level left to the root's), as in a
    # process where nothing quietened them.
    logging.getLogger("azure").setLevel(logging.NOTSET)
    root.addHandler(LoggingHandler(logging.INFO, logger_provider))
    root.setLevel(min(level, logging.INFO))
    return Capture(spans, reader, logs)


def _quiet_azure(record: logging.LogRecord) -> bool:
    """The worker's own output shows the Azure SDKs' warnings only, as the worker set it."""
    sdk = record.name == "azure" or record.name.startswith("azure.")
    return record.levelno >= logging.WARNING or not sdk


def _context(context: SpanContext | None) -> dict[str, Any] | None:
    if context is None:
        return None
    return {"trace_id": context.trace_id, "span_id": context.span_id,
            "is_remote": context.is_remote}


def _attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (attributes or {}).items()}


def _span(span: ReadableSpan) -> dict[str, Any]:
    return {
        "name": span.name,
        "context": _context(span.context),
        "parent": _context(span.parent),
        "attributes": _attributes(span.attributes),
        "status": [span.status.status_code.name, span.status.description],
        "events": [[e.name, _attributes(e.attributes)] for e in span.events],
        "links": [[_context(k.context), _attributes(k.attributes)] for k in span.links],
    }


def snapshot(capture: Capture) -> dict[str, Any]:
    """Everything captured so far in this worker, as JSON."""
    return {
        "spans": [_span(s) for s in capture.spans.get_finished_spans()],
        "points": [[name, [list(a) for a in attrs], value] for (name, attrs), value
                   in points_of(capture.reader.get_metrics_data()).items()],
        "logs": [{"body": str(r.log_record.body), "trace_id": r.log_record.trace_id or 0,
                  "attributes": _attributes(r.log_record.attributes)}
                 for r in capture.logs.get_finished_logs()],
    }
