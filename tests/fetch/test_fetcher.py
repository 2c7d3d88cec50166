"""Fetcher.get against a well-behaved local server: the everyday paths."""

from __future__ import annotations

import gzip
import socket
import zlib
from collections.abc import Callable

import brotli
import pytest

from tests.support.hostile import loopback_resolver
from tests.support.servers import LocalHTTPServer, Reply, Request
from watcher.config import USER_AGENT, NetworkConfig
from watcher.errors import BlockedAddressError, FetchError
from watcher.fetch import Fetcher, build_client, redirect_kind

FEED = b"<rss><channel><title>t</title></channel></rss>"


async def test_ok_returns_body_headers_and_our_user_agent(
        server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/feed", FEED, content_type="application/rss+xml")
    result = await fetcher.get(server.url("/feed"), max_bytes=1000,
                               accept="application/rss+xml")
    assert (result.status, result.content) == (200, FEED)
    assert result.url == result.requested_url == server.url("/feed")
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.etag and result.redirects == ()
    sent = server.requests[-1].headers
    assert sent["user-agent"] == USER_AGENT and "watcher" in sent["user-agent"]
    assert sent["accept"] == "application/rss+xml"
    assert sent["accept-encoding"] == "gzip, deflate, br"


async def test_conditional_get_gives_304_without_body(
        server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/feed", FEED)
    first = await fetcher.get(server.url("/feed"), max_bytes=1000)
    again = await fetcher.get(server.url("/feed"), max_bytes=1000, etag=first.etag,
                              last_modified="Sun, 06 Nov 1994 08:49:37 GMT")
    assert again.not_modified and again.content == b""
    sent = server.requests[-1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == "Sun, 06 Nov 1994 08:49:37 GMT"


def _raw_deflate(data: bytes) -> bytes:
    # What some servers (old IIS) send as "deflate": no zlib header.
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize("encoding, encode", [
    ("gzip", gzip.compress),
    ("x-gzip", gzip.compress),
    ("br", brotli.compress),
    ("deflate", zlib.compress),
    ("deflate", _raw_deflate),
    ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
    ("identity", lambda b: b),
])
async def test_content_encodings_are_decoded(server: LocalHTTPServer, fetcher: Fetcher,
                                             encoding: str,
                                             encode: Callable[[bytes], bytes]) -> None:
    body = FEED * 500
    server.route("/z", encode(body), headers={"Content-Encoding": encoding})
    result = await fetcher.get(server.url("/z"), max_bytes=len(body))
    assert result.content == body


async def test_gzip_with_several_members(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/m", gzip.compress(b"one ") + gzip.compress(b"two"),
                 headers={"Content-Encoding": "gzip"})
    assert (await fetcher.get(server.url("/m"), max_bytes=100)).content == b"one two"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 500, 502])
async def test_error_statuses_raise_with_status(server: LocalHTTPServer, fetcher: Fetcher,
                                                status: int) -> None:
    server.route("/x", b"nope", status=status)
    with pytest.raises(FetchError) as caught:
        await fetcher.get(server.url("/x"), max_bytes=1000)
    assert caught.value.status == status
    assert str(caught.value).startswith(f"HTTP {status} ")
    assert caught.value.retry_after is None


async def test_gone_says_gone(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.route("/old", b"", status=410)
    with pytest.raises(FetchError, match="HTTP 410 Gone"):
        await fetcher.get(server.url("/old"), max_bytes=1000)


def _redirect(status: int, to: str) -> Reply:
    return Reply(status, b"", {"Location": to}, etag=False)


def _redirecting(status: int, to: str) -> Callable[[Request], Reply]:
    return lambda _request: _redirect(status, to)


@pytest.mark.parametrize("statuses, kind", [
    ((301,), "permanent"), ((308,), "permanent"), ((301, 308), "permanent"),
    ((302,), "temporary"), ((307,), "temporary"), ((303,), "temporary"),
    ((301, 302), "temporary"),
])
async def test_redirects_are_listed_hop_by_hop(server: LocalHTTPServer, fetcher: Fetcher,
                                               statuses: tuple[int, ...], kind: str) -> None:
    for index, status in enumerate(statuses):
        target = f"/r{index + 1}" if index + 1 < len(statuses) else "/final"
        server.handle(f"/r{index}", _redirecting(status, target))
    server.route("/final", FEED)
    result = await fetcher.get(server.url("/r0"), max_bytes=1000)
    assert result.content == FEED and result.url == server.url("/final")
    assert result.requested_url == server.url("/r0")
    assert [r.status for r in result.redirects] == list(statuses)
    assert result.redirects[0].from_url == server.url("/r0")
    assert result.redirects[-1].to_url == server.url("/final")
    assert redirect_kind(result.redirects) == kind


async def test_relative_and_absolute_locations(server: LocalHTTPServer,
                                               fetcher: Fetcher) -> None:
    server.handle("/a/b", lambda _r: _redirect(302, "../c?x=1"))
    server.handle("/c", lambda _r: _redirect(302, server.url("/d#frag")))
    server.route("/d", FEED)
    result = await fetcher.get(server.url("/a/b"), max_bytes=1000)
    assert [r.to_url for r in result.redirects] == [server.url("/c?x=1"), server.url("/d")]


async def test_redirect_loop_is_detected(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.handle("/a", lambda _r: _redirect(301, "/b"))
    server.handle("/b", lambda _r: _redirect(302, "/a"))
    with pytest.raises(FetchError, match=r"redirect loop: .*/a -> .*/b -> .*/a"):
        await fetcher.get(server.url("/a"), max_bytes=1000)
    assert server.hits("/a") == 1 and server.hits("/b") == 1


async def test_self_redirect_is_a_loop(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.handle("/self", lambda _r: _redirect(307, "/self"))
    with pytest.raises(FetchError, match="redirect loop"):
        await fetcher.get(server.url("/self"), max_bytes=1000)


async def test_too_many_redirects(server: LocalHTTPServer, fetcher: Fetcher,
                                  network: NetworkConfig) -> None:
    for n in range(20):
        server.handle(f"/hop{n}", _redirecting(302, f"/hop{n + 1}"))
    with pytest.raises(FetchError, match=r"too many redirects \(more than 5\)"):
        await fetcher.get(server.url("/hop0"), max_bytes=1000)
    assert server.hits(f"/hop{network.max_redirects}") == 1
    assert server.hits(f"/hop{network.max_redirects + 1}") == 0


async def test_redirect_without_location(server: LocalHTTPServer, fetcher: Fetcher) -> None:
    server.handle("/r", lambda _r: Reply(301, b"", {}, etag=False))
    with pytest.raises(FetchError, match=r"HTTP 301 .*without a Location"):
        await fetcher.get(server.url("/r"), max_bytes=1000)


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x",
                                      "gopher://127.0.0.1:70/_", "dict://127.0.0.1:11211/"])
async def test_redirect_to_other_schemes_is_refused(server: LocalHTTPServer, fetcher: Fetcher,
                                                    location: str) -> None:
    server.handle("/r", lambda _r: _redirect(302, location))
    with pytest.raises(BlockedAddressError, match="only http and https"):
        await fetcher.get(server.url("/r"), max_bytes=1000)


@pytest.mark.parametrize("location", ["javascript:alert(1)", "http://[::1"])
async def test_unparseable_location_is_a_fetch_error(server: LocalHTTPServer,
                                                     fetcher: Fetcher, location: str) -> None:
    server.handle("/r", lambda _r: _redirect(302, location))
    with pytest.raises(FetchError, match="redirect"):
        await fetcher.get(server.url("/r"), max_bytes=1000)


async def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=rf"^connection refused \(127.0.0.1:{port}\)"):
        await fetcher.get(f"http://127.0.0.1:{port}/", max_bytes=1000)


async def test_not_allow_listed_loopback_is_refused(server: LocalHTTPServer) -> None:
    network = NetworkConfig()  # nothing allowed
    server.route("/feed", FEED)
    async with build_client(network, resolver=loopback_resolver()) as client:
        with pytest.raises(BlockedAddressError, match="loopback"):
            await Fetcher(client, network).get(server.url("/feed"), max_bytes=1000)
    assert server.requests == []


async def test_client_alone_is_guarded_too(server: LocalHTTPServer) -> None:
    """Code using the client directly (not through Fetcher) still passes the guard."""
    server.route("/feed", FEED)
    async with build_client(NetworkConfig(), resolver=loopback_resolver()) as client:
        with pytest.raises(BlockedAddressError):
            await client.get(server.url("/feed"))
    assert server.requests == []


@pytest.mark.parametrize("url", ["ftp://example.com/", "file:///etc/passwd", "example.com"])
async def test_only_http_and_https(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(BlockedAddressError, match="only http and https"):
        await fetcher.get(url, max_bytes=10)


async def test_invalid_url_is_a_fetch_error(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="invalid URL"):
        await fetcher.get("http://[::1/", max_bytes=10)


async def test_post_body_echo_unused(server: LocalHTTPServer) -> None:
    # Requests carry no body and only GET: what a feed reader needs.
    seen: list[Request] = []

    def echo(request: Request) -> Reply:
        seen.append(request)
        return Reply(200, b"ok")

    server.handle("/e", echo)
    network = NetworkConfig(allow=("127.0.0.1",))
    async with build_client(network, resolver=loopback_resolver()) as client:
        await Fetcher(client, network).get(server.url("/e"), max_bytes=10)
    assert seen[0].method == "GET" and seen[0].body == b""


async def test_cookies_live_for_one_request_only(server: LocalHTTPServer,
                                                 fetcher: Fetcher) -> None:
    def wall(request: Request) -> Reply:
        if "consent=yes" in request.headers.get("cookie", ""):
            return Reply(200, FEED)
        return Reply(302, b"", {"Location": "/wall", "Set-Cookie": "consent=yes; Path=/"},
                     etag=False)

    server.handle("/wall", wall)
    result = await fetcher.get(server.url("/wall"), max_bytes=1000)
    assert result.content == FEED and len(result.redirects) == 1
    await fetcher.get(server.url("/wall"), max_bytes=1000)
    # The second request started without the cookie: it was not kept by the client.
    assert "cookie" not in server.requests[-2].headers
