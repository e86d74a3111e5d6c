"""An OpenAI-compatible stand-in on 127.0.0.1, for the real `openai` client in tests.

Serves `POST /v1/chat/completions` (OpenAI: `Authorization: Bearer <key>`) and
`POST /openai/deployments/{deployment}/chat/completions?api-version=...` (Azure OpenAI:
`api-key: <key>`). A request with the wrong credentials gets 401.

Each test scripts it: `script(...)` queues replies, served in order (JSON content for the
structured output, an error status, a delay longer than the client's timeout, a refusal); when
the queue is empty, the `default` responder answers (by default: 500, so an unscripted call
fails loudly). `grounded_portfolio` is a responder that answers the Portfolio Strategist's prompt
(recognised by its response schema, `PortfolioSummaryDraft`) with a grounded draft built by
`portfolio_draft`. Every request is logged with its path, headers and body, and the counters say
how many calls were answered and how many prompt and completion tokens the stand-in reported
(four characters a token: a stand-in, not a tokenizer).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import BaseModel

from shared.settings import Settings

API_KEY = "sk-standin-not-a-secret"


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    content: str | None = None
    refusal: str | None = None
    finish_reason: str = "stop"
    delay: float = 0.0
    error: str = ""

    @classmethod
    def json(cls, output: BaseModel | dict[str, Any], *, delay: float = 0.0) -> Reply:
        """A structured output: the model's message content is this JSON."""
        data = output.model_dump(mode="json") if isinstance(output, BaseModel) else output
        return cls(content=json.dumps(data), delay=delay)

    @classmethod
    def text(cls, content: str) -> Reply:
        """Raw message content, e.g. malformed JSON."""
        return cls(content=content)

    @classmethod
    def status_code(cls, status: int, error: str = "scripted error") -> Reply:
        return cls(status=status, error=error)


@dataclass
class Received:
    """One request as the stand-in saw it."""

    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any]
    # What the stand-in answered: the status, and the tokens it reported (0 unless 200).
    status: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages", []))

    def content(self, role: str) -> list[str]:
        return [str(m.get("content")) for m in self.messages if m.get("role") == role]

    @property
    def system(self) -> str:
        return self.content("system")[0]

    @property
    def user(self) -> list[str]:
        return self.content("user")

    @property
    def schema(self) -> str:
        """The name of the structured output the request asks for (the draft model's name)."""
        response_format = self.body.get("response_format") or {}
        return str((response_format.get("json_schema") or {}).get("name") or "")


Responder = Callable[[Received], Reply]


def unscripted(request: Received) -> Reply:
    return Reply.status_code(500, "no reply scripted for this request")


PORTFOLIO_SCHEMA = "PortfolioSummaryDraft"


def portfolio_draft(user: str) -> dict[str, Any]:
    """A grounded Portfolio Strategist draft from the prompt's own JSON lines: the leader's
    row, the first correlation and the portfolio figures that have a value, each cited, with
    every number copied as shown."""
    rows = [json.loads(line) for line in user.splitlines() if line.startswith("{")]
    members = [r for r in rows if "rank" in r]
    leader = next((r["id"] for r in members if r.get("rank") == 1), None)
    pairs = [r for r in rows if r.get("id") == "correlation" and r.get("value") is not None]
    figures = [
        (str(r["id"]), str(r["value"]))
        for r in rows
        if str(r.get("id", "")).startswith(("portfolio_", "diversification_"))
        and r.get("value") is not None
    ]
    sentences, cited = [], []
    if leader is not None:
        sentences.append(f"{leader} leads the ranking [{leader}].")
        cited.append(leader)
    if pairs:
        first, second = pairs[0]["pair"]
        sentences.append(f"{first} and {second} correlate at {pairs[0]['value']} [correlation].")
        cited.append("correlation")
    if figures:
        shown = " and ".join(f"{value} [{figure}]" for figure, value in figures[:3])
        sentences.append(f"The equal-weighted portfolio shows {shown}.")
        cited += [figure for figure, _ in figures[:3]]
    failed = [r["id"] for r in members if r.get("rank") is None]
    warnings = [f"{ticker} did not complete [{ticker}]." for ticker in failed]
    cited += [t for t in failed if t not in cited]
    return {
        "text": " ".join(sentences) or "Nothing in this batch can be compared.",
        "warnings": warnings,
        "cited_ids": cited,
    }


