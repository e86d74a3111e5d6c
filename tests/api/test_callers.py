"""Who owns a request: AUTH_MODE=none is `anonymous`; easyauth reads the App Service principal."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import azure.functions as func
import pytest

from api.callers import ANONYMOUS, PRINCIPAL_HEADER, owner_of, principal_object_id
from shared.errors import Unauthenticated
from shared.settings import reset_settings

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"


def encode(principal: Any, pad: bool = True) -> str:
    text = base64.b64encode(json.dumps(principal).encode()).decode()
    return text if pad else text.rstrip("=")


def request(header: str | None = None) -> func.HttpRequest:
    headers = {PRINCIPAL_HEADER: header} if header is not None else {}
    return func.HttpRequest("GET", "http://localhost/api/analyses/x", headers=headers, body=b"")


@pytest.fixture
def auth_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AUTH_MODE", "easyauth")
    reset_settings()
    yield
    reset_settings()


def test_none_mode_makes_everyone_anonymous(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_MODE", raising=False)
    reset_settings()
    oid = str(uuid.uuid4())
    forged = encode({"claims": [{"typ": "oid", "val": oid}]})
    assert owner_of(request()) == ANONYMOUS
    assert owner_of(request(forged)) == ANONYMOUS  # no header is trusted in this mode
    reset_settings()


@pytest.mark.parametrize("claim", [OID_CLAIM, "oid"])
@pytest.mark.parametrize("pad", [True, False])
def test_easyauth_owner_is_the_object_id(auth_mode: None, claim: str, pad: bool) -> None:
    oid = uuid.uuid4()
    principal = {
        "auth_typ": "aad",
        "claims": [{"typ": "name", "val": "someone"}, {"typ": claim, "val": str(oid).upper()}],
        "name_typ": "name",
        "role_typ": "roles",
    }
    assert owner_of(request(encode(principal, pad))) == str(oid)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "not base64 !!",
        base64.b64encode(b"\xff\xfe").decode(),
        base64.b64encode(b"[1, 2]").decode(),
        encode({"claims": "oid"}),
        encode({"claims": [{"typ": "name", "val": "x"}]}),
        encode({"claims": [{"typ": "oid", "val": "anonymous"}]}),
        encode({"claims": [{"typ": "oid", "val": "x' or PartitionKey ne '"}]}),
        encode({"claims": [{"typ": "oid", "val": 42}]}),
        "A" * 20000,
    ],
)
def test_easyauth_without_a_usable_principal_is_unauthenticated(
    auth_mode: None, header: str | None
) -> None:
    with pytest.raises(Unauthenticated) as caught:
        owner_of(request(header))
    assert caught.value.code == "unauthenticated" and caught.value.http_status == 401


def test_principal_object_id_is_canonical() -> None:
    oid = uuid.uuid4()
    braces = encode({"claims": [{"typ": "oid", "val": "{" + oid.hex.upper() + "}"}]})
    assert principal_object_id(braces) == str(oid)
