"""Microsoft's own Durable samples for the v2 programming model run unmodified under devhost:
function_chaining, fan_in_fan_out and blueprint from the azure-functions-durable source
distribution (its `samples-v2/` folder), at the SDK version installed here.

The source distribution comes from PyPI (the package registry) once, into build/; the sample
folders are copied as they are, with nothing added but the storage setting in the environment.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from devhost.azurite import Azurite
from devhost.host import DevHost
from tests.devhost.helpers import Api

REPO = Path(__file__).resolve().parents[2]
DISTRIBUTION = "azure-functions-durable"
SAMPLES = ("function_chaining", "fan_in_fan_out", "blueprint")


def _samples_folder() -> Path:
    version = importlib.metadata.version(DISTRIBUTION)
    target = REPO / "build" / f"samples-v2-{version}"
    if target.is_dir():
        return target
    with tempfile.TemporaryDirectory() as download:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"{DISTRIBUTION}=={version}", "-d", download],
            check=True, timeout=300,
        )
        (archive,) = Path(download).glob("*.tar.gz")
        unpacked = Path(download) / "unpacked"
        with tarfile.open(archive) as tar:
            tar.extractall(unpacked, filter="data")
        (source,) = unpacked.glob("*/samples-v2")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=target.parent))
        for name in SAMPLES:
            shutil.copytree(source / name, staging / name)
        staging.rename(target)
    return target


@pytest.fixture(scope="module")
def samples() -> Path:
    return _samples_folder()


@pytest.fixture
def sample_host(
    samples: Path, tmp_path: Path, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[object]:
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)

    def host(name: str, attribute: str) -> DevHost:
        root = tmp_path / name
        shutil.copytree(samples / name, root)
        return DevHost(f"function_app:{attribute}", root=root, port=0, hub_name=f"Sample{name}")

    yield host


def test_function_chaining(sample_host) -> None:  # type: ignore[no-untyped-def]
    with sample_host("function_chaining", "myApp") as host:
        started = requests.post(f"{host.base_url}/api/orchestrators/my_orchestrator", timeout=30)
        assert started.status_code == 202, started.text
        done = Api(host.base_url).wait_done(started.json(), timeout=60)
    assert done["runtimeStatus"] == "Completed", done["output"]
    assert done["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]


def test_fan_in_fan_out_backs_up_files_to_blob_storage(
    sample_host, tmp_path: Path, azurite: Azurite  # type: ignore[no-untyped-def]
) -> None:
    site = tmp_path / "site"
    sizes = 0
    for folder, body in (("E2_One", "a" * 10), ("E2_Two", "b" * 25)):
        (site / folder).mkdir(parents=True)
        for file_name in ("__init__.py", "function.json"):
            (site / folder / file_name).write_text(body)
            sizes += len(body)
    (site / "ignored").mkdir()
    (site / "ignored" / "__init__.py").write_text("not copied")
    with sample_host("fan_in_fan_out", "myApp") as host:
        started = requests.post(
            f"{host.base_url}/api/orchestrators/E2_BackupSiteContent", json=str(site), timeout=30
        )
        assert started.status_code == 202, started.text
        done = Api(host.base_url).wait_done(started.json(), timeout=60)
    assert done["runtimeStatus"] == "Completed", done["output"]
    assert done["output"] == sizes
    from azure.storage.blob import BlobServiceClient

    backups = BlobServiceClient.from_connection_string(azurite.connection_string)
    names = {b.name for b in backups.get_container_client("backups").list_blobs()}
    assert {"E2_One___init__.py", "E2_Two_function.json"} <= names


def test_blueprint_with_a_function_level_route(sample_host) -> None:  # type: ignore[no-untyped-def]
    with sample_host("blueprint", "app") as host:
        key = {"x-functions-key": host.function_key}
        hello = requests.get(f"{host.base_url}/api/HttpTrigger", params={"name": "Ada"},
                             headers=key, timeout=30)
        assert hello.text.startswith("Hello, Ada.")
        assert requests.get(f"{host.base_url}/api/HttpTrigger", timeout=30).status_code == 401
        started = requests.get(f"{host.base_url}/api/startOrchestrator", headers=key, timeout=30)
        assert started.status_code == 202, started.text
        done = Api(host.base_url).wait_done(started.json(), timeout=60)
    assert done["output"] == ["Hello Tokyo!", "Hello Seattle!", "Hello London!"]
    assert os.environ.get("AzureWebJobsStorage")
