"""The webhook signature: HMAC-SHA256 over the raw body, keyed by the secret's UTF-8 bytes.

Sent as `X-Stockmemo-Signature-256: sha256=<lower-case hex>`. A receiver recomputes it over the
bytes it received, before parsing them, and compares in constant time, as `verify` does.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SIGNATURE_HEADER = "X-Stockmemo-Signature-256"
PREFIX = "sha256="
SECRET_BYTES = 32


def new_secret() -> str:
    """A fresh webhook secret (URL-safe text, 256 bits): shown once, when the watchlist is made."""
    return secrets.token_urlsafe(SECRET_BYTES)


def sign(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 of `body` keyed by the UTF-8 bytes of `secret`."""
    if not secret:
        raise ValueError("a webhook secret must not be empty")
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{PREFIX}{digest}"


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether `header` is the signature of `body` under `secret`, compared in constant time."""
    if not secret or not header or not header.isascii():
        return False
    return hmac.compare_digest(sign(secret, body).encode("ascii"), header.encode("ascii"))
