"""Report links as the two storage set-ups sign them, against Azurite.

A connection string (the local default) signs a service SAS with its account key. Identity-based
storage has no key: the link is a user delegation SAS, signed with a key the identity asks
Storage for; here Azurite over HTTPS in its OAuth mode, with a static token.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from azure.storage.blob import BlobServiceClient, ContainerClient

from devhost.azurite import Azurite
from shared.errors import ConfigurationError
from shared.store.artifacts import ArtifactStore
from tests.trust.oauth import StaticTokenCredential, self_signed_certificate

MEMO = "LINK/0123456789abcdef0123456789abcdef/memo.md"
EVIDENCE = "LINK/0123456789abcdef0123456789abcdef/evidence.json"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def oauth_azurite(tls: tuple[Path, Path]) -> Iterator[Azurite]:
    cert, key = tls
    with Azurite(cert=cert, key=key, oauth="basic") as instance:
        yield instance


def fill(container: ContainerClient) -> None:
    container.create_container()
    container.upload_blob(MEMO, b"# memo\n")
    container.upload_blob(EVIDENCE, b"{}")


@pytest.fixture(scope="module")
def identity_store(oauth_azurite: Azurite, tls: tuple[Path, Path]) -> ArtifactStore:
    service = BlobServiceClient(
        oauth_azurite.blob_url, credential=StaticTokenCredential(), connection_verify=str(tls[0])
    )
    container = service.get_container_client("reports")
    fill(container)
    return ArtifactStore(container, service)


def test_identity_storage_signs_a_user_delegation_sas(
    identity_store: ArtifactStore, tls: tuple[Path, Path]
) -> None:
    link = identity_store.read_link(MEMO, timedelta(seconds=60), delegated=True)
    query = parse_qs(urlsplit(link.url).query)
    assert query["sp"] == ["r"] and query["sr"] == ["b"] and query["spr"] == ["https"]
    assert "skoid" in query and "sktid" in query  # signed by a delegation key, not an account key
    verify = str(tls[0])
    assert requests.get(link.url, verify=verify, timeout=10).content == b"# memo\n"
    other = link.url.replace("/memo.md?", "/evidence.json?")
    assert requests.get(other, verify=verify, timeout=10).status_code == 403
    assert requests.get(link.url.split("?")[0], verify=verify, timeout=10).status_code in (
        401, 403, 404)


def test_without_an_account_key_there_is_no_service_sas(identity_store: ArtifactStore) -> None:
    with pytest.raises(ConfigurationError):
        identity_store.read_link(MEMO, timedelta(seconds=60), delegated=False)


def test_a_connection_string_signs_a_service_sas(azurite: Azurite) -> None:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("links-service-sas")
    fill(container)
    link = ArtifactStore(container, service).read_link(MEMO, timedelta(seconds=60),
                                                       delegated=False)
    query = parse_qs(urlsplit(link.url).query)
    assert query["sp"] == ["r"] and query["sr"] == ["b"] and "skoid" not in query
    assert "spr" not in query  # Azurite is plain HTTP here; in Azure the link is https-only
    assert requests.get(link.url, timeout=10).content == b"# memo\n"