def grounded_portfolio(request: Received) -> Reply:
    """A `default` responder: a grounded draft for the Portfolio Strategist, 500 otherwise."""
    if request.schema == PORTFOLIO_SCHEMA:
        return Reply.json(portfolio_draft(request.user[0]))
    return unscripted(request)


@dataclass
class OpenAIStandIn:
    """The server; use as a context manager (or `start()` / `stop()`)."""

    default: Responder = unscripted
    api_key: str = API_KEY
    model: str = "standin-model"
    requests: list[Received] = field(default_factory=list)
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    _queue: deque[Reply] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the stand-in is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._queue.extend(replies)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def start(self) -> OpenAIStandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                standin._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return  # keep pytest output clean

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # cut scripted delays short
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> OpenAIStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- serving ---------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            body = {}
        request = Received(
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self._lock:
            self.requests.append(request)
        status, payload = self._answer(request)
        request.status = status
        data = json.dumps(payload).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        try:
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def _authorized(self, request: Received) -> bool:
        if request.path == "/v1/chat/completions":
            return request.headers.get("authorization") == f"Bearer {self.api_key}"
        if request.path.startswith("/openai/deployments/") and request.path.endswith(
            "/chat/completions"
        ):
            return request.headers.get("api-key") == self.api_key and bool(
                request.query.get("api-version")
            )
        return False

    def _answer(self, request: Received) -> tuple[int, dict[str, Any]]:
        known = request.path == "/v1/chat/completions" or (
            request.path.startswith("/openai/deployments/")
            and request.path.endswith("/chat/completions")
        )
        if not known:
            return 404, _error("not found")
        if not self._authorized(request):
            return 401, _error("bad credentials")
        with self._lock:
            reply = self._queue.popleft() if self._queue else None
        if reply is None:
            reply = self.default(request)
        if reply.delay:
            self._stopping.wait(reply.delay)
        if reply.status != 200:
            return reply.status, _error(reply.error)
        prompt = sum(len(str(m.get("content", ""))) for m in request.messages) // 4 + 1
        completion = len(reply.content or reply.refusal or "") // 4 + 1
        request.prompt_tokens, request.completion_tokens = prompt, completion
        with self._lock:
            self.calls += 1
            self.prompt_tokens += prompt
            self.completion_tokens += completion
            number = self.calls
        return 200, {
            "id": f"chatcmpl-standin-{number}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": str(request.body.get("model") or self.model),
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": reply.content,
                        "refusal": reply.refusal,
                    },
                    "finish_reason": reply.finish_reason,
                    "logprobs": None,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            },
        }


def _error(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "standin_error", "code": None}}


@contextmanager
def openai_standin(default: Responder = unscripted) -> Iterator[OpenAIStandIn]:
    """A running stand-in, stopped on exit."""
    with OpenAIStandIn(default=default) as server:
        yield server


def standin_settings(
    server: OpenAIStandIn, provider: str = "openai", **overrides: Any
) -> Settings:
    """App settings that point the LLM layer at `server` (every LLM setting given explicitly,
    so nothing from the environment leaks in); `overrides` use the environment names."""
    values: dict[str, Any] = {
        "LLM_PROVIDER": provider,
        "OPENAI_API_KEY": server.api_key if provider == "openai" else None,
        "OPENAI_BASE_URL": server.openai_base_url,
        "OPENAI_MODEL": "gpt-standin",
        "AZURE_OPENAI_ENDPOINT": server.url,
        "AZURE_OPENAI_DEPLOYMENT": "memo-deployment",
        "AZURE_OPENAI_API_KEY": server.api_key if provider == "azure_openai" else None,
        "OPENAI_API_VERSION": "2024-10-21",
        "LLM_TIMEOUT_SECONDS": 10,
        "LLM_MAX_TOKENS": 800,
        "LLM_TEMPERATURE": 0.0,
        **overrides,
    }
    return Settings(**values)
