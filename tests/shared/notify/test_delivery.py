"""Deliveries to receivers on 127.0.0.1 (plain http, loopback allowed): signed, the same
delivery id on every attempt, no redirect followed, failures as outcomes; and refusals that
happen before any socket opens. No socket is ever opened to a non-loopback address."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from shared.notify.addresses import CheckedUrl, check_webhook_url
from shared.notify.delivery import (
    DELIVERY_HEADER,
    Failure,
    PinnedHTTPConnection,
    RefusedPeer,
    deliver,
    deliver_with_retries,
    pinned_connection,
)
from shared.notify.payload import TickerChange, notification_body
from shared.notify.signing import SIGNATURE_HEADER, new_secret, sign
from tests.shared.notify.receiver import Receiver, silent_listener
from tests.shared.notify.resolvers import changing, table

DELIVERY = "5f2b7c0d9e8a4b1c8d7e6f5a4b3c2d1e"
LOOPBACK = table({"127.0.0.1": ["127.0.0.1"], "receiver.localhost": ["127.0.0.1"]})


def body() -> bytes:
    change = TickerChange(ticker="AAPL", job_id="a" * 32, verdict_before="hold",
                          verdict_after="buy")
    return notification_body("tech", "run-1", "b" * 32, [change],
                             {"AAPL": "https://app.example.com/r/a"})


def test_a_delivery_is_signed_and_says_who_it_is() -> None:
    secret, raw = new_secret(), body()
    with Receiver(secret, (204,)) as receiver:
        url = f"http://receiver.localhost:{receiver.port}/hooks/in?team=7"
        outcome = deliver(url, raw, secret, DELIVERY, resolve=LOOPBACK,
                          allow_loopback_http=True, timeout=5)
    assert outcome.delivered and outcome.status == 204 and outcome.failure is None
    assert outcome.address == "127.0.0.1" and outcome.duration_ms >= 0
    [seen] = receiver.deliveries
    assert seen.signature_ok and seen.body == raw
    assert seen.path == "/hooks/in?team=7"
    assert seen.headers["Host"] == f"receiver.localhost:{receiver.port}"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers[DELIVERY_HEADER] == DELIVERY
    assert seen.headers[SIGNATURE_HEADER] == sign(secret, raw)
    assert seen.headers["User-Agent"].startswith("stockmemo-webhook/")
    assert json.loads(seen.body)["watchlist"] == "tech"
    assert outcome.model_dump(mode="json")["delivered"] is True  # recordable on the run


def test_a_retried_delivery_keeps_its_id_body_and_signature() -> None:
    secret, raw = new_secret(), body()
    waits: list[float] = []
    with Receiver(secret, (500, 503, 200)) as receiver:
        report = deliver_with_retries(
            receiver.url(), raw, secret, DELIVERY, resolve=LOOPBACK, allow_loopback_http=True,
            timeout=5, attempts=4, backoff=0.5, sleep=waits.append,
        )
    assert report.delivered and not report.stopped
    assert [(a.status, a.delivered, a.retryable) for a in report.attempts] == [
        (500, False, True), (503, False, True), (200, True, False)
    ]
    assert waits == [0.5, 1.0]
    assert len(receiver.deliveries) == 3
    assert {d.headers[DELIVERY_HEADER] for d in receiver.deliveries} == {DELIVERY}
    assert {d.headers[SIGNATURE_HEADER] for d in receiver.deliveries} == {sign(secret, raw)}
    assert all(d.signature_ok and d.body == raw for d in receiver.deliveries)


def test_a_receiver_answering_500_is_a_failure_with_its_status() -> None:
    secret = new_secret()
    with Receiver(secret, (500,)) as receiver:
        outcome = deliver(receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
                          allow_loopback_http=True, timeout=5)
        report = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=3, backoff=0, sleep=lambda _: None,
        )
    assert not outcome.delivered
    assert (outcome.status, outcome.failure, outcome.retryable) == (500, Failure.STATUS, True)
    assert outcome.error == "the receiver answered 500"
    assert not report.delivered and [a.status for a in report.attempts] == [500, 500, 500]
    assert len(receiver.deliveries) == 4


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed(status: int) -> None:
    secret = new_secret()
    with Receiver(secret, (status, 200)) as receiver:
        report = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=3, backoff=0, sleep=lambda _: None,
        )
    [outcome] = report.attempts  # a redirect is permanent: not retried either
    assert not outcome.delivered and outcome.status == status
    assert outcome.failure is Failure.REDIRECT and not outcome.retryable
    assert [d.path for d in receiver.deliveries] == ["/hook"]  # /redirected never asked


def test_a_client_error_is_not_retried_but_429_is() -> None:
    secret = new_secret()
    with Receiver(secret, (404,)) as receiver:
        report = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=3, backoff=0, sleep=lambda _: None,
        )
    assert [(a.status, a.retryable) for a in report.attempts] == [(404, False)]
    with Receiver(secret, (429, 200)) as receiver:
        report = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=3, backoff=0, sleep=lambda _: None,
        )
    assert [a.status for a in report.attempts] == [429, 200] and report.delivered


def test_proceed_is_asked_before_every_attempt() -> None:
    secret = new_secret()
    answers = iter([True, False])
    with Receiver(secret, (500,)) as receiver:
        report = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=5, backoff=0, sleep=lambda _: None,
            proceed=lambda: next(answers),
        )
        assert report.stopped and not report.delivered and len(report.attempts) == 1
        assert len(receiver.deliveries) == 1
        never = deliver_with_retries(
            receiver.url(), body(), secret, DELIVERY, resolve=LOOPBACK,
            allow_loopback_http=True, timeout=5, attempts=5, backoff=0, proceed=lambda: False,
        )
    assert never.stopped and never.attempts == [] and len(receiver.deliveries) == 1


def test_dns_rebinding_is_refused_before_a_socket_opens() -> None:
    """Global when the watchlist was made, loopback at delivery time: refused, never contacted."""
    with silent_listener() as (port, accepted):
        resolve = changing(["93.184.215.14"], ["127.0.0.1"])
        url = f"https://hooks.example.com:{port}/hook"
        check_webhook_url(url, resolve=resolve, allow_loopback_http=True)  # at creation: fine
        outcome = deliver(url, body(), new_secret(), DELIVERY, resolve=resolve,
                          allow_loopback_http=True, timeout=2)
        time.sleep(0.2)
        assert accepted == []
    assert not outcome.delivered and outcome.failure is Failure.REFUSED
    assert not outcome.retryable and "loopback" in (outcome.error or "")
    assert outcome.address is None


@pytest.mark.parametrize(
    ("url", "addresses"),
    [("https://hooks.example.com/x", ["10.0.0.7"]),
     ("https://hooks.example.com/x", ["93.184.215.14", "169.254.169.254"]),
     ("https://hooks.example.com/x", ["::ffff:127.0.0.1"]),
     ("https://hooks.example.com/x", ["168.63.129.16"]),
     ("http://hooks.example.com/x", ["93.184.215.14"]),
     ("https://u:p@hooks.example.com/x", ["93.184.215.14"])],
)
def test_a_refused_destination_is_never_contacted(url: str, addresses: list[str]) -> None:
    looked_up: list[str] = []

    def resolve(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return addresses

    outcome = deliver(url, body(), new_secret(), DELIVERY, resolve=resolve,
                      allow_loopback_http=True, timeout=2)
    assert outcome.failure is Failure.REFUSED and not outcome.retryable
    assert outcome.address is None and outcome.status is None
    assert looked_up in ([], ["hooks.example.com"])  # looked up at most once, never connected


def test_a_name_that_stops_resolving_is_a_retryable_failure() -> None:
    outcome = deliver("https://gone.example.com/x", body(), new_secret(), DELIVERY,
                      resolve=table({}), allow_loopback_http=False, timeout=2)
    assert outcome.failure is Failure.UNRESOLVABLE and outcome.retryable


def test_nothing_listening_is_a_retryable_connect_failure() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = deliver(f"http://127.0.0.1:{port}/x", body(), new_secret(), DELIVERY,
                      resolve=LOOPBACK, allow_loopback_http=True, timeout=2)
    assert outcome.failure is Failure.CONNECT and outcome.retryable and outcome.address is None


def test_a_silent_receiver_times_out() -> None:
    with silent_listener() as (port, accepted):
        started = time.monotonic()
        outcome = deliver(f"http://127.0.0.1:{port}/x", body(), new_secret(), DELIVERY,
                          resolve=LOOPBACK, allow_loopback_http=True, timeout=0.5)
        elapsed = time.monotonic() - started
    assert outcome.failure is Failure.TIMEOUT and outcome.retryable
    assert outcome.address == "127.0.0.1" and len(accepted) == 1
    assert elapsed < 3


@contextmanager
def trickling_receiver(interval: float) -> Iterator[int]:
    """Answers a status line, then one header byte every `interval`, forever."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(interval):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_the_timeout_bounds_the_whole_attempt_not_each_read() -> None:
    with trickling_receiver(0.05) as port:
        started = time.monotonic()
        outcome = deliver(f"http://127.0.0.1:{port}/x", body(), new_secret(), DELIVERY,
                          resolve=LOOPBACK, allow_loopback_http=True, timeout=0.6)
        elapsed = time.monotonic() - started
    assert outcome.failure is Failure.TIMEOUT and outcome.retryable
    assert elapsed < 2.5


