"""One signed webhook delivery, to an address that was checked, over a connection pinned to it.

Why `http.client` and not `requests`: the whole point is to control which address the socket
opens to, and `http.client` lets one method (`connect`) do that while everything above it (the
request line, `Host`, `Content-Length`) stays the standard library's. It never follows
redirects, keeps no pool, and ignores `HTTPS_PROXY`/`NO_PROXY` (a proxy would make the address
check meaningless). `requests` would need a transport adapter over urllib3's pool internals
(`server_hostname`, `assert_hostname`, redirects and proxies turned off), more moving parts for
the same result.

A delivery: check the URL (`addresses.check_webhook_url`, resolving the host afresh, so a name
that has since been pointed at a private address, DNS rebinding, is refused before any socket
opens), open a TCP socket to one of the checked addresses (not to the name: no second lookup),
check the peer the socket actually reached (`getpeername`), then for `https` wrap TLS with
`server_hostname` = the URL's host (SNI and certificate verification against the name, not the
address), and send the POST with the URL's `Host`. A 2xx is delivered; anything else, a 3xx
included, is a failure with its status. Nothing here raises for a receiver's failure; the
outcome says what happened and whether trying again could help.
"""

from __future__ import annotations

import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from shared.errors import InvalidWebhookUrl
from shared.notify.addresses import (
    CheckedUrl,
    Resolver,
    UnresolvableWebhookHost,
    check_webhook_url,
    peer_refusal,
)
from shared.notify.signing import SIGNATURE_HEADER, sign

DELIVERY_HEADER = "X-Stockmemo-Delivery"
USER_AGENT = "stockmemo-webhook/1"
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
RETRYABLE_STATUSES = frozenset({408, 425, 429})


class Failure(StrEnum):
    """Why a delivery attempt did not deliver."""

    REFUSED = "refused"  # the URL or an address it resolves to is not allowed: never contacted
    UNRESOLVABLE = "unresolvable"  # the host did not resolve (this time)
    CONNECT = "connect_failed"  # no TCP connection (refused, unreachable)
    TLS = "tls_failed"  # the handshake or the certificate check failed
    TIMEOUT = "timeout"  # the receiver took longer than the timeout
    REDIRECT = "redirect"  # a 3xx: redirects are not followed
    STATUS = "http_status"  # any other non-2xx answer
    PROTOCOL = "protocol_error"  # the answer was not HTTP, or the connection broke mid-way


RETRYABLE_FAILURES = frozenset(
    {Failure.UNRESOLVABLE, Failure.CONNECT, Failure.TIMEOUT, Failure.PROTOCOL}
)


class DeliveryOutcome(BaseModel):
    """What one attempt came to: small and JSON-ready, to be recorded on the run."""

    model_config = ConfigDict(frozen=True)

    delivery_id: str
    delivered: bool
    status: int | None = None  # the receiver's HTTP status, when it answered
    failure: Failure | None = None
    error: str | None = None  # a short human explanation of `failure`
    retryable: bool = False  # whether trying again later could deliver
    address: str | None = None  # the address the connection reached
    started_at: datetime
    duration_ms: int


class DeliveryReport(BaseModel):
    """Every attempt of a delivery, in order; `stopped` when `proceed` said to give up."""

    model_config = ConfigDict(frozen=True)

    delivered: bool
    attempts: list[DeliveryOutcome]
    stopped: bool = False


class RefusedPeer(ConnectionError):
    """The connection reached an address that may not receive this delivery; it was closed
    before anything was sent."""


PeerCheck = Callable[[str], str | None]
"""The address a socket reached -> why it may not be used, or None."""


class PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection for `checked.host` (the `Host` header) whose socket opens only to the
    checked addresses, in order, never to the name, and is closed before a byte is sent when
    `peer_check` refuses the address it actually reached."""

    def __init__(self, checked: CheckedUrl, *, timeout: float, peer_check: PeerCheck) -> None:
        super().__init__(checked.host, checked.port, timeout=timeout)
        self.checked = checked
        self.peer_check = peer_check
        self.peer: str | None = None  # the address the socket reached
        self.expired = False  # set by the deadline in `deliver`

    def connect(self) -> None:
        self.sock = self._pinned_socket()

    def _pinned_socket(self) -> socket.socket:
        last: OSError | None = None
        for address in self.checked.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
            except OSError as exc:
                last = exc
                continue
            try:
                if self.expired:
                    raise TimeoutError("the deadline passed while connecting")
                peer = str(sock.getpeername()[0])
                reason = self.peer_check(peer)
                if reason is not None:
                    raise RefusedPeer(f"the connection reached {reason}")
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except BaseException:
                sock.close()
                raise
            self.peer = peer
            return sock
        raise last or OSError("no address to connect to")


class PinnedHTTPSConnection(PinnedHTTPConnection):
    """The same over TLS: the socket goes to a checked address, the handshake names the URL's
    host (SNI), and the certificate is verified against that host, not the address."""

    default_port = http.client.HTTPS_PORT

    def __init__(
        self,
        checked: CheckedUrl,
        *,
        timeout: float,
        peer_check: PeerCheck,
        context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(checked, timeout=timeout, peer_check=peer_check)
        self.context = context or ssl.create_default_context()

    def connect(self) -> None:
        sock = self._pinned_socket()
        try:
            self.sock = self.context.wrap_socket(sock, server_hostname=self.checked.host)
        except BaseException:
            sock.close()
            raise


def pinned_connection(
    checked: CheckedUrl,
    *,
    timeout: float,
    allow_loopback_http: bool,
    tls_context: ssl.SSLContext | None = None,
) -> PinnedHTTPConnection:
    """The connection `deliver` uses for a checked URL: TLS for `https`, and the peer held to
    `peer_refusal`, the same address rule the URL was checked with."""

    def peer_check(peer: str) -> str | None:
        return peer_refusal(peer, checked, allow_loopback_http=allow_loopback_http)

    if checked.scheme == "https":
        return PinnedHTTPSConnection(
            checked, timeout=timeout, peer_check=peer_check, context=tls_context
        )
    return PinnedHTTPConnection(checked, timeout=timeout, peer_check=peer_check)


def deliver(
    url: str,
    body: bytes,
    secret: str,
    delivery_id: str,
    *,
    resolve: Resolver,
    allow_loopback_http: bool,
    timeout: float,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryOutcome:
    """POST `body` to `url`, signed with `secret`, once; never raises for the receiver's failure
    (a bad `delivery_id` or `secret` is the caller's bug and raises ValueError).

    `timeout` bounds the whole attempt (connect, TLS, send, the answer's status and headers).
    The receiver's answer body is not read."""
    if not DELIVERY_ID.match(delivery_id):
        raise ValueError("a delivery id is 1-128 characters of letters, digits and ._:-")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        DELIVERY_HEADER: delivery_id,
        SIGNATURE_HEADER: sign(secret, body),
        "Connection": "close",
    }
    started, clock = datetime.now(UTC), time.monotonic()

    def outcome(
        *,
        status: int | None = None,
        failure: Failure | None = None,
        error: str | None = None,
        address: str | None = None,
    ) -> DeliveryOutcome:
        delivered = failure is None
        retryable = failure in RETRYABLE_FAILURES or (
            failure is Failure.STATUS
            and status is not None
            and (status >= 500 or status in RETRYABLE_STATUSES)
        )
        return DeliveryOutcome(
            delivery_id=delivery_id,
            delivered=delivered,
            status=status,
            failure=failure,
            error=error,
            retryable=retryable,
            address=address,
            started_at=started,
            duration_ms=round((time.monotonic() - clock) * 1000),
        )

    try:
        checked = check_webhook_url(url, resolve=resolve, allow_loopback_http=allow_loopback_http)
    except UnresolvableWebhookHost as exc:
        return outcome(failure=Failure.UNRESOLVABLE, error=exc.message)
    except InvalidWebhookUrl as exc:
        return outcome(failure=Failure.REFUSED, error=exc.message)

    conn = pinned_connection(
        checked, timeout=timeout, allow_loopback_http=allow_loopback_http, tls_context=tls_context
    )
    try:
        with _deadline(conn, timeout):
            conn.request("POST", checked.target, body=body, headers=headers)
            response = conn.getresponse()
            status = response.status
            if conn.expired:  # the deadline cut the answer short: what was read is not it
                raise TimeoutError("the deadline passed while reading the answer")
    except RefusedPeer as exc:
        return outcome(failure=Failure.REFUSED, error=str(exc), address=conn.peer)
    except TimeoutError:
        return outcome(failure=Failure.TIMEOUT, error="the receiver timed out", address=conn.peer)
    except ssl.SSLError as exc:
        return outcome(failure=Failure.TLS, error=_said(exc), address=conn.peer)
    except (http.client.HTTPException, OSError) as exc:
        if conn.peer is None:  # no socket ever reached a receiver
            return outcome(failure=Failure.CONNECT, error=_said(exc))
        if conn.expired:
            return outcome(
                failure=Failure.TIMEOUT, error="the receiver timed out", address=conn.peer
            )
        return outcome(failure=Failure.PROTOCOL, error=_said(exc), address=conn.peer)
    finally:
        conn.close()
    if 200 <= status < 300:
        return outcome(status=status, address=conn.peer)
    if 300 <= status < 400:
        return outcome(
            status=status,
            failure=Failure.REDIRECT,
            error=f"the receiver answered {status}; redirects are not followed",
            address=conn.peer,
        )
    return outcome(
        status=status,
        failure=Failure.STATUS,
        error=f"the receiver answered {status}",
        address=conn.peer,
    )


def deliver_with_retries(
    url: str,
    body: bytes,
    secret: str,
    delivery_id: str,
    *,
    resolve: Resolver,
    allow_loopback_http: bool,
    timeout: float,
    attempts: int,
    backoff: float,
    proceed: Callable[[], bool] = lambda: True,
    sleep: Callable[[float], None] = time.sleep,
    tls_context: ssl.SSLContext | None = None,
) -> DeliveryReport:
    """Up to `attempts` deliveries with the same body, signature and delivery id, waiting
    `backoff`, then twice that, and so on, between them; stops at the first delivered or not
    retryable outcome. `proceed` is asked before every attempt (e.g. "is the watchlist still
    there?"), so nothing starts once it says no."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    outcomes: list[DeliveryOutcome] = []
    for attempt in range(attempts):
        if attempt:
            sleep(backoff * 2 ** (attempt - 1))
        if not proceed():
            return DeliveryReport(delivered=False, attempts=outcomes, stopped=True)
        result = deliver(
            url,
            body,
            secret,
            delivery_id,
            resolve=resolve,
            allow_loopback_http=allow_loopback_http,
            timeout=timeout,
            tls_context=tls_context,
        )
        outcomes.append(result)
        if result.delivered or not result.retryable:
            break
    return DeliveryReport(delivered=outcomes[-1].delivered, attempts=outcomes)


@contextmanager
def _deadline(conn: PinnedHTTPConnection, seconds: float) -> Iterator[None]:
    """Bound the whole exchange: the socket timeout bounds each read, and this shuts the socket
    when `seconds` have passed, so a receiver trickling its answer cannot hold the caller."""

    def expire() -> None:
        conn.expired = True
        sock = conn.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _said(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:200]
