"""The real function app, with its OpenTelemetry captured in memory in the worker that runs it.

In Azure the Functions worker installs Azure Monitor's providers as the global ones before the
app is imported. Here this script does the same with in-memory providers, then loads the real
function_app.py (under another module name: this file is the worker's `function_app`) and
re-exports its app with one more function-level route, `GET /api/ops-telemetry`: what this
worker captured, as JSON (tests.ops.otel_capture.snapshot).
"""

from __future__ import annotations

import json

import azure.functions as func

from tests.ops.otel_capture import ROUTE, install, snapshot
from tests.real_app import real_app

CAPTURE = install()  # before the app is imported, as the worker installs Azure Monitor's
app = real_app()


@app.route(route=ROUTE, methods=["GET"])
def ops_telemetry(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(snapshot(CAPTURE)), mimetype="application/json")
