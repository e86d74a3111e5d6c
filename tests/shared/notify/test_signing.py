"""The webhook signature, against an independent HMAC-SHA256 and a published test vector."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from shared.notify.signing import new_secret, sign, verify


def test_the_signature_is_hmac_sha256_of_the_raw_body_keyed_by_the_secrets_utf8_bytes() -> None:
    secret, body = "s3cr\u00e9t", b'{"watchlist":"tech"}'
    expected = hmac.new("s3cr\u00e9t".encode(), body, hashlib.sha256).hexdigest()
    assert sign(secret, body) == f"sha256={expected}"


def test_rfc_4231_test_case_2() -> None:
    assert sign("Jefe", b"what do ya want for nothing?") == (
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )


def test_verify_accepts_the_signature_and_nothing_else() -> None:
    secret, body = new_secret(), b'{"a":1}'
    header = sign(secret, body)
    assert verify(secret, body, header)
    assert not verify(secret, body + b" ", header)  # a re-serialised body is another body
    assert not verify(new_secret(), body, header)
    assert not verify(secret, body, header.upper())
    assert not verify(secret, body, header.removeprefix("sha256="))
    assert not verify(secret, body, None)
    assert not verify(secret, body, "")
    assert not verify(secret, body, "sha256=\u00e9")
    assert not verify("", body, header)


def test_secrets_are_fresh_and_long() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(s) >= 43 and s.isascii() for s in secrets)


def test_an_empty_secret_cannot_sign() -> None:
    with pytest.raises(ValueError):
        sign("", b"{}")
