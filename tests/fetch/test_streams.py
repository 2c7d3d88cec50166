"""Connections that keep their socket (watcher/fetch/streams.py): a kept-alive connection
the server closed is never reused, and everything else is the wrapped stream's answer."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpcore
import pytest

from tests.support.hostile import Behaviour, Exchange, HostileServer, respond
from watcher.fetch import Fetcher
from watcher.fetch.streams import KnownSocketBackend, KnownSocketStream, socket_readable

CAP = 1024 * 1024


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    ours, theirs = socket.socketpair()
    yield ours, theirs
    ours.close()
    theirs.close()


def test_a_quiet_socket_is_not_readable(pair: tuple[socket.socket, socket.socket]) -> None:
    assert not socket_readable(pair[0])


def test_data_waiting_makes_a_socket_readable(pair: tuple[socket.socket, socket.socket]
                                              ) -> None:
    pair[1].sendall(b"x")
    assert socket_readable(pair[0])


def test_the_peers_close_makes_a_socket_readable(pair: tuple[socket.socket, socket.socket]
                                                 ) -> None:
    pair[1].close()
    assert socket_readable(pair[0])


def test_a_closed_or_missing_socket_counts_as_readable(
        pair: tuple[socket.socket, socket.socket]) -> None:
    pair[0].close()
    assert socket_readable(pair[0])
    assert socket_readable(None)


def _answer_then_hang_up(closed: threading.Event) -> Behaviour:
    """A keep-alive answer (no ``Connection: close``), then the server closes the
    connection while it sits idle in the client's pool, as servers do after their own
    keep-alive timeout."""
    answer = respond(200, b"first")

    async def behaviour(exchange: Exchange) -> None:
        await answer(exchange)
        await asyncio.sleep(0.05)
        exchange.writer.close()
        await exchange.writer.wait_closed()
        closed.set()

    return behaviour


async def test_a_connection_the_server_closed_is_not_reused(fetcher: Fetcher) -> None:
    closed = threading.Event()
    with HostileServer({"/first": _answer_then_hang_up(closed),
                        "/second": respond(200, b"second")}) as server:
        assert (await fetcher.get(server.url("/first"), max_bytes=CAP)).content == b"first"
        while not closed.is_set():
            await asyncio.sleep(0.01)
        # The pool must see the idle connection's socket readable (end of stream) and
        # open another; reusing the dead one would fail this request.
        second = await fetcher.get(server.url("/second"), max_bytes=CAP)
        assert second.content == b"second"
        assert server.connections == 2


async def test_a_live_kept_alive_connection_is_reused(fetcher: Fetcher) -> None:
    with HostileServer({"/a": respond(200, b"a"), "/b": respond(200, b"b")}) as server:
        for path in ("/a", "/b", "/a"):
            await fetcher.get(server.url(path), max_bytes=CAP)
        assert server.connections == 1


async def test_the_stream_answers_with_its_socket_and_passes_other_questions_on() -> None:
    with HostileServer({"/": respond(200, b"ok")}) as server:
        inner = httpcore.AnyIOBackend()
        stream = await KnownSocketBackend(inner).connect_tcp("127.0.0.1", server.port)
        try:
            assert isinstance(stream, KnownSocketStream)
            raw = stream.get_extra_info("socket")
            assert raw is not None and raw.fileno() >= 0
            assert stream.get_extra_info("server_addr") == ("127.0.0.1", server.port)
            assert stream.get_extra_info("is_readable") is False
            await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = await stream.read(65536, timeout=2.0)
            assert answer.startswith(b"HTTP/1.1 200")
        finally:
            await stream.aclose()
