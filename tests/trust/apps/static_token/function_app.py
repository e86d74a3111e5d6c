"""The real function app on identity-based storage with a static Entra-shaped token.

In the worker, `shared.store.clients` builds its credential with `RecordedCredential` instead of
DefaultAzureCredential; every credential built (and the client id it was built for) and every
token request (and its scopes) is recorded on the test's Board. One more route,
`GET /api/trust/storage-clients`, reports what the worker's Blob and Table clients hold.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func
from azure.core.credentials import AccessToken

from shared.store import clients as storage
from tests.control import Board
from tests.real_app import real_app
from tests.trust.oauth import StaticTokenCredential, storage_client_facts

CREDENTIALS = "credentials"
SCOPES = "scopes"


class RecordedCredential(StaticTokenCredential):
    def __init__(self, client_id: str | None = None) -> None:
        super().__init__(client_id)
        Board.from_environment().record(CREDENTIALS, {"client_id": client_id})

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        Board.from_environment().record(SCOPES, list(scopes))
        return super().get_token(*scopes, **kwargs)


storage.set_credential_factory(RecordedCredential)
app = real_app()


@app.route(route="trust/storage-clients", methods=["GET"])
def trust_storage_clients(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(storage_client_facts()), mimetype="application/json")
