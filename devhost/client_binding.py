"""The durable client binding: the JSON text the host hands to `@app.durable_client_input`
parameters (`taskHubName`, `creationUrls`, `managementUrls` with `id: "INSTANCEID"`,
`rpcBaseUrl` and the rest).

`rpcBaseUrl` is `{host}/durabletask/`, the analogue of the extension's local RPC listener: the
SDK's client in the worker calls it over HTTP (start, status, terminate, purge, raise event), as
it does on Azure, and the host serves it to loopback callers without a key.
"""

from __future__ import annotations

import json

from devhost.management import ManagementUrls


def binding_json(urls: ManagementUrls, rpc_base: str) -> str:
    """The client binding a durable client function receives, for one host."""
    creation = f"{urls.webhook_base}/orchestrators/{{functionName}}[/{{instanceId}}]"
    management = urls.payload("INSTANCEID")
    return json.dumps(
        {
            "taskHubName": urls.hub,
            "creationUrls": {
                "createNewInstancePostUri": f"{creation}?code={urls.system_key}",
                "createAndWaitOnNewInstancePostUri": (
                    f"{creation}?timeout={{timeoutInSeconds}}"
                    f"&pollingInterval={{intervalInSeconds}}&code={urls.system_key}"
                ),
            },
            "managementUrls": management,
            "baseUrl": urls.webhook_base,
            "requiredQueryStringParameters": f"code={urls.system_key}",
            "rpcBaseUrl": rpc_base,
            "httpBaseUrl": "",
            "maxGrpcMessageSizeInBytes": 0,
            "grpcHttpClientTimeout": "00:01:40",
        }
    )
