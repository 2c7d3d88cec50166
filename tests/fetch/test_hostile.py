"""Fault injection: Fetcher.get against peers that misbehave on purpose (all on loopback).

For each: a clear FetchError, in bounded time. Memory under bombs is measured in
test_memory.py (in a subprocess, so other tests' allocations do not blur the figure).
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import socket
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime

import brotli
import pytest

from tests.support.hostile import (
    Exchange,
    HostileServer,
    brotli_bomb,
    drip,
    encoded,
    endless_chunked,
    gzip_bomb,
    large_body,
    loopback_resolver,
    reset_mid_body,
    respond,
    short_body,
    stacked_gzip_bomb,
    stall,
)
from watcher.config import NetworkConfig
from watcher.errors import FetchError, ResponseTooLargeError
from watcher.fetch import Fetcher, build_client

NETWORK = NetworkConfig(allow=("127.0.0.1",), connect_timeout=1.0, read_timeout=1.0,
                        total_timeout=2.0)
CAP = 1024 * 1024
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def peer() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


async def _fetcher_for(network: NetworkConfig) -> AsyncIterator[Fetcher]:
    async with build_client(network, resolver=loopback_resolver()) as client:
        yield Fetcher(client, network, clock=lambda: NOW)


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async for f in _fetcher_for(NETWORK):
        yield f


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.elapsed = time.monotonic() - self.started


# --- slow peers: the total deadline ------------------------------------------------------

async def test_drip_feed_is_cut_by_the_total_deadline(peer: HostileServer) -> None:
    # One byte every 0.1 s never trips a 5 s per-read timeout: only the total deadline can.
    network = NetworkConfig(allow=("127.0.0.1",), read_timeout=5.0, total_timeout=0.8)
    peer.route("/drip", drip(b"<rss>" + b" " * 500 + b"</rss>", interval=0.1))
    async for fetcher in _fetcher_for(network):
        with Timer() as timer, pytest.raises(FetchError, match=r"^timed out after 0\.8s$"):
            await fetcher.get(peer.url("/drip"), max_bytes=CAP)
    assert 0.7 < timer.elapsed < 1.8


@pytest.mark.parametrize("after_head", [False, True])
async def test_stalled_server_hits_the_read_timeout(peer: HostileServer,
                                                    after_head: bool) -> None:
    network = NetworkConfig(allow=("127.0.0.1",), read_timeout=0.3, total_timeout=5.0)
    peer.route("/stall", stall(after_head=after_head))
    async for fetcher in _fetcher_for(network):
        with Timer() as timer, pytest.raises(FetchError, match=r"^read timed out"):
            await fetcher.get(peer.url("/stall"), max_bytes=CAP)
    assert timer.elapsed < 1.5


async def test_stalled_server_with_long_read_timeout_hits_the_deadline(
        peer: HostileServer) -> None:
    network = NetworkConfig(allow=("127.0.0.1",), read_timeout=30.0, total_timeout=0.5)
    peer.route("/stall", stall())
    async for fetcher in _fetcher_for(network):
        with Timer() as timer, pytest.raises(FetchError, match=r"^timed out after 0\.5s$"):
            await fetcher.get(peer.url("/stall"), max_bytes=CAP)
    assert timer.elapsed < 1.5


async def test_deadline_spans_all_redirect_hops(peer: HostileServer) -> None:
    # Each hop is quick enough alone; together they pass the budget.
    network = NetworkConfig(allow=("127.0.0.1",), read_timeout=5.0, total_timeout=0.6,
                            max_redirects=20)
    for n in range(10):
        async def slow_hop(exchange: Exchange, n: int = n) -> None:
            await asyncio.sleep(0.15)
            await respond(302, b"", {"Location": f"/slow{n + 1}"})(exchange)
        peer.route(f"/slow{n}", slow_hop)
    async for fetcher in _fetcher_for(network):
        with Timer() as timer, pytest.raises(FetchError, match=r"^timed out after 0\.6s$"):
            await fetcher.get(peer.url("/slow0"), max_bytes=CAP)
    assert timer.elapsed < 1.5


async def test_connect_timeout_when_the_peer_never_accepts() -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs.
    network = NetworkConfig(allow=("127.0.0.1",), connect_timeout=0.3, total_timeout=5.0)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):  # fill the backlog (its real size depends on the kernel)
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        time.sleep(0.05)
        async for fetcher in _fetcher_for(network):
            with Timer() as timer, pytest.raises(FetchError, match="timed out"):
                await fetcher.get(f"http://127.0.0.1:{port}/", max_bytes=CAP)
        assert timer.elapsed < 1.5
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


# --- broken bodies --------------------------------------------------------------------

async def test_reset_mid_body(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/reset", reset_mid_body(b"x" * 50_000, after=1000))
    with Timer() as timer, pytest.raises(FetchError) as caught:
        await fetcher.get(peer.url("/reset"), max_bytes=CAP)
    message = str(caught.value)
    assert "reset" in message or "closed before the whole body" in message, message
    assert timer.elapsed < 1.5


async def test_body_shorter_than_content_length(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/short", short_body(b"<rss>cut", claimed=5000))
    with pytest.raises(FetchError, match="closed before the whole body arrived"):
        await fetcher.get(peer.url("/short"), max_bytes=CAP)


async def test_garbage_instead_of_http(peer: HostileServer, fetcher: Fetcher) -> None:
    async def garbage(exchange: Exchange) -> None:
        await exchange.send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        exchange.writer.close()
    peer.route("/ssh", garbage)
    with pytest.raises(FetchError, match="bad HTTP response"):
        await fetcher.get(peer.url("/ssh"), max_bytes=CAP)


async def test_corrupt_gzip(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/bad", encoded(b"\x1f\x8b\x08\x00not gzip at all", "gzip"))
    with pytest.raises(FetchError, match="corrupt gzip body"):
        await fetcher.get(peer.url("/bad"), max_bytes=CAP)


async def test_corrupt_brotli(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/bad", encoded(b"\xff\xff\xff\xff not brotli", "br"))
    with pytest.raises(FetchError, match="corrupt br body"):
        await fetcher.get(peer.url("/bad"), max_bytes=CAP)


@pytest.mark.parametrize("encoding, message", [
    ("zstd", "unsupported Content-Encoding 'zstd'"),
    ("compress", "unsupported Content-Encoding 'compress'"),
    ("gzip, gzip, gzip, gzip", r"too many Content-Encoding layers \(4\)"),
])
async def test_refused_encodings(peer: HostileServer, fetcher: Fetcher, encoding: str,
                                 message: str) -> None:
    peer.route("/enc", encoded(b"whatever", encoding))
    with pytest.raises(FetchError, match=message):
        await fetcher.get(peer.url("/enc"), max_bytes=CAP)


# --- too much: caps on decoded bytes ----------------------------------------------------

async def test_endless_chunked_body_is_capped(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/endless", endless_chunked())
    with Timer() as timer, pytest.raises(ResponseTooLargeError,
                                         match=f"larger than {CAP} bytes"):
        await fetcher.get(peer.url("/endless"), max_bytes=CAP)
    assert timer.elapsed < 1.5


@pytest.mark.parametrize("chunked", [False, True])
async def test_sixty_megabytes_is_refused_at_the_feed_cap(peer: HostileServer,
                                                          fetcher: Fetcher,
                                                          chunked: bool) -> None:
    peer.route("/big", large_body(60 * 1024 * 1024, chunked=chunked))
    cap = NetworkConfig().max_feed_bytes
    with Timer() as timer, pytest.raises(ResponseTooLargeError) as caught:
        await fetcher.get(peer.url("/big"), max_bytes=cap)
    assert caught.value.status == 200
    assert timer.elapsed < 2.0


async def test_body_at_exactly_the_cap_is_fine(peer: HostileServer, fetcher: Fetcher) -> None:
    peer.route("/exact", respond(200, b"y" * 4096))
    assert len((await fetcher.get(peer.url("/exact"), max_bytes=4096)).content) == 4096
    with pytest.raises(ResponseTooLargeError):
        await fetcher.get(peer.url("/exact"), max_bytes=4095)


BOMBS = ["gzip", "brotli", "stacked gzip", "gzip then brotli", "deflate", "gzip members"]


@functools.cache
def _bomb(name: str) -> tuple[str, bytes]:
    """(Content-Encoding, payload); each inflates to hundreds of MiB."""
    if name == "gzip":
        return "gzip", gzip_bomb()
    if name == "brotli":
        return "br", brotli_bomb()
    if name == "stacked gzip":
        return "gzip, gzip", stacked_gzip_bomb()
    if name == "gzip then brotli":
        return "gzip, br", brotli.compress(gzip_bomb())
    if name == "deflate":
        return "deflate", zlib.compress(bytes(64 * 1024 * 1024), 9)
    return "gzip", gzip.compress(bytes(1024 * 1024)) * 256  # many small members


@pytest.mark.parametrize("name", BOMBS)
@pytest.mark.parametrize("chunked", [False, True])
async def test_decompression_bombs_are_capped(peer: HostileServer, fetcher: Fetcher,
                                              name: str, chunked: bool) -> None:
    encoding, payload = _bomb(name)
    peer.route("/bomb", encoded(payload, encoding, chunked=chunked))
    with Timer() as timer, pytest.raises(ResponseTooLargeError,
                                         match=f"larger than {CAP} bytes"):
        await fetcher.get(peer.url("/bomb"), max_bytes=CAP)
    assert timer.elapsed < 2.0


# --- statuses the lifecycle acts on -----------------------------------------------------

@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("header, expected", [
    ("120", 120.0),
    ("0", 0.0),
    ("  30 ", 30.0),
    ("Wed, 01 May 2024 12:05:00 GMT", 300.0),  # IMF-fixdate, 5 minutes after NOW
    ("Wednesday, 01-May-24 12:01:00 GMT", 60.0),  # RFC 850
    ("Wed May  1 12:00:30 2024", 30.0),  # asctime
    ("Tue, 30 Apr 2024 12:00:00 GMT", 0.0),  # in the past: now
    ("99999999", 24 * 3600.0),  # capped
    ("soon", None),
    ("-5", None),
    (None, None),
])
async def test_retry_after_in_every_form(peer: HostileServer, fetcher: Fetcher, status: int,
                                         header: str | None, expected: float | None) -> None:
    headers = {"Retry-After": header} if header is not None else {}
    peer.route("/busy", respond(status, b"busy", headers))
    with pytest.raises(FetchError) as caught:
        await fetcher.get(peer.url("/busy"), max_bytes=CAP)
    assert caught.value.status == status
    assert caught.value.retry_after == expected
    assert str(caught.value).startswith(f"HTTP {status} ")


async def test_retry_after_ignored_on_other_statuses(peer: HostileServer,
                                                     fetcher: Fetcher) -> None:
    peer.route("/e", respond(500, b"", {"Retry-After": "60"}))
    with pytest.raises(FetchError) as caught:
        await fetcher.get(peer.url("/e"), max_bytes=CAP)
    assert caught.value.retry_after is None


async def test_keepalive_survives_an_error_answer(peer: HostileServer,
                                                  fetcher: Fetcher) -> None:
    # An error answer's body is not read; the connection is dropped, not reused dirty.
    peer.route("/err", respond(404, b"x" * 100_000))
    peer.route("/ok", respond(200, b"fine"))
    with pytest.raises(FetchError):
        await fetcher.get(peer.url("/err"), max_bytes=CAP)
    assert (await fetcher.get(peer.url("/ok"), max_bytes=CAP)).content == b"fine"
