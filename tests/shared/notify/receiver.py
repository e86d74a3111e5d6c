"""A webhook receiver on 127.0.0.1, as a customer would write one: it verifies each delivery's
signature over the raw body it received and answers what the test scripted.

Also `silent_listener`: a bare listening socket that records whether anything connected, for
tests that must show a delivery was refused before a socket opened.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from shared.notify.signing import verify


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


class Receiver:
    """`with Receiver(secret) as receiver:`; `receiver.url(path)` is a plain-http loopback URL.

    Answers each request with the next of `statuses` (the last one repeats); a 3xx carries
    `Location: <url>/redirected`. With `tls`, it serves HTTPS with that context and records the
    SNI name each handshake carried in `server_names`."""

    def __init__(
        self, secret: str, statuses: tuple[int, ...] = (204,), tls: ssl.SSLContext | None = None
    ) -> None:
        self.secret = secret
        self.statuses = list(statuses)
        self.deliveries: list[Delivery] = []
        self.server_names: list[str | None] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._server.block_on_close = False
        if tls is not None:
            tls.sni_callback = self._sni
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_status(self) -> int:
        with self._lock:
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def record(self, delivery: Delivery) -> None:
        with self._lock:
            self.deliveries.append(delivery)

    def _sni(self, sock: ssl.SSLObject, name: str | None, context: ssl.SSLContext) -> None:
        with self._lock:
            self.server_names.append(name)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = self.headers.get("X-Stockmemo-Signature-256")
            receiver.record(
                Delivery(
                    self.path,
                    {k: v for k, v in self.headers.items()},
                    body,
                    verify(receiver.secret, body, signature),
                )
            )
            status = receiver.next_status()
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", receiver.url("/redirected"))
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@contextmanager
def silent_listener() -> Iterator[tuple[int, list[socket.socket]]]:
    """(port, accepted): a loopback socket that accepts connections and never answers; what
    connected is in `accepted` (closed on exit)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.05)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], accepted
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        for conn in accepted:
            conn.close()
