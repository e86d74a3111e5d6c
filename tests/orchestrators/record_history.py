"""Record the history of one completed analysis, for the replay test.

`python -m tests.orchestrators.record_history` runs one ticker through the real app on the local
host and Azurite, and writes the instance's checkpoint document to `recorded/`. Re-record only
when a change to the orchestrator is meant to ship under a new orchestrator version.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import requests
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.store import container_name

ROOT = Path(__file__).resolve().parents[2]
RECORDED = Path(__file__).parent / "recorded" / "completed_analysis.json"
SETTINGS = {"MARKET_DATA_PROVIDER": "simulated", "NEWS_PROVIDER": "none", "LLM_PROVIDER": "offline"}


def main() -> int:
    import os

    import function_app

    with Azurite() as azurite, tempfile.TemporaryDirectory() as root:
        (Path(root) / "host.json").write_text((ROOT / "host.json").read_text())
        os.environ.update(SETTINGS, AzureWebJobsStorage=azurite.connection_string)
        with DevHost(function_app.app, root=root, port=0) as host:
            accepted = requests.post(f"{host.base_url}/api/analyses", json={"ticker": "MSFT"},
                                     timeout=10).json()
            for _ in range(600):
                job = requests.get(accepted["statusQueryGetUri"], timeout=10).json()
                if job["status"] != "queued" and job["status"] != "running":
                    break
                time.sleep(0.05)
            time.sleep(0.5)  # the final checkpoint follows the last activity
            blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
            blob = blobs.get_blob_client(container_name(host.hub_name), f"{accepted['id']}.json")
            document = json.loads(blob.download_blob().readall())
    RECORDED.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"recorded {job['status']} instance {accepted['id']} to {RECORDED}")
    return 0 if job["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
