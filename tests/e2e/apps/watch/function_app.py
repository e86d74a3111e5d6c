"""The gated app (tests/e2e/apps/gated: the real app with write_memo and persist_report behind
gates a test opens) with the watchlist routes, orchestration and activities, and a resolver the
test decides: WATCH_TEST_RESOLVE is JSON {host: [addresses]}, and the JSON file named by
WATCH_TEST_RESOLVE_FILE, read at every lookup, overrides it (a name re-pointed while the app
runs); an address literal resolves to itself, `localhost` to 127.0.0.1, anything else does not
resolve. No real lookup is made.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

from activities import watchlist as watchlist_activities
from api import watchlists
from orchestrators import watchlist as watchlist_orchestration
from shared.notify.resolving import use_resolver
from tests.e2e.apps.gated.function_app import app

RESOLVE_SETTING = "WATCH_TEST_RESOLVE"
RESOLVE_FILE_SETTING = "WATCH_TEST_RESOLVE_FILE"

for blueprint in (watchlists.bp, watchlist_orchestration.bp, watchlist_activities.bp):
    app.register_functions(blueprint)


def resolve(host: str, port: int) -> list[str]:
    table: dict[str, list[str]] = json.loads(os.environ.get(RESOLVE_SETTING) or "{}")
    changing = Path(os.environ.get(RESOLVE_FILE_SETTING) or "")
    if changing.name and changing.is_file():
        table |= json.loads(changing.read_text())
    if host in table:
        return table[host]
    if host == "localhost":
        return ["127.0.0.1"]
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        raise socket.gaierror(socket.EAI_NONAME, "not known") from None


use_resolver(resolve)

__all__ = ["app"]
