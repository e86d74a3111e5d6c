"""The repo's function app, for a wrapper test app to re-export as its one app.

In a worker, a wrapper's own script is the top-level module `function_app`, so the repo's
function_app.py is loaded from its file under another name: the app exactly as deployed, with
whatever the wrapper installs around it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import azure.functions as func

SCRIPT = Path(__file__).resolve().parents[2] / "function_app.py"
MODULE = "stockmemo_function_app"


def real_app() -> func.FunctionRegister:
    loaded = sys.modules.get(MODULE)
    if loaded is None:
        spec = importlib.util.spec_from_file_location(MODULE, SCRIPT)
        assert spec is not None and spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[MODULE] = loaded
        spec.loader.exec_module(loaded)
    app = loaded.app
    assert isinstance(app, func.FunctionRegister)
    return app
