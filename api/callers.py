"""Who is calling: the owner whose partition of the `analyses` table a request may touch."""

from __future__ import annotations

import azure.functions as func

ANONYMOUS = "anonymous"


def owner_of(req: func.HttpRequest) -> str:
    """AUTH_MODE=none (single tenant behind function keys): every caller is `anonymous`."""
    return ANONYMOUS
