"""Connections that know their socket: httpcore's streams with a cheap readiness check.

Before each request httpcore's pool asks every idle connection whether it has expired, and
an idle connection that has expired is one whose socket has become readable (the server
closed it). httpcore's anyio stream answers through anyio's typed attributes, which build
a table of the socket's properties (its peer's address among them, a system call) on every
question, for every idle connection, before every request: a large share of a fetch's CPU
(docs/performance.md). The socket is known once connected; this stream keeps it and
answers from it, and leaves reading, writing and TLS to the stream it wraps.
"""

from __future__ import annotations

import select
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore


def socket_readable(sock: Any) -> bool:
    """Whether a read on ``sock`` would not block: data, or the peer's close. A socket
    that is gone counts as readable, so its connection is dropped rather than reused."""
    if sock is None or sock.fileno() < 0:
        return True
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class KnownSocketStream(httpcore.AsyncNetworkStream):
    """``stream`` with its raw socket kept, for ``socket`` and ``is_readable``."""

    def __init__(self, stream: httpcore.AsyncNetworkStream, sock: Any) -> None:
        self._stream = stream
        self._socket = sock

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._stream.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._stream.write(buffer, timeout)

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> httpcore.AsyncNetworkStream:
        # TLS runs over the same socket: its readiness still tells a closed connection.
        secured = await self._stream.start_tls(ssl_context, server_hostname, timeout)
        return KnownSocketStream(secured, self._socket)

    def get_extra_info(self, info: str) -> Any:
        if info == "socket":
            return self._socket
        if info == "is_readable":
            return socket_readable(self._socket)
        return self._stream.get_extra_info(info)


class KnownSocketBackend(httpcore.AsyncNetworkBackend):
    """``backend`` (httpcore's own by default) whose TCP streams know their socket."""

    def __init__(self, backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._backend = backend or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        stream = await self._backend.connect_tcp(
            host, port, timeout=timeout, local_address=local_address,
            socket_options=socket_options)
        return KnownSocketStream(stream, stream.get_extra_info("socket"))

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        return await self._backend.connect_unix_socket(path, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)
