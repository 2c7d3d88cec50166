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

import asyncio
import contextlib
import functools
import gzip
import ipaddress
import socket
import ssl
import struct
import threading
import zlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

import brotli

from watcher.errors import FetchError
from watcher.netguard import IPAddress, Resolver

# --- the server -------------------------------------------------------------------------


@dataclass
class Exchange:
    """One connection after its request head was read; behaviours write the answer."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    method: str
    path: str
    headers: dict[str, str]

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def send_head(self, status: int = 200, headers: Mapping[str, str] | None = None,
                        reason: str = "") -> None:
        lines = [f"HTTP/1.1 {status} {reason or _REASONS.get(status, 'Whatever')}"]
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), as a crashing or hostile peer does."""
        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


_REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other",
            304: "Not Modified", 307: "Temporary Redirect", 308: "Permanent Redirect",
            404: "Not Found", 410: "Gone", 429: "Too Many Requests",
            503: "Service Unavailable"}

Behaviour = Callable[[Exchange], Awaitable[None]]


@dataclass(frozen=True)
class SeenRequest:
    method: str
    path: str
    headers: Mapping[str, str]


class HostileServer:
    """An asyncio server in its own thread, answering each path with a behaviour.

    ``routes`` maps a path (without query) to a behaviour, or is one behaviour for every
    path. Unknown paths get a 404. ``requests`` and ``connections`` record what came in.
    """

    def __init__(self, routes: Behaviour | Mapping[str, Behaviour] | None = None, *,
                 host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Behaviour] = {}
        self.default: Behaviour | None = None
        if callable(routes):
            self.default = routes
        elif routes:
            self.routes.update(routes)
        self.host = host
        self.requests: list[SeenRequest] = []
        self.connections = 0
        self._ssl = ssl_context
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        shown = host or (f"[{self.host}]" if ":" in self.host else self.host)
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://{shown}:{self.port}{path}"

    def route(self, path: str, behaviour: Behaviour) -> None:
        self.routes[path] = behaviour

    def hits(self, path: str) -> int:
        return sum(1 for r in self.requests if r.path == path)

    def start(self) -> HostileServer:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self._server = future.result(timeout=5)
        return self

    async def _start(self) -> asyncio.Server:
        return await asyncio.start_server(self._serve, self.host, 0, ssl=self._ssl)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while True:  # keep-alive: several requests may come on one connection
                exchange = await _read_request(reader, writer)
                if exchange is None:
                    return
                self.requests.append(SeenRequest(exchange.method, exchange.path,
                                                 exchange.headers))
                path = exchange.path.split("?", 1)[0]
                behaviour = self.routes.get(path, self.default) or respond(404, b"not found")
                await behaviour(exchange)
                if writer.is_closing():
                    return
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        except asyncio.CancelledError:
            # Stopping the server: end quietly (asyncio's stream callback logs a traceback
            # for every handler task that ends cancelled).
            pass
        finally:
            self._tasks.discard(task)
            writer.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


async def _read_request(reader: asyncio.StreamReader,
                        writer: asyncio.StreamWriter) -> Exchange | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, path, _version = ([*request_line.split(" "), "", ""])[:3]
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return Exchange(reader, writer, method, path, headers)


class ConnectionRecorder:
    """A listener that accepts and counts connections and answers nothing.

    Point a redirect (or a guarded URL) at it: ``connections == 0`` proves the guard
    stopped the request before any packet reached this address.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.host = host
        self.connections = 0
        self.received = b""
        self._running = True
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def _accept(self) -> None:
        while self._running:
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections += 1
            conn.settimeout(0.2)
            with contextlib.suppress(OSError):
                self.received += conn.recv(4096)
            conn.close()

    def __enter__(self) -> ConnectionRecorder:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._running = False
        self._thread.join(timeout=2)
        self._sock.close()


# --- behaviours -------------------------------------------------------------------------


def respond(status: int = 200, body: bytes = b"", headers: Mapping[str, str] | None = None,
            *, content_length: int | None = None, close: bool = False) -> Behaviour:
    """A plain answer; ``content_length`` may lie (a body shorter than announced)."""

    async def behaviour(exchange: Exchange) -> None:
        length = len(body) if content_length is None else content_length
        all_headers = {"Content-Length": str(length), **(headers or {})}
        if close:
            all_headers["Connection"] = "close"
        await exchange.send_head(status, all_headers)
        if exchange.method != "HEAD":
            await exchange.send(body)
        if close or length != len(body):
            exchange.writer.close()

    return behaviour


def redirect(status: int, location: str) -> Behaviour:
    return respond(status, b"", {"Location": location})


def short_body(body: bytes, *, claimed: int) -> Behaviour:
    """Announces ``claimed`` bytes, sends ``body`` (fewer), closes cleanly."""
    return respond(200, body, content_length=claimed)


def drip(body: bytes, *, interval: float, headers: Mapping[str, str] | None = None
         ) -> Behaviour:
    """Headers at once, then one byte every ``interval`` seconds."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send_head(200, {"Content-Length": str(len(body)), **(headers or {})})
        for index in range(len(body)):
            await exchange.send(body[index:index + 1])
            await asyncio.sleep(interval)

    return behaviour


