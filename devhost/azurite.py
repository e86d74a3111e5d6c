"""Start and stop Azurite (npm) on free loopback ports, for tests, the demo and the benchmark."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
AZURITE_BIN = REPO_ROOT / "node_modules" / ".bin" / "azurite"
EMULATOR_ACCOUNT = "devstoreaccount1"


class AzuriteError(RuntimeError):
    """Azurite could not be started (not installed, or it never answered)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def emulator_key() -> str:
    """The emulator's well-known key, read from the SDK rather than typed into our code."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string("UseDevelopmentStorage=true")
    return str(client.credential.account_key)


def connection_string(
    blob_port: int, queue_port: int, table_port: int, scheme: str = "http"
) -> str:
    base = f"{scheme}://127.0.0.1"
    return (
        f"DefaultEndpointsProtocol={scheme};AccountName={EMULATOR_ACCOUNT};"
        f"AccountKey={emulator_key()};"
        f"BlobEndpoint={base}:{blob_port}/{EMULATOR_ACCOUNT};"
        f"QueueEndpoint={base}:{queue_port}/{EMULATOR_ACCOUNT};"
        f"TableEndpoint={base}:{table_port}/{EMULATOR_ACCOUNT};"
    )


def _wait_for_port(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


@dataclass
class Azurite:
    """One Azurite process with its own ports and data folder.

    `cert` and `key` (PEM files) serve HTTPS instead of HTTP; `oauth="basic"` (HTTPS only) also
    accepts bearer tokens, checking their issuer, audience and lifetime but not the signature.
    """

    in_memory: bool = True
    data_dir: Path | None = None
    extra_args: list[str] = field(default_factory=list)
    cert: Path | None = None
    key: Path | None = None
    oauth: str | None = None
    blob_port: int = 0
    queue_port: int = 0
    table_port: int = 0
    _process: subprocess.Popen[bytes] | None = None
    _owned_dir: str | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.cert is not None else "http"

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_port, self.queue_port, self.table_port, self.scheme)

    @property
    def blob_url(self) -> str:
        """The account's Blob endpoint (what `AzureWebJobsStorage__blobServiceUri` takes)."""
        return f"{self.scheme}://127.0.0.1:{self.blob_port}/{EMULATOR_ACCOUNT}"

    @property
    def table_url(self) -> str:
        """The account's Table endpoint (what `AzureWebJobsStorage__tableServiceUri` takes)."""
        return f"{self.scheme}://127.0.0.1:{self.table_port}/{EMULATOR_ACCOUNT}"

    def _tls_args(self) -> list[str]:
        if (self.cert is None) != (self.key is None):
            raise AzuriteError("HTTPS needs both cert and key")
        if self.oauth and self.cert is None:
            raise AzuriteError("Azurite accepts OAuth only over HTTPS: give cert and key")
        args = ["--cert", str(self.cert), "--key", str(self.key)] if self.cert else []
        return args + (["--oauth", self.oauth] if self.oauth else [])

    def start(self, timeout: float = 30.0) -> Azurite:
        if not AZURITE_BIN.exists():
            raise AzuriteError(f"Azurite is not installed at {AZURITE_BIN}: run `npm ci`")
        tls = self._tls_args()
        self.blob_port = self.blob_port or free_port()
        self.queue_port = self.queue_port or free_port()
        self.table_port = self.table_port or free_port()
        if self.data_dir is None:
            self._owned_dir = tempfile.mkdtemp(prefix="azurite-")
            self.data_dir = Path(self._owned_dir)
        args = [
            str(AZURITE_BIN), "--silent", "--disableTelemetry", "--skipApiVersionCheck",
            "--blobHost", "127.0.0.1", "--blobPort", str(self.blob_port),
            "--queueHost", "127.0.0.1", "--queuePort", str(self.queue_port),
            "--tableHost", "127.0.0.1", "--tablePort", str(self.table_port),
            *(["--inMemoryPersistence"] if self.in_memory else ["--location", str(self.data_dir)]),
            *tls,
            *self.extra_args,
        ]
        log = open(self.data_dir / "azurite.log", "ab")  # noqa: SIM115 - owned by the process
        self._process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        for port in (self.blob_port, self.queue_port, self.table_port):
            if not _wait_for_port(port, deadline):
                self.stop()
                raise AzuriteError(f"Azurite did not listen on port {port} within {timeout}s")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._process = None
        if self._owned_dir:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def env_for(azurite: Azurite) -> dict[str, str]:
    """Environment that points the app (and the host's checkpoints) at this Azurite."""
    env = dict(os.environ)
    env["AzureWebJobsStorage"] = azurite.connection_string
    return env
