"""The real function app, with its OpenTelemetry captured in memory in the worker that runs it.

In Azure the Functions worker installs Azure Monitor's providers as the global ones before the
app is imported. Here this script does the same with in-memory providers, then loads the real
function_app.py (under another module name: this file is the worker's `function_app`) and
re-exports its app with one more function-level route, `GET /api/ops-telemetry`: what this
worker captured, as JSON (tests.ops.otel_capture.snapshot).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import azure.functions as func

from tests.ops.otel_capture import ROUTE, install, snapshot

CAPTURE = install()

REAL_APP = Path(__file__).resolve().parents[4] / "function_app.py"
_spec = importlib.util.spec_from_file_location("stockmemo_function_app", REAL_APP)
assert _spec is not None and _spec.loader is not None
_real = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _real
_spec.loader.exec_module(_real)

app = _real.app


@app.route(route=ROUTE, methods=["GET"])
def ops_telemetry(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(snapshot(CAPTURE)), mimetype="application/json")
