"""Test support for identity-based storage: a self-signed certificate and a static token.

Azurite's `--oauth basic` (HTTPS only) decodes the bearer token without checking its signature
and accepts it when `iss` starts with an Entra ID issuer (`https://sts.windows.net/`), `aud` is
a storage audience (`https://storage.azure.com`) and `nbf <= now <= exp` (see
node_modules/azurite/dist/src/{blob,table}/authentication/*TokenAuthenticator.js).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.core.credentials import AccessToken
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

STORAGE_AUDIENCE = "https://storage.azure.com"
ISSUER = "https://sts.windows.net/{tenant}/"


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) for 127.0.0.1 and localhost, valid for one day; its own CA."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "azurite-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_encipherment=True, key_cert_sign=True,
                content_commitment=False, data_encipherment=False, key_agreement=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def storage_jwt(lifetime: timedelta = timedelta(hours=1), **claims: Any) -> tuple[str, int]:
    """An HS256 JWT shaped like an Entra ID token for Storage, and its expiry (epoch seconds).

    Signed with a throwaway key: Azurite's basic mode does not verify signatures.
    """
    now = int(time.time())
    expires = now + int(lifetime.total_seconds())
    tenant = str(uuid.uuid4())
    payload = {
        "aud": STORAGE_AUDIENCE,
        "iss": ISSUER.format(tenant=tenant),
        "iat": now - 60,
        "nbf": now - 60,
        "exp": expires,
        "tid": tenant,
        "oid": str(uuid.uuid4()),
        "sub": "stockmemo-trust-tests",
        "ver": "1.0",
        **claims,
    }
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(secrets.token_bytes(32), signing_input.encode(), hashlib.sha256)
    return f"{signing_input}.{_b64(signature.digest())}", expires


class StaticTokenCredential:
    """An `azure.core.credentials.TokenCredential` handing out one fixed storage token.

    Records the scopes and the managed-identity client id it was asked for, so a test can show
    the identity path was taken.
    """

    def __init__(self, client_id: str | None = None) -> None:
        self.client_id = client_id
        self.token, self.expires_on = storage_jwt()
        self.scopes: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        with self._lock:
            self.scopes.append(scopes)
        return AccessToken(self.token, self.expires_on)


def storage_client_facts() -> list[dict[str, Any]]:
    """What this process's Blob and Table clients (`shared.store.clients`) hold, as plain data, so a
    language worker can report its own over HTTP: the endpoint, whether the credential is a
    static token, whether it carries an account key."""
    from shared.store import clients as storage

    return [
        {
            "url": client.url,
            "static_token": isinstance(client.credential, StaticTokenCredential),
            "account_key": hasattr(client.credential, "account_key"),
        }
        for client in (storage.blob_service(), storage.table_service())
    ]
