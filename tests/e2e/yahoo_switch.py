"""yfinance in the host's workers, talking to the test's `FakeYahoo` through a relay.

yfinance runs in the language-worker processes, the scripted `FakeYahoo` in the test's: the
boundary stays the session factory (`shared_session(timeout)`), now switched in the worker.

- Test side, `YahooSwitch`: a relay on 127.0.0.1 that replays every request it gets on a
  session of the current fake (`use(fake)` swaps it), so the fake routes, scripts and counts
  exactly as when it was mounted in-process. Its URL goes to the workers as RELAY_SETTING;
  each `use` bumps a generation on the `Board`.
- Worker side, `install()` (the wrapper app calls it at import): both Yahoo providers get
  `switched_session`, a requests session whose transport sends each request to the relay, with
  the original URL in a header. When the generation changed since the last session, yfinance's
  process state (cookie, crumb, cookie strategy, caches) is reset first, so each test starts
  from a fresh yfinance as it did in-process.
"""

from __future__ import annotations

import os
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from tests.control import Board
from tests.standins.yahoo_transport import FakeYahoo, isolate_yfinance

RELAY_SETTING = "TEST_YAHOO_RELAY_URL"
GENERATION = "yahoo-generation"
ORIGINAL_URL = "X-Relay-Url"
RELAY_ERROR = "X-Relay-Error"
# Headers that belong to one hop (the relay's), not to the request yfinance made.
_HOP = {"host", "connection", "content-length", "keep-alive", "transfer-encoding"}


# ---- the test's side ---------------------------------------------------------------------------


class YahooSwitch:
    """The relay to the current `FakeYahoo`, and the generation the workers watch."""

    def __init__(self, board: Board) -> None:
        self.board = board
        self.fake = FakeYahoo()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _relay_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def use(self, fake: FakeYahoo) -> None:
        """Serve `fake` from now on; the workers reset yfinance before their next fetch."""
        self.fake = fake
        self.board.increment(GENERATION)

    def __enter__(self) -> YahooSwitch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _relay_handler(switch: YahooSwitch) -> type[BaseHTTPRequestHandler]:
    class Relay(BaseHTTPRequestHandler):
        def _replay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {
                name: value for name, value in self.headers.items()
                if name.lower() not in _HOP and name != ORIGINAL_URL
            }
            try:
                answer = switch.fake.session().request(
                    self.command, self.headers[ORIGINAL_URL], data=body, headers=headers
                )
            except Exception as error:  # a scripted transport failure: the worker raises it
                self.send_response(HTTPStatus.BAD_GATEWAY)
                self.send_header(RELAY_ERROR, f"{type(error).__name__}: {error}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(answer.status_code)
            self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = _replay

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Relay


# ---- the worker's side -------------------------------------------------------------------------


class _ToRelay(HTTPAdapter):
    """Sends each request to the relay, the original URL in a header; answers as from Yahoo."""

    def __init__(self, relay: str) -> None:
        super().__init__()
        self.relay = relay

    def send(
        self, request: requests.PreparedRequest, *args: Any, **kwargs: Any
    ) -> requests.Response:
        relayed = request.copy()
        relayed.prepare_url(f"{self.relay}/relay", None)
        relayed.headers[ORIGINAL_URL] = str(request.url)
        response = super().send(relayed, *args, **kwargs)
        failure = response.headers.get(RELAY_ERROR)
        if failure:
            kind, _, message = failure.partition(": ")
            error = getattr(requests.exceptions, kind, requests.exceptions.ConnectionError)
            raise error(message, request=request)
        response.url = str(request.url)
        response.request = request
        return response


_generation_lock = threading.Lock()
_seen_generation: int | None = None


def _fresh_yfinance_per_generation(board: Board) -> None:
    global _seen_generation
    with _generation_lock:
        generation = board.count(GENERATION)
        if generation != _seen_generation:
            isolate_yfinance(board.folder / f"yfinance-cache-{os.getpid()}")
            _seen_generation = generation


def switched_session(timeout: float) -> requests.Session:
    """A session on the relay (in place of the process's curl_cffi session)."""
    _fresh_yfinance_per_generation(Board.from_environment())
    session = requests.Session()
    adapter = _ToRelay(os.environ[RELAY_SETTING])
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def install() -> None:
    """Give both Yahoo providers of this process `switched_session` (for good)."""
    import shared.sources.market.yfinance_provider
    import shared.sources.news.yfinance_news

    shared.sources.market.yfinance_provider.shared_session = switched_session  # type: ignore[assignment]
    shared.sources.news.yfinance_news.shared_session = switched_session  # type: ignore[assignment]

