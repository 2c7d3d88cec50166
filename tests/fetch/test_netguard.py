"""The SSRF guard's pure parts: address verdicts, host spellings, the allow-list.

Table-driven examples first, then hypothesis properties over whole address spaces.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watcher.errors import BlockedAddressError
from watcher.netguard import (
    AllowList,
    blocked_reason,
    check_host,
    check_url,
    embedded_ipv4,
    parse_host_address,
)

ip = ipaddress.ip_address


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("169.254.170.2", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("100.64.0.1", "shared address space (CGNAT)"),
    ("100.127.255.255", "shared address space (CGNAT)"),
    ("0.0.0.0", "unspecified"),
    ("0.1.2.3", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("192.0.2.10", "reserved (documentation)"),
    ("198.18.0.1", "reserved (benchmarking)"),
    ("::1", "loopback"),
    ("::", "unspecified"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("fc00::1", "private (unique local)"),
    ("fd12:3456::1", "private (unique local)"),
    ("fd00:ec2::254", "cloud metadata"),
    ("ff02::1", "multicast"),
    ("fec0::1", "site-local (deprecated)"),
    ("2001:db8::1", "reserved (documentation)"),
    ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1 inside ::ffff:7f00:1)"),
    ("::ffff:169.254.169.254", "cloud metadata (IPv4 169.254.169.254 inside ::ffff:a9fe:a9fe)"),
    ("::127.0.0.1", "loopback (IPv4 127.0.0.1 inside ::7f00:1)"),
    ("::ffff:0:10.0.0.1", "private (IPv4 10.0.0.1 inside ::ffff:0:a00:1)"),
    ("64:ff9b::10.0.0.1", "private (IPv4 10.0.0.1 inside 64:ff9b::a00:1)"),
    ("64:ff9b:1::1", "reserved (local-use NAT64)"),
    ("2002:7f00:1::1", "loopback (IPv4 127.0.0.1 inside 2002:7f00:1::1)"),
    ("2002:a9fe:a9fe::", "cloud metadata (IPv4 169.254.169.254 inside 2002:a9fe:a9fe::)"),
])
def test_refused_addresses_and_why(address: str, reason: str) -> None:
    assert blocked_reason(ip(address)) == reason


@pytest.mark.parametrize("address", [
    "8.8.8.8", "1.1.1.1", "93.184.216.34", "151.101.1.69",
    "2606:4700:4700::1111", "2a00:1450:4001:80b::200e",
    "::ffff:8.8.8.8",  # mapped public address: the same host as 8.8.8.8
    "64:ff9b::8.8.8.8",  # NAT64 of a public address
    "2002:808:808::1",  # 6to4 of a public address
])
def test_public_addresses_pass(address: str) -> None:
    assert blocked_reason(ip(address)) is None


@pytest.mark.parametrize("spelling", [
    "127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "0x7f.0.0.1", "0177.0.0.1",
    "017700000001", "127.1", "127.0.1", "127.0.0.1.", "0x7F.0x00.0x00.0x01",
    "[::ffff:127.0.0.1]", "::ffff:7f00:1", "[0:0:0:0:0:ffff:7f00:1]",
])
def test_every_spelling_of_loopback_is_read_and_refused(spelling: str) -> None:
    address = parse_host_address(spelling)
    assert address is not None
    assert blocked_reason(address) is not None
    with pytest.raises(BlockedAddressError, match="loopback"):
        check_host(spelling)


@pytest.mark.parametrize("host", ["example.com", "127.0.0.1.example.com", "0x7g.1",
                                  "1.2.3.4.5", "256.1.1.1", "1.2.3.256", "08.1.1.1",
                                  "", "xn--nxasmq6b"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_host_address(host) is None


@pytest.mark.parametrize("url", [
    "ftp://example.com/", "file:///etc/passwd", "gopher://x/", "javascript:alert(1)",
    "data:text/html,hi", "//example.com/", "http:///nohost",
])
def test_check_url_refuses_other_schemes_and_hostless_urls(url: str) -> None:
    with pytest.raises(BlockedAddressError):
        check_url(url)


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "http://2130706433/", "http://[::1]:8080/", "https://10.0.0.1/x",
    "http://user:pw@169.254.169.254/latest/meta-data/", "HTTP://0x7f.1/",
])
def test_check_url_refuses_literal_internal_hosts(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="refused to connect"):
        check_url(url)


def test_check_url_lets_names_through_for_the_resolver_to_judge() -> None:
    check_url("https://www.example.com/feed.xml")
    check_url("http://localhost/")  # judged on what it resolves to, at connect time


# --- the allow-list ---------------------------------------------------------------------

def test_allow_list_parses_addresses_ranges_and_names() -> None:
    allow = AllowList.parse(["127.0.0.1", "10.0.0.0/8", "Feeds.Internal.", "[::1]", " "])
    assert allow.allows_address(ip("127.0.0.1"))
    assert not allow.allows_address(ip("127.0.0.2"))
    assert allow.allows_address(ip("10.200.0.1"))
    assert allow.allows_address(ip("::1"))
    assert allow.allows_address(ip("::ffff:127.0.0.1"))  # the same host as 127.0.0.1
    assert allow.allows_host("feeds.internal") and allow.allows_host("FEEDS.INTERNAL.")
    assert not allow.allows_host("other.internal")
    assert blocked_reason(ip("10.9.9.9"), allow) is None
    assert blocked_reason(ip("192.168.0.1"), allow) == "private"
    check_host("feeds.internal", allow)


def test_allow_list_refuses_broken_ranges() -> None:
    with pytest.raises(ValueError, match="not an address"):
        AllowList.parse(["10.0.0.0/33"])


def test_allowing_an_address_does_not_allow_translations_of_it() -> None:
    # 6to4 / NAT64 forms go through a translator somewhere else: not the allowed host.
    allow = AllowList.parse(["127.0.0.1"])
    assert blocked_reason(ip("2002:7f00:1::"), allow) is not None
    assert blocked_reason(ip("64:ff9b::7f00:1"), allow) is not None


# --- properties -------------------------------------------------------------------------

ipv4s = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)

BLOCKED_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.168.0.0/16", "224.0.0.0/4", "240.0.0.0/4"]
BLOCKED_V6 = ["fc00::/7", "fe80::/10", "ff00::/8", "::1/128", "::/128"]


def _inside(network: str) -> st.SearchStrategy[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    net = ipaddress.ip_network(network)
    first = int(net.network_address)
    return st.integers(first, first + net.num_addresses - 1).map(ipaddress.ip_address)


blocked_v4 = st.sampled_from(BLOCKED_V4).flatmap(_inside)
blocked_v6 = st.sampled_from(BLOCKED_V6).flatmap(_inside)


def _spellings(address: ipaddress.IPv4Address) -> list[str]:
    n = int(address)
    a, b, c, d = address.packed
    return [
        str(address), str(n), hex(n), f"0{n:o}", f"{a}.{(b << 16) | (c << 8) | d}",
        f"{a}.{b}.{(c << 8) | d}", f"{hex(a)}.{hex(b)}.{hex(c)}.{hex(d)}",
        f"0{a:o}.0{b:o}.0{c:o}.0{d:o}", f"{address}.", f"[::ffff:{address}]",
        f"::ffff:{(n >> 16):x}:{(n & 0xFFFF):x}",
    ]


@given(ipv4s)
def test_all_spellings_read_as_the_same_address(address: ipaddress.IPv4Address) -> None:
    for spelling in _spellings(address):
        parsed = parse_host_address(spelling)
        if isinstance(parsed, ipaddress.IPv6Address):
            parsed = parsed.ipv4_mapped
        assert parsed == address, spelling


@given(ipv4s)
def test_every_spelling_gets_the_same_verdict(address: ipaddress.IPv4Address) -> None:
    verdicts = set()
    for spelling in _spellings(address):
        parsed = parse_host_address(spelling)
        assert parsed is not None
        verdicts.add(blocked_reason(parsed) is None)
    assert len(verdicts) == 1


@given(blocked_v4)
def test_internal_ipv4_is_refused_in_every_ipv6_wrapping(
        address: ipaddress.IPv4Address) -> None:
    n = int(address)
    assert blocked_reason(address) is not None
    wrappings = [
        ipaddress.IPv6Address(0xFFFF << 32 | n),  # ::ffff:a.b.c.d
        ipaddress.IPv6Address(0xFFFF << 48 | n),  # ::ffff:0:a.b.c.d (SIIT)
        ipaddress.IPv6Address(0x0064FF9B << 96 | n),  # 64:ff9b::a.b.c.d (NAT64)
        ipaddress.IPv6Address(0x2002 << 112 | n << 80),  # 2002:wwxx:yyzz:: (6to4)
    ]
    if n > 1:
        wrappings.append(ipaddress.IPv6Address(n))  # ::a.b.c.d (compatible)
    for wrapped in wrappings:
        assert embedded_ipv4(wrapped) == address
        assert blocked_reason(wrapped) is not None, wrapped


@given(blocked_v6)
def test_internal_ipv6_is_refused(address: ipaddress.IPv6Address) -> None:
    assert blocked_reason(address) is not None


@given(ipv4s)
def test_mapped_form_gets_the_same_verdict(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(0xFFFF << 32 | int(address))
    assert (blocked_reason(address) is None) == (blocked_reason(mapped) is None)


@given(ipv4s)
def test_only_globally_reachable_ipv4_passes(address: ipaddress.IPv4Address) -> None:
    if blocked_reason(address) is None:
        assert address.is_global
        assert not any(address in ipaddress.ip_network(n) for n in BLOCKED_V4)


@given(ipv4s, st.integers(8, 32))
def test_an_allowed_range_lets_its_addresses_through(address: ipaddress.IPv4Address,
                                                     prefix: int) -> None:
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    allow = AllowList.parse([str(network)])
    assert blocked_reason(address, allow) is None
    outside = network.broadcast_address + 1 if network.broadcast_address < ipaddress.IPv4Address(
        "255.255.255.255") else None
    if outside is not None and not outside.is_global:
        assert blocked_reason(outside, allow) is not None


@given(st.text(alphabet="0123456789abcdefxX.", min_size=1, max_size=16))
def test_reads_numbers_as_the_system_resolver_does(text: str) -> None:
    # Where glibc's inet_aton accepts a spelling, we read the same address from it (we
    # also read "0x" and a trailing dot, as browsers do: stricter, never looser).
    try:
        expected = ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return
    assert parse_host_address(text) == expected


@given(st.text(max_size=60))
def test_check_url_only_ever_refuses_with_blocked_address_error(url: str) -> None:
    with contextlib.suppress(BlockedAddressError):
        check_url(url)


@given(st.text(max_size=30))
def test_parse_host_address_never_crashes(host: str) -> None:
    parsed = parse_host_address(host)
    assert parsed is None or isinstance(parsed, ipaddress.IPv4Address | ipaddress.IPv6Address)
