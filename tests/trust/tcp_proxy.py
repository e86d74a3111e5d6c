"""A TCP proxy on 127.0.0.1 that a test can switch off and on, to inject storage outages.

    with TcpProxy(target_port) as proxy:      # proxy.port forwards to 127.0.0.1:target_port
        proxy.down()                          # new connections refused, open ones cut
        proxy.up()                            # back to forwarding
        fired = proxy.down_on(b"/memo.md ")   # go down the moment a request carries this

It knows nothing of HTTP: bytes are copied both ways on an asyncio loop in a daemon thread.
`down("refuse")` closes the listening socket (ECONNREFUSED); `down("reset")` keeps listening
and resets every new connection. Either way the open connections are aborted, so a client's
keep-alive pool cannot carry on past an outage. `down_on` watches the client-to-target bytes
(a pattern split across two reads is not seen; a request line or header never is) and drops
the chunk that matched, so that request never reaches the target.

Bounded: at most `max_connections` at once (more are reset), and the proxy stops itself after
`lifetime` seconds even if a test forgets to.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

Mode = Literal["refuse", "reset"]


@dataclass
class ProxyStats:
    accepted: int = 0
    refused: int = 0
    cut: int = 0
    triggered: list[bytes] = field(default_factory=list)


class TcpProxy:
    def __init__(
        self,
        target_port: int,
        target_host: str = "127.0.0.1",
        *,
        max_connections: int = 256,
        lifetime: float = 300.0,
    ) -> None:
        self.target = (target_host, target_port)
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.port = 0
        self.stats = ProxyStats()
        self._up = True
        self._mode: Mode = "refuse"
        self._triggers: list[tuple[bytes, threading.Event]] = []
        self._live: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="tcp-proxy")
        self._server: asyncio.Server | None = None
        self._stopped = threading.Event()

    # -- control, from any thread -----------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        self._loop.call_soon_threadsafe(self._loop.call_later, self.lifetime, self._expire)
        return self

    def stop(self) -> None:
        if self._thread.is_alive() and not self._stopped.is_set():
            self._stopped.set()
            try:
                self._call(self._shutdown())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive() and not self._loop.is_closed():
            self._loop.close()

    @property
    def is_up(self) -> bool:
        return self._up

    def down(self, mode: Mode = "refuse") -> None:
        """Refuse (or reset) new connections and abort the open ones."""
        self._call(self._go_down(mode))

    def up(self) -> None:
        """Forward again, on the same port."""
        self._call(self._go_up())

    def down_on(self, pattern: bytes, mode: Mode = "refuse") -> threading.Event:
        """Go down when a client sends `pattern`; the returned event is set when that happens."""
        fired = threading.Event()
        self._mode = mode
        self._loop.call_soon_threadsafe(self._triggers.append, (pattern, fired))
        return fired

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, coro: Coroutine[Any, Any, None], timeout: float = 10.0) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # -- on the loop --------------------------------------------------------------------------

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _go_down(self, mode: Mode) -> None:
        self._mode = mode
        self._take_down()

    async def _go_up(self) -> None:
        if self._server is None and not self._stopped.is_set():
            await self._listen()
        self._up = True

    async def _shutdown(self) -> None:
        self._mode = "refuse"
        self._take_down()

    def _expire(self) -> None:
        """The lifetime is over: stop serving, whatever the test does next."""
        if not self._stopped.is_set():
            self._stopped.set()
            self._mode = "refuse"
            self._take_down()
            self._loop.stop()

    def _take_down(self) -> None:
        self._up = False
        if self._mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        for pair in list(self._live):
            for end in pair:
                _abort(end)
            self.stats.cut += 1
        self._live.clear()

    def _fire(self, chunk: bytes) -> bool:
        for pattern, fired in list(self._triggers):
            if pattern in chunk:
                self._triggers.remove((pattern, fired))
                self.stats.triggered.append(pattern)
                self._take_down()
                fired.set()
                return True
        return False

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._up or len(self._live) >= self.max_connections:
            self.stats.refused += 1
            _abort(writer)
            return
        try:
            target_reader, target_writer = await asyncio.open_connection(*self.target)
        except OSError:
            self.stats.refused += 1
            _abort(writer)
            return
        if not self._up:  # went down while connecting
            _abort(writer)
            _abort(target_writer)
            return
        self.stats.accepted += 1
        pair = (writer, target_writer)
        self._live.add(pair)
        await asyncio.gather(
            self._pump(reader, target_writer, watch=True),
            self._pump(target_reader, writer, watch=False),
        )
        self._live.discard(pair)
        for end in pair:
            end.close()

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, *, watch: bool
    ) -> None:
        try:
            while chunk := await source.read(65536):
                if watch and self._triggers and self._fire(chunk):
                    return
                sink.write(chunk)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.close()  # one side finished: end the other, so the client sees the close


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a crashed or unreachable service would."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()