def test_an_answer_that_is_not_http_is_a_protocol_failure() -> None:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        outcome = deliver(f"http://127.0.0.1:{server.getsockname()[1]}/x", body(),
                          new_secret(), DELIVERY, resolve=LOOPBACK, allow_loopback_http=True,
                          timeout=2)
    finally:
        thread.join(timeout=5)
        server.close()
    assert outcome.failure is Failure.PROTOCOL and outcome.retryable
    assert outcome.address == "127.0.0.1"


def test_the_connection_goes_to_the_checked_address_not_the_name() -> None:
    """The URL's name is unknown to the system resolver; the socket still reaches the address
    the injected resolver gave, and the name travels only as the Host header."""
    secret = new_secret()
    resolve = table({"webhooks.invalid": ["127.0.0.1"]})
    with Receiver(secret) as receiver:
        outcome = deliver(f"http://webhooks.invalid:{receiver.port}/x", body(), secret,
                          DELIVERY, resolve=resolve, allow_loopback_http=True, timeout=5)
    assert outcome.delivered
    assert receiver.deliveries[0].headers["Host"] == f"webhooks.invalid:{receiver.port}"


def test_a_peer_that_fails_the_check_is_closed_before_a_byte_is_sent() -> None:
    with silent_listener() as (port, accepted):
        checked = CheckedUrl("http", "127.0.0.1", port, "/x", ("127.0.0.1",))
        conn = pinned_connection(checked, timeout=2, allow_loopback_http=False)
        with pytest.raises(RefusedPeer, match="non-loopback address over plain http"):
            conn.request("POST", "/x", body=b"{}")
        conn.close()
        deadline = time.monotonic() + 2
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        [server_side] = accepted
        server_side.settimeout(2)
        assert server_side.recv(1) == b""  # closed, nothing sent


