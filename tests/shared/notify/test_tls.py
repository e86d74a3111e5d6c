"""The pinned HTTPS connection, offline, against a receiver on 127.0.0.1 with a certificate from
a throwaway CA: the socket goes to the pinned address, while the TLS handshake names the URL's
host (SNI) and the certificate is verified against that name, not the address.

`deliver` itself never sends https to loopback (the address rule refuses it), so these drive
the connection class it uses, with a peer check that admits loopback."""

from __future__ import annotations

import ssl
import time
from pathlib import Path

import pytest

from shared.notify.addresses import CheckedUrl
from shared.notify.delivery import (
    PinnedHTTPConnection,
    PinnedHTTPSConnection,
    RefusedPeer,
    pinned_connection,
)
from shared.notify.signing import new_secret
from tests.shared.notify.certificates import make_ca
from tests.shared.notify.receiver import Receiver, silent_listener

HOST = "hooks.example.test"


def checked(port: int) -> CheckedUrl:
    return CheckedUrl("https", HOST, port, "/hook", ("127.0.0.1",))


def post(conn: PinnedHTTPConnection) -> int:
    try:
        conn.request("POST", "/hook", body=b"{}", headers={"Content-Type": "application/json"})
        return conn.getresponse().status
    finally:
        conn.close()


def test_tls_names_the_url_host_while_the_socket_goes_to_the_pinned_address(
    tmp_path: Path,
) -> None:
    ca = make_ca(tmp_path)
    with Receiver(new_secret(), (204,), tls=ca.server_context(HOST)) as receiver:
        conn = PinnedHTTPSConnection(checked(receiver.port), timeout=5,
                                     peer_check=lambda peer: None, context=ca.client_context())
        assert post(conn) == 204
    assert conn.peer == "127.0.0.1"
    assert receiver.server_names == [HOST]  # SNI: the name, not the address
    assert receiver.deliveries[0].headers["Host"] == f"{HOST}:{receiver.port}"


def test_a_certificate_for_another_name_fails_verification(tmp_path: Path) -> None:
    ca = make_ca(tmp_path)
    with Receiver(new_secret(), tls=ca.server_context("other.example.test")) as receiver:
        conn = PinnedHTTPSConnection(checked(receiver.port), timeout=5,
                                     peer_check=lambda peer: None, context=ca.client_context())
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            post(conn)
    assert receiver.deliveries == []


def test_an_untrusted_certificate_fails_verification(tmp_path: Path) -> None:
    ours = make_ca(tmp_path / "a")
    theirs = make_ca(tmp_path / "b")
    with Receiver(new_secret(), tls=theirs.server_context(HOST)) as receiver:
        conn = PinnedHTTPSConnection(checked(receiver.port), timeout=5,
                                     peer_check=lambda peer: None, context=ours.client_context())
        with pytest.raises(ssl.SSLCertVerificationError):
            post(conn)


def test_the_default_context_verifies_against_the_system_store() -> None:
    conn = pinned_connection(checked(443), timeout=5, allow_loopback_http=False)
    assert isinstance(conn, PinnedHTTPSConnection)
    assert conn.context.verify_mode is ssl.CERT_REQUIRED and conn.context.check_hostname


def test_a_refused_peer_gets_no_client_hello() -> None:
    """`deliver`'s own peer rule refuses loopback for https: the socket is closed before the
    handshake starts."""
    with silent_listener() as (port, accepted):
        conn = pinned_connection(checked(port), timeout=2, allow_loopback_http=True)
        with pytest.raises(RefusedPeer, match="loopback"):
            post(conn)
        deadline = time.monotonic() + 2
        while not accepted and time.monotonic() < deadline:
            time.sleep(0.01)
        [server_side] = accepted
        server_side.settimeout(2)
        assert server_side.recv(1) == b""
