"""Record the history of one completed analysis, for the replay test.

`python -m tests.orchestrators.record_history` runs one ticker through the real app on the local
host and Azurite, and writes the instance's checkpoint document to `recorded/`. Re-record only
when a change to the orchestrator is meant to ship under a new orchestrator version, or when
the history the host writes changes form.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from devhost.azurite import Azurite
from devhost.host import DevHost
from devhost.store import container_name
from tests.app_env import APP, OFFLINE_SETTINGS, ROOT, keyed
from tests.devhost.helpers import wait_until

RECORDED = Path(__file__).parent / "recorded" / "completed_analysis.json"
SETTINGS = {
    "MARKET_DATA_PROVIDER": "simulated",
    "NEWS_PROVIDER": "none",
    "LLM_PROVIDER": "offline",
    "RETENTION_CRON": OFFLINE_SETTINGS["RETENTION_CRON"],
}
TERMINAL = ("Completed", "Failed", "Terminated")


def main() -> int:
    with Azurite() as azurite, tempfile.TemporaryDirectory() as root:
        (Path(root) / "host.json").write_text((ROOT / "host.json").read_text())
        os.environ.update(SETTINGS, AzureWebJobsStorage=azurite.connection_string)
        with DevHost(APP, root=root, port=0) as host:
            http = keyed(host)
            accepted = http.post(
                f"{host.base_url}/api/analyses", json={"ticker": "MSFT"}, timeout=10
            ).json()
            blobs = BlobServiceClient.from_connection_string(azurite.connection_string)
            blob = blobs.get_blob_client(container_name(host.hub_name), f"{accepted['id']}.json")

            def finished() -> dict[str, Any] | None:
                """The checkpoint document once the instance's last checkpoint is written."""
                try:
                    document: dict[str, Any] = json.loads(blob.download_blob().readall())
                except ResourceNotFoundError:
                    return None
                return document if document["runtimeStatus"] in TERMINAL else None

            document = wait_until(finished, timeout=60, what="the analysis to finish")
            job = http.get(accepted["statusQueryGetUri"], timeout=10).json()
    RECORDED.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"recorded {job['status']} instance {accepted['id']} to {RECORDED}")
    return 0 if job["status"] == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