def stall(*, after_head: bool = False) -> Behaviour:
    """Never answers (or answers the head and then nothing); holds the connection open."""

    async def behaviour(exchange: Exchange) -> None:
        if after_head:
            await exchange.send_head(200, {"Content-Length": "100"})
        await asyncio.Event().wait()

    return behaviour


def reset_mid_body(body: bytes, *, after: int) -> Behaviour:
    """Announces the whole body, sends ``after`` bytes of it, then resets the connection."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send_head(200, {"Content-Length": str(len(body))})
        await exchange.send(body[:after])
        await asyncio.sleep(0.05)  # let the bytes leave before the RST
        exchange.reset()

    return behaviour


def endless_chunked(piece: bytes = b"<item><title>again</title></item>\n" * 100,
                    headers: Mapping[str, str] | None = None) -> Behaviour:
    """Transfer-Encoding: chunked, and the chunks never stop."""

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send_head(200, {"Transfer-Encoding": "chunked", **(headers or {})})
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        while True:
            await exchange.send(frame)

    return behaviour


def large_body(size: int, *, chunked: bool = False, piece: int = 64 * 1024) -> Behaviour:
    """``size`` bytes generated on the fly (never held in memory), announced or chunked."""

    async def behaviour(exchange: Exchange) -> None:
        framing = {"Transfer-Encoding": "chunked"} if chunked else {"Content-Length": str(size)}
        await exchange.send_head(200, framing)
        block = b"x" * piece
        left = size
        while left > 0:
            part = block[:min(piece, left)]
            left -= len(part)
            await exchange.send(f"{len(part):x}\r\n".encode() + part + b"\r\n"
                                if chunked else part)
        if chunked:
            await exchange.send(b"0\r\n\r\n")

    return behaviour


def encoded(payload: bytes, content_encoding: str, *, chunked: bool = False) -> Behaviour:
    """Serves an already-encoded payload with the given Content-Encoding."""
    headers = {"Content-Encoding": content_encoding, "Content-Type": "application/rss+xml"}
    if not chunked:
        return respond(200, payload, headers)

    async def behaviour(exchange: Exchange) -> None:
        await exchange.send_head(200, {"Transfer-Encoding": "chunked", **headers})
        await exchange.send(f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n")

    return behaviour


# --- bombs (built once per process, streamed from zeros: never held decoded) ------------

BOMB_SIZE = 256 * 1024 * 1024  # decoded size: far past any cap, cheap enough to build


@functools.cache
def gzip_bomb(size: int = BOMB_SIZE) -> bytes:
    """One gzip member that inflates to ``size`` zero bytes (about 1/1000 of it on the wire)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1024 * 1024)
    parts = [compressor.compress(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, compressor.flush()])


@functools.cache
def stacked_gzip_bomb(size: int = BOMB_SIZE, layers: int = 2) -> bytes:
    """gzip of gzip of ...: a few hundred bytes for ``Content-Encoding: gzip, gzip``."""
    payload = gzip_bomb(size)
    for _ in range(layers - 1):
        payload = gzip.compress(payload, 9)
    return payload


@functools.cache
def brotli_bomb(size: int = BOMB_SIZE) -> bytes:
    compressor = brotli.Compressor(quality=5)
    zeros = bytes(1024 * 1024)
    parts = [compressor.process(zeros) for _ in range(size // len(zeros))]
    return b"".join([*parts, compressor.finish()])


# --- DNS for tests ----------------------------------------------------------------------


@dataclass
class FakeDNS:
    """A resolver answering from a table; a name may answer differently on each lookup.

    ``answers["rebind.test"] = [["127.0.0.1"], ["127.0.0.2"]]`` answers the first lookup
    with 127.0.0.1 and every later one with 127.0.0.2 (DNS rebinding). ``lookups`` counts.
    """

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: dict[str, int] = field(default_factory=dict)

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        name = host.lower().rstrip(".")
        if name == "localhost" and name not in self.answers:
            return [ipaddress.ip_address("127.0.0.1")]
        if name not in self.answers:
            raise FetchError(f"could not resolve host {host!r} (test resolver)")
        count = self.lookups.get(name, 0)
        self.lookups[name] = count + 1
        rounds = self.answers[name]
        return [ipaddress.ip_address(a) for a in rounds[min(count, len(rounds) - 1)]]


def loopback_resolver(names: Mapping[str, str | list[str]] | None = None) -> Resolver:
    """A resolver answering ``names`` (name -> address or addresses) and ``localhost``.

    Anything else fails: no test ever asks a real DNS server.
    """
    dns = FakeDNS()
    for name, answer in (names or {}).items():
        dns.answers[name.lower()] = [[answer] if isinstance(answer, str) else list(answer)]
    return dns
