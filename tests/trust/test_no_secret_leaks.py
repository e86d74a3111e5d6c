"""No secret value reaches a log line or a public API response.

One end-to-end run through the local host with the LLM and Firecrawl stand-ins, every logger
captured at DEBUG (a handler on the root logger, so the SDKs' request logging is included), in
the host's process (this one) and in the language workers the app runs in (a wrapper app,
tests/trust/apps/debug_logs, installs the same handler there and writes the lines to the
test's folder): a job that completes, one whose model and news calls fail (401, 429, 500), and
the other routes, error answers included. The secrets: the OpenAI, Azure OpenAI and Firecrawl
keys set for the run, the storage account key, and the host's keys (the Durable system key,
the master key and the function key the test calls the app with).
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests

from devhost.azurite import Azurite, emulator_key
from tests.app_env import key_header
from tests.control import Board
from tests.standins.firecrawl_server import FirecrawlStandIn
from tests.standins.openai_server import OpenAIStandIn, Reply
from tests.trust.agents import agents, long_articles
from tests.trust.log_capture import Everything, capturing, lines_in
from tests.trust.support import follow, make_app_root, running_host, submit

# The real app, with every log record of its workers kept in the Board's `logs` folder.
DEBUG_LOGS_APP = "tests.trust.apps.debug_logs.function_app:app"
LOGS = "logs"


@pytest.fixture
def captured() -> Iterator[Everything]:
    """This process's records (the host's own, with its SDKs'), from before the host starts;
    the host then starts its workers at DEBUG too."""
    with capturing(Everything()) as handler:
        yield handler


def variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret)}


def test_no_secret_in_logs_or_responses(
    azurite: Azurite, tmp_path: Path, captured: Everything
) -> None:
    openai_key = f"sk-trust-{secrets.token_hex(16)}"
    settings = {
        "LLM_PROVIDER": "openai",
        "OPENAI_API_KEY": openai_key,
        "OPENAI_MODEL": f"gpt-leak-{uuid.uuid4().hex[:8]}",
        "AZURE_OPENAI_API_KEY": f"azk-trust-{secrets.token_hex(16)}",
        "FIRECRAWL_API_KEY": f"fc-trust-{secrets.token_hex(16)}",
        "NEWS_PROVIDER": "firecrawl",
        "ACTIVITY_MAX_ATTEMPTS": "3",
    }
    responses: list[requests.Response] = []
    board = Board(tmp_path / "board")
    with OpenAIStandIn(default=agents, api_key=openai_key) as llm, \
            FirecrawlStandIn() as firecrawl:
        settings["OPENAI_BASE_URL"] = llm.openai_base_url
        settings["FIRECRAWL_API_URL"] = firecrawl.url
        firecrawl.results(*long_articles(count=2, chars=400))
        root = make_app_root(tmp_path, "TrustSecrets")
        with running_host(root, azurite.connection_string, azurite.connection_string,
                          app=DEBUG_LOGS_APP, board=board, **settings) as host:
            host_keys = {
                "devhost system key": host.system_key,
                "devhost master key": host.master_key,
                "devhost function key": host.function_key,
            }
            api = f"{host.base_url}/api"

            good = submit(host, "LEAK")
            responses.append(good)
            job = follow(host, good.json()["statusQueryGetUri"])
            assert job["status"] == "completed", job
            assert llm.calls == 2

            firecrawl.respond(500, {"success": False, "error": "scripted outage"})
            llm.script(Reply.status_code(401, "bad key"), Reply.status_code(429),
                       Reply.status_code(500))
            bad = submit(host, "LEAKF")
            responses.append(bad)
            failed = follow(host, bad.json()["statusQueryGetUri"])
            assert failed["status"] == "failed" and failed["error"]["code"] == "llm_failed"

            for method, url, body in [
                ("GET", good.json()["statusQueryGetUri"], None),
                ("GET", good.json()["reportUri"], None),
                ("GET", bad.json()["statusQueryGetUri"], None),
                ("GET", bad.json()["reportUri"], None),
                ("GET", f"{api}/analyses?ticker=LEAK", None),
                ("GET", f"{api}/analyses?ticker=LEAK&cursor=!!", None),
                ("GET", f"{api}/analyses/{'0' * 32}", None),
                ("GET", f"{api}/health", None),
                ("POST", f"{api}/analyses", b"{not json"),
                ("POST", f"{api}/analyses", b'{"ticker": "A B"}'),
            ]:
                headers = key_header(host)
                if body:
                    headers["Content-Type"] = "application/json"
                responses.append(
                    requests.request(method, url, data=body, headers=headers, timeout=30)
                )

    app_lines = lines_in(board.folder / LOGS)  # complete: the workers have stopped
    # DEBUG really was captured, here and where the app runs
    assert all(host_keys.values()) and len(captured.lines) > 100 and len(app_lines) > 100
    # the app's SDK request logging ran
    assert any("Authorization" in line for line in app_lines)
    named = {
        "OPENAI_API_KEY": openai_key,
        "AZURE_OPENAI_API_KEY": settings["AZURE_OPENAI_API_KEY"],
        "FIRECRAWL_API_KEY": settings["FIRECRAWL_API_KEY"],
        "storage account key": emulator_key(),
        **host_keys,
    }
    shown = [
        f"{r.request.method} {r.url} -> {r.status_code}\n"
        + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        + "\n" + r.text
        for r in responses
    ]
    for name, secret in named.items():
        for form in variants(secret):
            leaked = [line[:300] for line in captured.lines + app_lines if form in line]
            assert not leaked, f"{name} appears in {len(leaked)} log line(s): {leaked[:3]}"
            answered = [text[:300] for text in shown if form in text]
            assert not answered, f"{name} appears in API responses: {answered[:2]}"
