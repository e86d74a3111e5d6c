"""No secret value reaches a log line or a public API response.

One end-to-end run through the local host with the LLM and Firecrawl stand-ins, every logger
captured at DEBUG (a handler on the root logger, so the SDKs' request logging is included):
a job that completes, one whose model and news calls fail (401, 429, 500), and the other
routes, error answers included. The secrets: the OpenAI, Azure OpenAI and Firecrawl keys set
for the run, the storage account key, and the host's Durable system key.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import requests

from devhost.azurite import Azurite, emulator_key
from shared.llm.client import reset_llm_clients
from tests.standins.firecrawl_server import FirecrawlStandIn
from tests.standins.openai_server import OpenAIStandIn, Reply
from tests.trust.agents import agents, long_articles
from tests.trust.support import follow, make_app_root, running_host, submit


class Everything(logging.Handler):
    """Keeps every record, formatted with its traceback, from every thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format is kept raw, never dropped
            self.lines.append(f"{record.name} {record.msg!r} {record.args!r}")


@pytest.fixture
def captured() -> Iterator[Everything]:
    root = logging.getLogger()
    handler, level = Everything(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


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
    reset_llm_clients()
    try:
        with OpenAIStandIn(default=agents, api_key=openai_key) as llm, \
                FirecrawlStandIn() as firecrawl:
            settings["OPENAI_BASE_URL"] = llm.openai_base_url
            settings["FIRECRAWL_API_URL"] = firecrawl.url
            firecrawl.results(*long_articles(count=2, chars=400))
            root = make_app_root(tmp_path, "TrustSecrets")
            with running_host(root, azurite.connection_string, azurite.connection_string,
                              **settings) as host:
                system_key = host.system_key
                api = f"{host.base_url}/api"

                good = submit(host, "LEAK")
                responses.append(good)
                job = follow(good.json()["statusQueryGetUri"])
                assert job["status"] == "completed", job
                assert llm.calls == 2

                firecrawl.respond(500, {"success": False, "error": "scripted outage"})
                llm.script(Reply.status_code(401, "bad key"), Reply.status_code(429),
                           Reply.status_code(500))
                bad = submit(host, "LEAKF")
                responses.append(bad)
                failed = follow(bad.json()["statusQueryGetUri"])
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
                    responses.append(requests.request(
                        method, url, data=body, timeout=30,
                        headers={"Content-Type": "application/json"} if body else None,
                    ))
    finally:
        reset_llm_clients()

    assert system_key and len(captured.lines) > 100  # DEBUG really was captured
    assert any("Authorization" in line for line in captured.lines)  # SDK request logging ran
    named = {
        "OPENAI_API_KEY": openai_key,
        "AZURE_OPENAI_API_KEY": settings["AZURE_OPENAI_API_KEY"],
        "FIRECRAWL_API_KEY": settings["FIRECRAWL_API_KEY"],
        "storage account key": emulator_key(),
        "devhost system key": system_key,
    }
    shown = [
        f"{r.request.method} {r.url} -> {r.status_code}\n"
        + "\n".join(f"{k}: {v}" for k, v in r.headers.items())
        + "\n" + r.text
        for r in responses
    ]
    for name, secret in named.items():
        for form in variants(secret):
            leaked = [line[:300] for line in captured.lines if form in line]
            assert not leaked, f"{name} appears in {len(leaked)} log line(s): {leaked[:3]}"
            answered = [text[:300] for text in shown if form in text]
            assert not answered, f"{name} appears in API responses: {answered[:2]}"
