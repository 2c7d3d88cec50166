"""SSRF guard: which addresses the watcher may connect to, and a connector that keeps to them.

Every URL the watcher fetches comes from strangers (feeds, article links, redirects), so a
feed must not be able to point the daemon at its own network: the router's admin page, a
cloud metadata service, a database listening on localhost.

Semantics:

* Only ``http`` and ``https`` URLs are fetched.
* A host name is resolved, and EVERY address it resolves to must be public; one internal
  address refuses the whole name (a name mixing public and private answers is an attack,
  not a misconfiguration).
* Refused: loopback, private (RFC 1918, IPv6 unique-local), link-local, shared CGNAT space
  (100.64.0.0/10), multicast, unspecified, reserved and documentation ranges, and cloud
  metadata endpoints. IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``,
  compatible ``::a.b.c.d``, SIIT, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) are
  judged by the IPv4 address inside too.
* Literal hosts are read the way browsers and ``inet_aton`` read them, so ``2130706433``,
  ``0x7f.1``, ``017700000001`` and ``127.1`` all mean 127.0.0.1.
* The connection goes to the address that was checked (``GuardedBackend.connect_tcp``
  resolves once, checks, then connects to the IP), so DNS cannot answer differently
  between the check and the connect (DNS rebinding). TLS still verifies the host name:
  httpcore passes the URL's host to ``start_tls`` for SNI and certificate checks.
* ``NetworkConfig.allow`` lets deliberate local feeds through: addresses, CIDR ranges, host
  names. An allowed host name skips the address check for that name only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore

from watcher.errors import BlockedAddressError, FetchError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A resolver maps (host, port) to the addresses to try, in order. Injectable so tests can
# play DNS (names answering with internal addresses, rebinding) without touching real DNS.
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Addresses of one name tried in turn before giving up (every answer is checked first).
_MAX_ADDRESSES = 4

# Checked in order: the first matching range names the reason. Specific entries (metadata)
# come before the ranges that contain them so the message says what the target really is.
_V4_RANGES: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "cloud metadata"),  # AWS, GCP, Azure, OpenStack, Oracle
    ("169.254.170.2/32", "cloud metadata"),  # AWS ECS task metadata
    ("100.100.100.200/32", "cloud metadata"),  # Alibaba Cloud
    ("0.0.0.0/8", "unspecified"),  # "this network": 0.0.0.0 reaches localhost on Linux
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved (IETF protocol assignments)"),
    ("192.0.2.0/24", "reserved (documentation)"),
    ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved (benchmarking)"),
    ("198.51.100.0/24", "reserved (documentation)"),
    ("203.0.113.0/24", "reserved (documentation)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # includes the broadcast address 255.255.255.255
)

_V6_RANGES: tuple[tuple[str, str], ...] = (
    ("fd00:ec2::254/128", "cloud metadata"),  # AWS IMDS over IPv6
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "reserved (local-use NAT64)"),
    ("100::/64", "reserved (discard)"),
    ("2001:db8::/32", "reserved (documentation)"),
    ("3fff::/20", "reserved (documentation)"),
    ("5f00::/16", "reserved (SRv6)"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)


def _compile(ranges: tuple[tuple[str, str], ...]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), reason) for net, reason in ranges)


_V4_BLOCKS = _compile(_V4_RANGES)
_V6_BLOCKS = _compile(_V6_RANGES)

_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_COMPAT = ipaddress.IPv6Network("::/96")
_SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class AllowList:
    """Deliberate exceptions to the guard (``network.allow`` in watcher.yaml)."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> AllowList:
        """Addresses (``127.0.0.1``, ``::1``), CIDR ranges (``10.0.0.0/8``) or host names.

        Raises ValueError for an entry that looks like a range but is not one.
        """
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in entries:
            entry = raw.strip().strip("[]")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if "/" in entry or ":" in entry:
                    raise ValueError(f"not an address, range or host name: {raw!r}") from None
                hosts.add(normalise_host(entry))
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return normalise_host(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        # ::ffff:127.0.0.1 is the same host as 127.0.0.1: allowing one allows the other.
        unwrapped = _unwrap_same_host(address)
        if unwrapped is not None:
            candidates.append(unwrapped)
        return any(a in net for a in candidates for net in self.networks
                   if a.version == net.version)


NO_EXCEPTIONS = AllowList()


def normalise_host(host: str) -> str:
    """Lower-case, without brackets or the trailing dot of a fully qualified name."""
    return host.strip().strip("[]").rstrip(".").lower()


def _unwrap_same_host(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 socket address really reaches (mapped / compatible forms)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _COMPAT and int(address) > 1:  # :: and ::1 are not IPv4-compatible
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, for the forms translators act on."""
    same = _unwrap_same_host(address)
    if same is not None:
        return same
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIIT or address in _NAT64:
        return low32
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client; the server part is checked by the caller
    return None


def blocked_reason(address: IPAddress, allow: AllowList = NO_EXCEPTIONS) -> str | None:
    """Why connecting to ``address`` is refused, or None when it is allowed. Pure."""
    if allow.allows_address(address):
        return None
    if isinstance(address, ipaddress.IPv4Address):
        return _reason_v4(address)
    if address.scope_id:
        address = ipaddress.IPv6Address(address.compressed.split("%", 1)[0])
    for network, reason in _V6_BLOCKS:
        if address in network:
            return reason
    inner = embedded_ipv4(address)
    if inner is not None:
        inner_reason = _reason_v4(inner)
        if inner_reason is not None:
            return f"{inner_reason} (IPv4 {inner} inside {address})"
    if address.teredo is not None:
        server_reason = _reason_v4(address.teredo[0])
        if server_reason is not None:
            return f"{server_reason} (Teredo server inside {address})"
    if not address.is_global and inner is None:
        # Anything else the IANA registry marks as not globally reachable.
        return "not globally reachable"
    return None


def _reason_v4(address: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_BLOCKS:
        if address in network:
            return reason
    return None if address.is_global else "not globally reachable"


def parse_host_address(host: str) -> IPAddress | None:
    """The address a URL host literally names, in every spelling a resolver accepts.

    ``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``, ``[::ffff:127.0.0.1]`` and
    ``127.0.0.1.`` all give 127.0.0.1; a host name gives None.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    return _parse_inet_aton(text)


def _parse_inet_aton(text: str) -> ipaddress.IPv4Address | None:
    # The WHATWG URL / inet_aton reading: 1 to 4 parts, each decimal, octal (leading 0) or
    # hex (0x); the last part fills the remaining bytes. What glibc's resolver accepts too.
    parts = text.split(".")
    if parts and parts[-1] == "" and len(parts) > 1:
        parts.pop()  # one trailing dot is allowed
    if not 1 <= len(parts) <= 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _parse_number(part)
        if number is None:
            return None
        numbers.append(number)
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(head):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


_DIGITS = {8: frozenset("01234567"), 10: frozenset("0123456789"),
           16: frozenset("0123456789abcdefABCDEF")}


def _parse_number(part: str) -> int | None:
    if part[:2].lower() == "0x":
        digits, base = part[2:], 16
        if digits == "":
            return 0  # "0x" alone is zero to inet_aton
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if not digits or not set(digits) <= _DIGITS[base]:
        return None
    return int(digits, base)


def check_url(url: str, allow: AllowList = NO_EXCEPTIONS) -> None:
    """Refuse a URL before any I/O when its scheme or literal host is not allowed.

    Host names are judged later, on the addresses they resolve to (``GuardedBackend``).
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise BlockedAddressError(f"invalid URL {url!r}: {exc}") from None
    check_scheme(parts.scheme, repr(url))
    if not host:
        raise BlockedAddressError(f"no host in URL {url!r}")
    check_host(host, allow)


def check_scheme(scheme: str, shown: str) -> None:
    """Refuse a URL that is not http or https; ``shown`` is how the message names it."""
    if scheme.lower() not in ALLOWED_SCHEMES:
        raise BlockedAddressError(f"only http and https URLs are fetched, not {shown}")


def check_host(host: str, allow: AllowList = NO_EXCEPTIONS) -> None:
    """Refuse a literal address host that is not allowed; host names pass (resolved later)."""
    if allow.allows_host(host):
        return
    address = parse_host_address(host)
    if address is not None:
        reason = blocked_reason(address, allow)
        if reason is not None:
            raise BlockedAddressError(f"refused to connect to {host} ({address}): {reason}")


async def system_resolver(host: str, port: int) -> list[IPAddress]:
    """The operating system's resolver (getaddrinfo), run off the event loop."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise FetchError(f"could not resolve host {host!r}: {exc.strerror}") from None
    return [ipaddress.ip_address(str(sockaddr[0])) for *_, sockaddr in infos]


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks, and connects to the checked IP.

    It wraps httpcore's default backend: only ``connect_tcp`` changes. The streams it
    returns are the default ones, so TLS (``start_tls`` with the URL's host name for SNI
    and certificate verification), reads and writes behave exactly as without the guard.
    """

    def __init__(self, allow: AllowList = NO_EXCEPTIONS, *,
                 resolver: Resolver | None = None,
                 backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.allow = allow
        self._resolve = resolver or system_resolver
        self._backend = backend or httpcore.AnyIOBackend()

    async def addresses_for(self, host: str, port: int,
                            timeout: float | None = None) -> list[IPAddress]:
        """Resolve ``host`` once and return its addresses, all of them checked."""
        literal = parse_host_address(host)
        if literal is not None:
            addresses = [literal]
        else:
            async with asyncio.timeout(timeout):
                answers = await self._resolve(host, port)
            addresses = list(dict.fromkeys(answers))  # duplicates merged
            if not addresses:
                raise FetchError(f"could not resolve host {host!r}: no addresses")
        if not self.allow.allows_host(host):
            for address in addresses:
                reason = blocked_reason(address, self.allow)
                if reason is not None:
                    shown = host if literal is not None else f"{host} -> {address}"
                    raise BlockedAddressError(f"refused to connect to {shown}: {reason}")
        # All were checked; only a few are tried, each within the connect timeout.
        return addresses[:_MAX_ADDRESSES]

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.addresses_for(host, port, timeout)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host!r} timed out") from None
        options = list(socket_options or ())
        last_error: Exception | None = None
        for address in addresses:
            try:
                # The IP, not the name: the OS must not resolve again (DNS rebinding).
                return await self._backend.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # addresses is never empty here
        raise last_error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise BlockedAddressError("unix sockets are never fetched")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
