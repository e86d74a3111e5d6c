"""The repository's function app, for a wrapper app (a test's, or the bench's) to build on.

A wrapper is itself a `function_app.py` whose folder the runtime puts first on sys.path, so
`import function_app` inside it would import the wrapper. The real script is loaded from its
file under a module name of its own instead, once per process: the app exactly as deployed,
with whatever the wrapper installs around it (captures, stand-in transports, extra routes).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import azure.durable_functions as df

SCRIPT = Path(__file__).resolve().parents[1] / "function_app.py"
MODULE = "stockmemo_function_app"


def real_app() -> df.DFApp:
    module = sys.modules.get(MODULE)
    if module is None:
        spec = importlib.util.spec_from_file_location(MODULE, SCRIPT)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {SCRIPT}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = module
        spec.loader.exec_module(module)
    app: df.DFApp = module.app
    return app
