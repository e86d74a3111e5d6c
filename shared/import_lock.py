"""One lock around the first import of a provider's SDK.

Providers are imported on first use (a cold start pays only for what is configured); two
activity threads importing openai/httpx at the same moment saw a partially initialised module,
so every factory that imports on first use goes through `serialised`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import wraps

_import_lock = threading.RLock()


def serialised[**P, R](build: Callable[P, R]) -> Callable[P, R]:
    @wraps(build)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with _import_lock:
            return build(*args, **kwargs)

    return locked