def test_each_checked_address_is_tried_in_order() -> None:
    """127.0.0.2 is loopback too (Linux routes all of 127/8 to lo) but nothing listens there on
    the receiver's port: the first address fails, the second is used."""
    secret = new_secret()
    with Receiver(secret) as receiver:
        checked = CheckedUrl("http", "receiver.localhost", receiver.port, "/x",
                             ("127.0.0.2", "127.0.0.1"))
        conn = PinnedHTTPConnection(checked, timeout=2, peer_check=lambda peer: None)
        try:
            conn.request("POST", "/x", body=b"{}")
            assert conn.getresponse().status == 204
        finally:
            conn.close()
    assert conn.peer == "127.0.0.1"


def test_a_bad_delivery_id_is_the_callers_bug() -> None:
    for bad in ("", "x\r\nX-Evil: 1", "a b", "é", "a" * 129):
        with pytest.raises(ValueError):
            deliver("http://127.0.0.1:9/x", b"{}", "s", bad, resolve=LOOPBACK,
                    allow_loopback_http=True, timeout=1)


def test_the_guard_in_conftest_stops_a_non_loopback_connection() -> None:
    with socket.socket() as sock, pytest.raises(AssertionError, match="192.0.2.1"):
        sock.connect(("192.0.2.1", 443))
