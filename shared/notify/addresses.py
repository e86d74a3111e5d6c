"""Where a webhook may be delivered: an `https` URL whose host resolves only to global addresses.

`check_webhook_url` is the one gate, used when a watchlist is created (a refusal is a 400) and
again at every delivery (`delivery.py` connects only to an address this module accepted, and
checks the peer it actually reached with `peer_refusal`). The resolver is injected, so tests
decide what a name resolves to and never open a socket to anything but loopback.

Messages name the class of a refused address, never the address a name resolved to, nor the URL
itself: a webhook URL often carries a token in its path.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from shared.errors import InvalidWebhookUrl

Resolver = Callable[[str, int], list[str]]
"""(host, port) -> the addresses (as text) a connection to that host may reach; raises OSError
(socket.gaierror) or returns [] when the name does not resolve."""

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 2048

# Instance metadata and platform endpoints. Most are link-local or private anyway; Azure's
# WireServer (168.63.129.16) is a public address, so it must be named.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(text)
    for text in (
        "169.254.169.254",  # AWS, Azure IMDS, GCP, OpenStack, ...
        "168.63.129.16",  # Azure WireServer / platform DNS and health probes
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "192.0.0.192",  # Oracle Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
    )
)
SHARED_ADDRESS_SPACE = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052: the last 32 bits are IPv4


class UnresolvableWebhookHost(InvalidWebhookUrl):
    """The webhook URL's host name does not resolve. Refused at creation like any other
    `invalid_webhook_url`; at delivery it may be a passing DNS failure, so it is worth a retry."""


@dataclass(frozen=True)
class CheckedUrl:
    """A webhook URL that passed the gate, with what a connection needs to stay on it."""

    scheme: Literal["https", "http"]
    host: str  # as the URL names it: lower case, an IPv6 literal without brackets
    port: int
    target: str  # the request target: path and query, never empty
    addresses: tuple[str, ...]  # every address the host resolved to, all accepted, in order


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `socket.getaddrinfo` gives for a TCP connection, in its order, once each."""
    found: list[str] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        text = str(sockaddr[0])
        if text not in found:
            found.append(text)
    return found


def check_webhook_url(url: str, *, resolve: Resolver, allow_loopback_http: bool) -> CheckedUrl:
    """The URL, parsed and resolved, when it may receive deliveries; InvalidWebhookUrl otherwise
    (UnresolvableWebhookHost when its host does not resolve).

    `https` only, to a host every one of whose addresses is global. With `allow_loopback_http`
    (local use and tests), plain `http` is also accepted when the host resolves only to loopback
    addresses; loopback stays refused for `https`, and non-loopback for `http`."""
    scheme, host, port, target = _parse(url)
    if scheme == "http" and not allow_loopback_http:
        raise InvalidWebhookUrl("webhook_url must use https")
    try:
        resolved = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnresolvableWebhookHost("webhook_url's host does not resolve") from exc
    if not resolved:
        raise UnresolvableWebhookHost("webhook_url's host does not resolve")
    addresses = tuple(_address(text) for text in resolved)
    if scheme == "http":
        if not all(_is_loopback(address) for address in addresses):
            raise InvalidWebhookUrl(
                "webhook_url must use https (plain http is allowed only to loopback receivers)"
            )
    else:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise InvalidWebhookUrl(
                    f"webhook_url's host resolves to a refused address ({reason}); "
                    "only global addresses may receive webhooks"
                )
    return CheckedUrl(scheme, host, port, target, tuple(str(a) for a in addresses))


def peer_refusal(peer: str, checked: CheckedUrl, *, allow_loopback_http: bool) -> str | None:
    """Why the address a connection actually reached may not receive this delivery, or None.

    The peer must be one of the checked addresses and still pass the address rule for the URL's
    scheme (the same rule `check_webhook_url` applied)."""
    try:
        address = _address(peer)
    except InvalidWebhookUrl:
        return "an unreadable peer address"
    if address not in {ipaddress.ip_address(text) for text in checked.addresses}:
        return "an address the URL was not checked against"
    if checked.scheme == "http":
        if allow_loopback_http and _is_loopback(address):
            return None
        return "a non-loopback address over plain http"
    reason = address_refusal(address)
    return None if reason is None else f"a refused address ({reason})"


def address_refusal(address: IPAddress) -> str | None:
    """The class of address a webhook may not be delivered to ("private", "loopback",
    "cloud metadata", ...), or None for a global address. An IPv4 address carried in IPv6 is
    judged as the IPv4 it carries (IPv4-mapped, NAT64 64:ff9b::/96); 6to4 and Teredo tunnel
    addresses are refused outright."""
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped
        kind = "IPv4-mapped"
        if carried is None and address in NAT64_PREFIX:
            carried, kind = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "NAT64"
        if carried is not None:
            inner = address_refusal(carried)
            return None if inner is None else f"{kind} {inner}"
        if address.teredo is not None:
            return "Teredo tunnel"
        if address.sixtofour is not None:
            return "6to4 tunnel"
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if isinstance(address, ipaddress.IPv4Address) and address in SHARED_ADDRESS_SPACE:
        return "shared (CGNAT)"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "site-local"
    if not address.is_global:
        return "non-global"
    return None


def _parse(url: str) -> tuple[Literal["https", "http"], str, int, str]:
    """(scheme, host, port, request target) of a syntactically acceptable webhook URL."""
    if not isinstance(url, str) or not url:
        raise InvalidWebhookUrl("webhook_url must be a non-empty string")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidWebhookUrl(f"webhook_url is longer than {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise InvalidWebhookUrl(
            "webhook_url must be printable ASCII without spaces (punycode for international names)"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidWebhookUrl("webhook_url is not a valid URL") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise InvalidWebhookUrl("webhook_url must use https")
    if "@" in parts.netloc:
        raise InvalidWebhookUrl("webhook_url must not carry a user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise InvalidWebhookUrl("webhook_url has no host")
    if port == 0:
        raise InvalidWebhookUrl("webhook_url's port must be 1-65535")
    target = parts.path or "/"
    if parts.query:
        target = f"{target}?{parts.query}"
    default_port = 443 if scheme == "https" else 80
    return ("https" if scheme == "https" else "http"), host, port or default_port, target


def _address(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError as exc:
        raise InvalidWebhookUrl("webhook_url's host resolves to an unreadable address") from exc


def _is_loopback(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
