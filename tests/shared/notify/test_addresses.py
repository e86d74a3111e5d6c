"""The webhook URL gate: https only, no userinfo, a name that resolves, global addresses only.

Every name is resolved by an injected table: nothing here opens a socket."""

from __future__ import annotations

import ipaddress

import pytest

from shared.errors import ERROR_CODES, InvalidWebhookUrl, envelope
from shared.notify.addresses import (
    CheckedUrl,
    UnresolvableWebhookHost,
    address_refusal,
    check_webhook_url,
    peer_refusal,
    system_resolver,
)
from tests.shared.notify.resolvers import table

GLOBAL_V4 = "93.184.215.14"
GLOBAL_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"

# (address, the class the refusal names)
REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.254", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.254", "shared (CGNAT)"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("0.1.2.3", "private"),  # "this network", 0.0.0.0/8
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "private"),  # reserved 240/4: Python files it under is_private too
    ("255.255.255.255", "private"),
    ("192.0.2.10", "private"),  # documentation (TEST-NET-1)
    ("198.18.0.1", "private"),  # benchmarking
    ("169.254.169.254", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),  # Azure WireServer: a public address, named
    ("fd00:ec2::254", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("::ffff:127.0.0.1", "IPv4-mapped loopback"),
    ("::ffff:10.0.0.1", "IPv4-mapped private"),
    ("::ffff:169.254.169.254", "IPv4-mapped cloud metadata"),
    ("::ffff:168.63.129.16", "IPv4-mapped cloud metadata"),
    ("64:ff9b::a9fe:a9fe", "NAT64 cloud metadata"),  # 169.254.169.254 through NAT64
    ("64:ff9b::7f00:1", "NAT64 loopback"),
    ("2002:7f00:1::1", "6to4 tunnel"),
    ("2002:5db8:d70e::1", "6to4 tunnel"),  # even one carrying a global IPv4
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo tunnel"),
    ("fec0::1", "site-local"),
    ("2001:db8::1", "private"),  # documentation
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_non_global_class_is_refused_by_name(address: str, kind: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) == kind
    resolve = table({"hooks.example.com": [address]})
    with pytest.raises(InvalidWebhookUrl) as raised:
        check_webhook_url(
            "https://hooks.example.com/x", resolve=resolve, allow_loopback_http=False
        )
    assert raised.value.code == "invalid_webhook_url"
    assert raised.value.http_status == 400
    assert raised.value.field == "webhook_url"
    assert f"({kind})" in raised.value.message
    assert address not in raised.value.message  # the class, never the address a name hid


@pytest.mark.parametrize("address", [a for a, _ in REFUSED if ":" not in a])
def test_a_literal_refused_ipv4_host_is_refused(address: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(
            f"https://{address}/hook", resolve=table({address: [address]}),
            allow_loopback_http=True,
        )


@pytest.mark.parametrize("address", [a for a, _ in REFUSED if ":" in a])
def test_a_literal_refused_ipv6_host_is_refused(address: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(
            f"https://[{address}]:8443/hook", resolve=table({address: [address]}),
            allow_loopback_http=True,
        )


@pytest.mark.parametrize("address", [GLOBAL_V4, GLOBAL_V6, "::ffff:93.184.215.14",
                                     "64:ff9b::5db8:d70e", "8.8.8.8", "1.1.1.1"])
def test_global_addresses_are_accepted(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address)) is None


def test_an_accepted_url_keeps_what_the_connection_needs() -> None:
    resolve = table({"hooks.example.com": [GLOBAL_V4, GLOBAL_V6]})
    checked = check_webhook_url(
        "HTTPS://Hooks.Example.com./in/T01/B02?tag=a%20b#frag", resolve=resolve,
        allow_loopback_http=False,
    )
    assert checked == CheckedUrl(
        "https", "hooks.example.com", 443, "/in/T01/B02?tag=a%20b", (GLOBAL_V4, GLOBAL_V6)
    )
    bare = check_webhook_url(
        "https://hooks.example.com:8443", resolve=resolve, allow_loopback_http=False
    )
    assert (bare.port, bare.target) == (8443, "/")


@pytest.mark.parametrize(
    "addresses",
    [[GLOBAL_V4, "10.0.0.5"], ["127.0.0.1", GLOBAL_V4], [GLOBAL_V6, "fe80::1"],
     [GLOBAL_V4, "169.254.169.254"], [GLOBAL_V4, "::ffff:192.168.0.1"]],
)
def test_one_bad_address_among_good_ones_refuses_the_name(addresses: list[str]) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(
            "https://hooks.example.com/x", resolve=table({"hooks.example.com": addresses}),
            allow_loopback_http=True,
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pass@hooks.example.com/x",
        "https://user@hooks.example.com/x",
        "https://:pass@hooks.example.com/x",
        "https://hooks.example.com@evil.example.net/x",
        "http://user@127.0.0.1:8080/x",
    ],
)
def test_userinfo_is_refused(url: str) -> None:
    resolve = table({"hooks.example.com": [GLOBAL_V4], "evil.example.net": [GLOBAL_V4],
                     "127.0.0.1": ["127.0.0.1"]})
    with pytest.raises(InvalidWebhookUrl, match="user name or password"):
        check_webhook_url(url, resolve=resolve, allow_loopback_http=True)


@pytest.mark.parametrize(
    "url",
    ["http://hooks.example.com/x", "ftp://hooks.example.com/x", "file:///etc/passwd",
     "gopher://hooks.example.com/", "javascript:alert(1)", "hooks.example.com/x",
     "//hooks.example.com/x"],
)
def test_anything_but_https_is_refused(url: str) -> None:
    resolve = table({"hooks.example.com": [GLOBAL_V4]})
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(url, resolve=resolve, allow_loopback_http=False)


def test_plain_http_to_a_global_address_is_refused_even_with_loopback_allowed() -> None:
    resolve = table({"hooks.example.com": [GLOBAL_V4], "mixed.test": ["127.0.0.1", GLOBAL_V4]})
    for url in ("http://hooks.example.com/x", "http://mixed.test/x"):
        with pytest.raises(InvalidWebhookUrl, match="https"):
            check_webhook_url(url, resolve=resolve, allow_loopback_http=True)


def test_plain_http_loopback_is_accepted_only_when_allowed() -> None:
    resolve = table({"127.0.0.1": ["127.0.0.1"], "localhost": ["::1", "127.0.0.1"]})
    for url in ("http://127.0.0.1:8123/hook", "http://localhost:8123/hook"):
        with pytest.raises(InvalidWebhookUrl, match="https"):
            check_webhook_url(url, resolve=resolve, allow_loopback_http=False)
        checked = check_webhook_url(url, resolve=resolve, allow_loopback_http=True)
        assert (checked.scheme, checked.port, checked.target) == ("http", 8123, "/hook")


def test_https_to_loopback_stays_refused_when_loopback_http_is_allowed() -> None:
    with pytest.raises(InvalidWebhookUrl, match="loopback"):
        check_webhook_url(
            "https://127.0.0.1:8443/hook", resolve=table({"127.0.0.1": ["127.0.0.1"]}),
            allow_loopback_http=True,
        )


def test_a_name_that_does_not_resolve_is_refused() -> None:
    for resolve in (table({}), table({"hooks.example.com": []})):
        with pytest.raises(UnresolvableWebhookHost, match="does not resolve") as raised:
            check_webhook_url(
                "https://hooks.example.com/x", resolve=resolve, allow_loopback_http=False
            )
        assert raised.value.code == "invalid_webhook_url"


def test_an_unreadable_resolved_address_is_refused() -> None:
    with pytest.raises(InvalidWebhookUrl, match="unreadable"):
        check_webhook_url(
            "https://hooks.example.com/x", resolve=table({"hooks.example.com": ["not-an-ip"]}),
            allow_loopback_http=False,
        )


@pytest.mark.parametrize(
    "url",
    ["", "https://", "https:///x", "https://hooks.example.com:0/x",
     "https://hooks.example.com:99999/x", "https://hooks.example.com:abc/x",
     "https://hooks.example.com/a b", "https://hooks.example.com/x\r\nX-Evil: 1",
     "https://hooks.exämple.com/x", "https://[::1/x", "https://hooks.example.com/" + "a" * 2100],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(InvalidWebhookUrl):
        check_webhook_url(
            url, resolve=table({"hooks.example.com": [GLOBAL_V4]}), allow_loopback_http=True
        )


def test_the_url_is_never_echoed_in_the_error() -> None:
    url = "http://hooks.example.com/services/T000/B000/SECRETTOKEN"
    with pytest.raises(InvalidWebhookUrl) as raised:
        check_webhook_url(url, resolve=table({}), allow_loopback_http=False)
    assert "SECRETTOKEN" not in str(raised.value)
    assert raised.value.value is None


def test_invalid_webhook_url_is_a_registered_project_error() -> None:
    assert ERROR_CODES["invalid_webhook_url"] is InvalidWebhookUrl
    error = InvalidWebhookUrl("webhook_url must use https")
    assert str(error) == envelope("invalid_webhook_url", "webhook_url must use https")


def test_the_peer_must_be_a_checked_address_that_still_passes() -> None:
    https = CheckedUrl("https", "hooks.example.com", 443, "/", (GLOBAL_V4,))
    assert peer_refusal(GLOBAL_V4, https, allow_loopback_http=False) is None
    assert peer_refusal("8.8.8.8", https, allow_loopback_http=False) == (
        "an address the URL was not checked against"
    )
    pinned_to_private = CheckedUrl("https", "hooks.example.com", 443, "/", ("10.0.0.1",))
    assert "private" in (peer_refusal("10.0.0.1", pinned_to_private,
                                      allow_loopback_http=True) or "")
    http = CheckedUrl("http", "127.0.0.1", 80, "/", ("127.0.0.1",))
    assert peer_refusal("127.0.0.1", http, allow_loopback_http=True) is None
    assert peer_refusal("127.0.0.1", http, allow_loopback_http=False) is not None
    assert peer_refusal("garbage", http, allow_loopback_http=True) is not None


def test_the_system_resolver_reads_getaddrinfo_for_literals_without_a_lookup() -> None:
    # Literal addresses: getaddrinfo parses them locally, no DNS query is made.
    assert system_resolver("127.0.0.1", 443) == ["127.0.0.1"]
