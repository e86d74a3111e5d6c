"""Who is calling: the owner whose partition of the `analyses` table a request may touch.

AUTH_MODE=none (single tenant behind function keys): every caller is `anonymous`.

AUTH_MODE=easyauth: the owner is the Entra object id in App Service Authentication's
`X-MS-CLIENT-PRINCIPAL` header (base64 JSON: `{"claims": [{"typ", "val"}, ...]}`). The header is
trusted because the platform strips it from incoming requests and sets it itself, so this mode
is only for deployments with App Service Authentication enabled: anywhere else a caller could
forge it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from typing import Any

import azure.functions as func

from shared.errors import Unauthenticated
from shared.settings import get_settings

ANONYMOUS = "anonymous"
PRINCIPAL_HEADER = "X-MS-CLIENT-PRINCIPAL"
OBJECT_ID_CLAIMS = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
MAX_PRINCIPAL_CHARS = 16 * 1024


def owner_of(req: func.HttpRequest) -> str:
    """The caller's owner id; raises Unauthenticated in easyauth mode without a principal."""
    if get_settings().auth_mode == "none":
        return ANONYMOUS
    object_id = principal_object_id(req.headers.get(PRINCIPAL_HEADER))
    if object_id is None:
        raise Unauthenticated("sign in: this API needs an App Service Authentication principal")
    return object_id


def principal_object_id(header: str | None) -> str | None:
    """The object id (a GUID, lower-case) in an X-MS-CLIENT-PRINCIPAL value, or None."""
    if not header or len(header) > MAX_PRINCIPAL_CHARS:
        return None
    try:
        raw = base64.b64decode(header + "=" * (-len(header) % 4), validate=True)
        principal: Any = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    claims = principal.get("claims") if isinstance(principal, dict) else None
    if not isinstance(claims, list):
        return None
    for claim in claims:
        if isinstance(claim, dict) and claim.get("typ") in OBJECT_ID_CLAIMS:
            value = claim.get("val")
            try:
                # A GUID only: the owner becomes a PartitionKey, so nothing else gets through.
                return str(uuid.UUID(value)) if isinstance(value, str) else None
            except ValueError:
                return None
    return None
