"""A guard for every notify test: a socket may connect to loopback only. Were the code under
test ever to reach for another address, the test fails instead of sending a packet."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import pytest


class NonLoopbackConnect(AssertionError):
    pass


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def check(address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else address
        try:
            loopback = ipaddress.ip_address(str(host).partition("%")[0]).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise NonLoopbackConnect(f"a test tried to connect to {address!r}")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        check(address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        check(address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    yield

