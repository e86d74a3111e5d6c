"""The repository's function app (`function_app.py`), for a bench app to build on.

A bench app is itself a `function_app.py` whose folder the runtime puts first on sys.path, so
`import function_app` inside it would import the bench app. The real script is loaded from its
file under a module name of its own instead, once per process.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import azure.durable_functions as df

SCRIPT = Path(__file__).resolve().parents[2] / "function_app.py"
MODULE = "bench_stockmemo_function_app"


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
