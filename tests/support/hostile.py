"""Hostile peers on loopback for the fault-injection suites (and anyone else's tests).

Small servers that misbehave on purpose, each on 127.0.0.1 (or another loopback address)
with an OS-chosen port, started and stopped by the test:

    with HostileServer(drip(b"<rss>...", interval=0.2)) as peer:
        url = peer.url("/feed")

A behaviour is an ``async (reader, writer) -> None`` coroutine speaking raw HTTP/1.1, so it
can lie about Content-Length, stall, reset, or never end. ``ConnectionRecorder`` is a
listener that only counts connections: point a redirect at it to prove nothing reached it.

``loopback_resolver`` replaces DNS in tests: it knows only the names it is given and
refuses the rest, so no test ever asks a real DNS server anything.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from watcher.errors import FetchError
from watcher.netguard import IPAddress, Resolver


def loopback_resolver(names: Mapping[str, str | list[str]] | None = None) -> Resolver:
    """A resolver answering ``names`` (name -> address or addresses) and ``localhost``."""
    table: dict[str, list[IPAddress]] = {"localhost": [ipaddress.ip_address("127.0.0.1")]}
    for name, answer in (names or {}).items():
        answers = [answer] if isinstance(answer, str) else answer
        table[name.lower()] = [ipaddress.ip_address(a) for a in answers]

    async def resolve(host: str, port: int) -> list[IPAddress]:
        try:
            return list(table[host.lower().rstrip(".")])
        except KeyError:
            raise FetchError(f"could not resolve host {host!r} (test resolver)") from None

    return resolve
