"""Identity-based storage: no connection string, no account key, a bearer token per request.

Azurite runs over HTTPS with `--oauth basic` and a certificate made here; the app is given only
`AzureWebJobsStorage__blobServiceUri` / `__tableServiceUri` / `__clientId`, and the credential
factory of `shared.store.clients` hands its clients a static Entra-shaped token instead of
DefaultAzureCredential: here in the test's process, and in the host's language workers through
a wrapper app (tests/trust/apps/static_token) that records on a Board what it built and was
asked for. TLS verification stays on, pointed at the test certificate through
REQUESTS_CA_BUNDLE (which azure-core's requests transport honours, and the workers inherit).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from activities.job_stage import set_stage
from activities.persist import persist
from devhost.azurite import Azurite
from devhost.host import DevHost
from shared.contracts import StageUpdate
from shared.domain.models import Job, JobStatus, Stage
from shared.errors import ConfigurationError, StorageFailed
from shared.settings import get_settings, reset_settings
from shared.store import clients as storage
from shared.store.artifacts import ArtifactStore, memo_blob
from shared.store.jobs import JobStore
from tests.activities.pipeline import run_to_persist
from tests.app_env import OFFLINE_SETTINGS
from tests.control import Board
from tests.trust.oauth import (
    STORAGE_AUDIENCE,
    StaticTokenCredential,
    self_signed_certificate,
    storage_client_facts,
    storage_jwt,
)
from tests.trust.support import follow, get, make_app_root, running_host, submit

CLIENT_ID = "00000000-0000-0000-0000-00000000c11d"
# The real app, with the static-token credential factory installed in its workers.
STATIC_TOKEN_APP = "tests.trust.apps.static_token.function_app:app"
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def oauth_azurite(certificate: tuple[Path, Path]) -> Iterator[Azurite]:
    cert, key = certificate
    with Azurite(cert=cert, key=key, oauth="basic") as instance:
        yield instance


class Credentials:
    """The factory given to shared.store.clients: records every credential it builds."""

    def __init__(self) -> None:
        self.built: list[StaticTokenCredential] = []

    def __call__(self, client_id: str | None) -> StaticTokenCredential:
        credential = StaticTokenCredential(client_id)
        self.built.append(credential)
        return credential


@pytest.fixture
def identity(
    oauth_azurite: Azurite, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Credentials]:
    """The app's settings as in Azure with a managed identity: service URIs, no key anywhere."""
    for name, value in OFFLINE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("AzureWebJobsStorage__blobServiceUri", oauth_azurite.blob_url)
    monkeypatch.setenv("AzureWebJobsStorage__tableServiceUri", oauth_azurite.table_url)
    monkeypatch.setenv("AzureWebJobsStorage__clientId", CLIENT_ID)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    credentials = Credentials()
    reset_settings()
    storage.set_credential_factory(credentials)
    yield credentials
    storage.set_credential_factory(None)
    reset_settings()


def assert_identity_path(
    clients: list[dict[str, Any]], client_ids: list[str | None], scopes: Iterable[tuple[str, ...]]
) -> None:
    """Both clients hold our token credential (built for the configured client id), no key."""
    assert len(clients) == 2
    for client in clients:
        assert client["url"].startswith("https://127.0.0.1:")
        assert client["static_token"]
        assert not client["account_key"]
    assert client_ids and all(c == CLIENT_ID for c in client_ids)
    requested = list(scopes)
    assert requested, "no token was ever requested"
    assert set(requested) == {(f"{STORAGE_AUDIENCE}/.default",)}


def assert_token_clients(credentials: Credentials) -> None:
    """The identity path, taken by this process's clients."""
    assert_identity_path(
        storage_client_facts(),
        [c.client_id for c in credentials.built],
        [s for c in credentials.built for s in c.scopes],
    )


def assert_worker_token_clients(host: DevHost, board: Board) -> None:
    """The identity path, taken by the app's clients in the host's language workers."""
    answer = get(host, f"{host.base_url}/api/trust/storage-clients")
    assert answer.status_code == 200, answer.text
    assert_identity_path(
        answer.json(),
        [c["client_id"] for c in board.records("credentials")],
        [tuple(s) for s in board.records("scopes")],
    )


