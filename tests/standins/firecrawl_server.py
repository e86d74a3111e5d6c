"""A Firecrawl API stand-in on 127.0.0.1 for the real firecrawl-py client.

It serves `POST /v2/search` (what `Firecrawl.search` calls) with whatever the test scripted:
results, a status code, a delay. Every request is recorded (path, headers, JSON body).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def document(
    url: str,
    title: str,
    markdown: str,
    published: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """One search result scraped to markdown, in the shape Firecrawl's API returns it."""
    metadata: dict[str, Any] = {
        "title": title, "url": url, "sourceURL": url, "statusCode": 200,
        "contentType": "text/html; charset=utf-8",
    }
    if published:
        metadata["publishedTime"] = published
    if description:
        metadata["description"] = description
    return {"url": url, "title": title, "description": description or "", "position": 1,
            "markdown": markdown, "metadata": metadata}


def search_body(web: list[dict[str, Any]]) -> dict[str, Any]:
    return {"success": True, "data": {"web": web}, "creditsUsed": len(web)}


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: search_body([]))
    delay: float = 0.0


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: Any


class FirecrawlStandIn:
    """Start with `with FirecrawlStandIn() as server:`; `server.url` is the api_url to use."""

    def __init__(self) -> None:
        self.reply = Reply()
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def respond(self, status: int = 200, body: Any = None, delay: float = 0.0) -> None:
        """Answer every following request with `status` and `body` after `delay` seconds."""
        self.reply = Reply(status, search_body([]) if body is None else body, delay)

    def results(self, *web: dict[str, Any]) -> None:
        self.respond(200, search_body(list(web)))

    def record(self, seen: Seen) -> Reply:
        with self._lock:
            self.requests.append(seen)
            return self.reply

    def __enter__(self) -> FirecrawlStandIn:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(standin: FirecrawlStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"null")
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            reply = standin.record(Seen(self.path, dict(self.headers.items()), body))
            if self.path.split("?", 1)[0] != "/v2/search":
                reply = Reply(404, {"success": False, "error": f"no route {self.path}"})
            if reply.delay:
                time.sleep(reply.delay)
            payload = (
                json.dumps(reply.body) if not isinstance(reply.body, str) else reply.body
            ).encode("utf-8")
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