def test_a_job_row_and_a_memo_through_identity_clients(identity: Credentials) -> None:
    settings = get_settings()
    assert settings.storage_connection_string is None and settings.uses_identity_storage

    job = Job(id=uuid.uuid4().hex, owner="anonymous", ticker="IDNT", status=JobStatus.QUEUED,
              stage=Stage.QUEUED, created_at=NOW)
    JobStore().create(job)
    set_stage(StageUpdate(job_id=job.id, owner=job.owner, status=JobStatus.RUNNING,
                          stage=Stage.GATHERING_EVIDENCE, at=NOW))
    result = persist(run_to_persist(job, NOW + timedelta(seconds=5)))

    assert result.job_status is JobStatus.COMPLETED
    stored = JobStore().get(job.owner, job.id)  # read back through the identity Table client
    assert stored is not None and stored.status is JobStatus.COMPLETED
    memo = ArtifactStore().read(memo_blob(job.ticker, job.id))  # and the identity Blob client
    assert memo is not None and memo.decode().startswith("# IDNT research memo")
    entries = [e for e in JobStore().log_entries(job.owner, job.ticker) if e["JobId"] == job.id]
    assert len(entries) == 1 and entries[0]["MemoBlob"] == memo_blob(job.ticker, job.id)
    assert_token_clients(identity)


class ExpiredToken(StaticTokenCredential):
    def __init__(self, client_id: str | None = None) -> None:
        super().__init__(client_id)
        self.token, _ = storage_jwt(lifetime=timedelta(hours=-1))


class WrongAudience(StaticTokenCredential):
    def __init__(self, client_id: str | None = None) -> None:
        super().__init__(client_id)
        self.token, _ = storage_jwt(aud="https://vault.azure.net")


@pytest.mark.parametrize("credential", [ExpiredToken, WrongAudience])
def test_the_emulator_checks_the_token(
    identity: Credentials, certificate: tuple[Path, Path], credential: type[StaticTokenCredential]
) -> None:
    """Not vacuous: the same clients with a token storage must refuse fail as storage_failed,
    and so does a request with no token at all."""
    storage.set_credential_factory(credential)
    with pytest.raises(StorageFailed):
        ArtifactStore().write_once("IDNT/refused/memo.md", b"x", "text/markdown")
    with pytest.raises(StorageFailed):
        JobStore().get("anonymous", "0" * 32)
    anonymous = requests.get(
        f"{storage.blob_service().url.rstrip('/')}/reports?restype=container&comp=list",
        verify=str(certificate[0]),
        timeout=10,
    )
    assert anonymous.status_code in (401, 403, 404)


def test_an_account_name_alone_means_the_public_endpoints(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.setenv("AzureWebJobsStorage__accountName", "stockmemoprod")
    reset_settings()
    storage.set_credential_factory(StaticTokenCredential)
    try:
        assert storage.blob_service().url == "https://stockmemoprod.blob.core.windows.net/"
        assert storage.table_service().url.startswith("https://stockmemoprod.table.core.windows.net")
        monkeypatch.delenv("AzureWebJobsStorage__accountName")
        reset_settings()
        storage.reset_storage_clients()
        with pytest.raises(ConfigurationError):
            storage.blob_service()
    finally:
        storage.set_credential_factory(None)
        reset_settings()


def test_the_whole_api_runs_on_identity_storage(
    identity: Credentials,
    oauth_azurite: Azurite,
    azurite: Azurite,
    tmp_path: Path,
) -> None:
    """End to end with AzureWebJobsStorage unset: the host keeps its checkpoints in the
    session's Azurite (DEVHOST_STORAGE); every app read and write goes through tokens."""
    identity_settings = {
        "AzureWebJobsStorage__blobServiceUri": oauth_azurite.blob_url,
        "AzureWebJobsStorage__tableServiceUri": oauth_azurite.table_url,
        "AzureWebJobsStorage__clientId": CLIENT_ID,
    }
    root = make_app_root(tmp_path, "TrustIdentity")
    board = Board(tmp_path / "board")
    with running_host(root, None, azurite.connection_string, app=STATIC_TOKEN_APP, board=board,
                      **identity_settings) as host:
        answer = submit(host, "IDAPI")
        assert answer.status_code == 202, answer.text
        job = follow(host, answer.json()["statusQueryGetUri"])
        assert job["status"] == "completed", job
        report = get(host, answer.json()["reportUri"])
        assert report.status_code == 200 and report.text.startswith("# IDAPI research memo")
        health = get(host, f"{host.base_url}/api/health").json()
        assert health["checks"]["storage"] == {"ok": True}
        assert_worker_token_clients(host, board)

    stored = JobStore().get("anonymous", job["id"])
    assert stored is not None and stored.status is JobStatus.COMPLETED
    assert ArtifactStore().read(memo_blob("IDAPI", job["id"])) == report.content
    assert_token_clients(identity)
