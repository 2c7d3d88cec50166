"""HTTP for the whole watcher: the one client factory and ``Fetcher.get``.

Everything the watcher downloads passes through ``Fetcher.get``, which guarantees, per
request:

* the SSRF guard (``watcher.netguard``) on the first URL and on every redirect hop, and at
  connect time on the addresses a name resolves to;
* a TOTAL deadline (``network.total_timeout``) around the whole exchange, body included:
  httpx's read timeout is per read, so a server dripping a byte a second is never timed
  out by it;
* a cap on DECODED bytes enforced while streaming. httpx decompresses each chunk without a
  bound (269 bytes of stacked gzip became 1 GiB in one chunk), so the body is read raw and
  decoded here, layer by layer, never more than ``_CHUNK`` bytes of output at a time;
* redirects followed hop by hop (``max_redirects``, loops detected), each one listed in
  ``HttpResult.redirects`` so callers can tell a permanent move from a temporary one;
* conditional GET (If-None-Match / If-Modified-Since); a 304 is a result, not an error;
* every failure as a ``FetchError`` with a message a user can act on ("connection
  refused (host:port)", "timed out after 60s", "TLS error: ..."), never an httpx exception.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Protocol
from urllib.parse import urlsplit

import brotli
import httpcore
import httpx

from watcher.config import NetworkConfig
from watcher.errors import BlockedAddressError, FetchError, ResponseTooLargeError
from watcher.hostlimit import HostLimiter
from watcher.netguard import (
    ALLOWED_SCHEMES,
    AllowList,
    GuardedBackend,
    Resolver,
    check_host,
)
from watcher.types import HttpResult, Redirect

# brotli < 1.2 cannot bound the output of one call (a 1.6 KB input can yield 1 GiB), so
# with it "br" is neither offered nor accepted.
_BROTLI_BOUNDED = hasattr(brotli.Decompressor, "can_accept_more_data")

# Only what _layer() can decode with a bound. httpx would also offer zstd when the
# zstandard package happens to be installed; we must not advertise what we cannot cap.
ACCEPT_ENCODING = "gzip, deflate, br" if _BROTLI_BOUNDED else "gzip, deflate"

# Largest piece of decoded output produced at once. Bounds memory per layer of
# Content-Encoding whatever the compression ratio.
_CHUNK = 64 * 1024

# A Retry-After beyond this is treated as this: a server must not park a feed for months.
RETRY_AFTER_CAP = 24 * 3600.0

# More layers than this is an attack, not a CDN.
_MAX_ENCODING_LAYERS = 3

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})

# The pool is global; politeness per host is HostLimiter's job.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20,
                       keepalive_expiry=30.0)


# --- pure helpers -----------------------------------------------------------------------

def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date.

    Capped at ``RETRY_AFTER_CAP``; a date in the past gives 0; garbage gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(int(text))
    else:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # asctime form carries no zone; HTTP dates are GMT
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - now).total_seconds())
    return min(seconds, RETRY_AFTER_CAP)


def parse_max_age(cache_control: str | None) -> float | None:
    """``max-age`` from a Cache-Control header, in seconds; None when absent or invalid.

    ``no-store`` / ``no-cache`` give 0: the server asks not to rely on a cached copy.
    """
    if not cache_control:
        return None
    max_age: float | None = None
    no_cache = False
    for directive in cache_control.split(","):
        name, _, argument = directive.strip().partition("=")
        name = name.strip().lower()
        argument = argument.strip().strip('"')
        if name in ("no-store", "no-cache"):
            no_cache = True
        elif name == "max-age" and max_age is None:
            if not argument.isdigit():
                return None  # RFC 9111: an invalid max-age makes the response stale
            max_age = float(int(argument))
    if no_cache:
        return 0.0
    return max_age


def redirect_kind(redirects: tuple[Redirect, ...]) -> str:
    """"permanent" when every hop is 301/308, "temporary" when any is not, "" when none."""
    if not redirects:
        return ""
    return "permanent" if all(r.status in (301, 308) for r in redirects) else "temporary"


# --- bounded decoding -------------------------------------------------------------------

class _Layer(Protocol):
    def feed(self, data: bytes) -> None: ...

    def read(self, limit: int) -> bytes:
        """Up to about ``limit`` decoded bytes; b"" when more input is needed."""
        ...


class _Identity:
    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def read(self, limit: int) -> bytes:
        out, self._buffer = self._buffer[:limit], self._buffer[limit:]
        return out


class _Zlib:
    """gzip (several members allowed) or deflate (zlib-wrapped, or raw as IIS sends it)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._decompressor: zlib._Decompress | None = (
            zlib.decompressobj(16 + zlib.MAX_WBITS) if gzip else None)
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def read(self, limit: int) -> bytes:
        decompressor = self._decompressor
        if decompressor is None:  # deflate: the first two bytes tell zlib from raw
            if len(self._input) < 2:
                return b""
            cmf, flg = self._input[0], self._input[1]
            wrapped = cmf & 0x0F == 8 and (cmf * 256 + flg) % 31 == 0
            decompressor = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            self._decompressor = decompressor
        if decompressor.eof:
            rest = decompressor.unused_data + self._input
            if not (self._gzip and rest.startswith(b"\x1f\x8b")):
                self._input = b""  # trailing junk after the stream: ignored, as browsers do
                return b""
            decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)  # next gzip member
            self._decompressor = decompressor
            self._input = rest
        # Always call, even with no new input: after a full ``limit`` of output zlib may
        # still hold part of a long match to copy out.
        out = decompressor.decompress(self._input, limit)
        self._input = decompressor.unconsumed_tail
        return out


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()
        self._input = b""

    def feed(self, data: bytes) -> None:
        self._input += data

    def read(self, limit: int) -> bytes:
        # brotli >= 1.2 bounds each call's output; until it says it can take more input,
        # it must be called with empty input to drain what it holds.
        if not self._decompressor.can_accept_more_data():
            return bytes(self._decompressor.process(b"", output_buffer_limit=limit))
        if not self._input:
            return b""
        data, self._input = self._input, b""
        return bytes(self._decompressor.process(data, output_buffer_limit=limit))


def _layer(encoding: str) -> _Layer:
    if encoding in ("gzip", "x-gzip"):
        return _Zlib(gzip=True)
    if encoding == "deflate":
        return _Zlib(gzip=False)
    if encoding == "br" and _BROTLI_BOUNDED:
        return _Brotli()
    raise FetchError(f"unsupported Content-Encoding {encoding!r}")


class BoundedDecoder:
    """Undoes Content-Encoding (stacked too) producing at most ``limit`` bytes per read.

    Output is pulled from the last layer; a layer asks the one before it for more only when
    it has nothing left, so no layer ever holds more than one chunk of its input.
    """

    def __init__(self, content_encoding: str | None) -> None:
        encodings = [e.strip().lower() for e in (content_encoding or "").split(",")]
        encodings = [e for e in encodings if e and e != "identity"]
        if len(encodings) > _MAX_ENCODING_LAYERS:
            raise FetchError(f"too many Content-Encoding layers ({len(encodings)})")
        # The server applied them in the order listed; undo them in reverse.
        self._layers: list[_Layer] = [_Identity()]
        self._layers += [_layer(e) for e in reversed(encodings)]

    def feed(self, raw: bytes) -> None:
        self._layers[0].feed(raw)

    def read(self, limit: int = _CHUNK) -> bytes:
        return self._pull(len(self._layers) - 1, limit)

    def _pull(self, index: int, limit: int) -> bytes:
        layer = self._layers[index]
        while True:
            out = layer.read(limit)
            if out or index == 0:
                return out
            upstream = self._pull(index - 1, limit)
            if not upstream:
                return b""
            layer.feed(upstream)


# --- the client -------------------------------------------------------------------------

class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection passes the guard."""

    def __init__(self, network: NetworkConfig, *, resolver: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 limits: httpx.Limits = _LIMITS,
                 inner_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # inner_backend: what finally opens sockets; tests put a recorder there to prove
        # that refused targets never see a connection attempt.
        self.backend = GuardedBackend(AllowList.parse(network.allow), resolver=resolver,
                                      backend=inner_backend)
        # httpx offers no parameter for an httpcore network backend, so the pool it built
        # is replaced by the same pool with ours (tests/fetch check this stays true).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            retries=0,
            network_backend=self.backend,
        )


def build_client(network: NetworkConfig, *, resolver: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    """THE httpx client of the watcher: guarded transport, timeouts, our User-Agent.

    Redirects are not followed by httpx: ``Fetcher`` follows them hop by hop so each hop
    is checked and recorded. ``trust_env=False``: a proxy from the environment would be
    the only address the guard ever saw. ``resolver`` and ``ssl_context`` (certificate
    verification stays on; the context says which CAs to trust) are seams for tests.
    """
    timeout = httpx.Timeout(connect=network.connect_timeout, read=network.read_timeout,
                            write=network.read_timeout, pool=network.total_timeout)
    return httpx.AsyncClient(
        transport=GuardedTransport(network, resolver=resolver, ssl_context=ssl_context),
        # No shared cookie jar: strangers' cookies would follow us from feed to feed and
        # grow for months. Fetcher keeps cookies for the hops of one request only.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        timeout=timeout,
        headers={"User-Agent": network.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        follow_redirects=False,
        trust_env=False,
    )


@dataclass(frozen=True)
class _Answer:
    """One hop's response: status, headers, and the body when it was wanted."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes = b""


class Fetcher:
    """GET with the watcher's guarantees (see the module docstring)."""

    def __init__(self, client: httpx.AsyncClient, network: NetworkConfig,
                 host_limiter: HostLimiter | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._client = client
        self._network = network
        self._limiter = host_limiter
        self._allow = AllowList.parse(network.allow)
        self._clock = clock

    async def get(self, url: str, *, max_bytes: int, etag: str | None = None,
                  last_modified: str | None = None, accept: str | None = None) -> HttpResult:
        """The response to GET ``url`` for 2xx and 304, after following redirects.

        Raises FetchError (``status`` and ``retry_after`` set for HTTP errors),
        BlockedAddressError, ResponseTooLargeError.
        """
        started = time.monotonic()
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        if accept:
            headers["Accept"] = accept
        redirects: list[Redirect] = []
        # Sites that set a cookie and redirect to themselves (consent walls) need it back
        # on the next hop; it is forgotten when this request ends.
        cookies = httpx.Cookies()
        chain = [_parse_url(url)]
        # A loop is a URL seen again with the same cookies: a consent wall that sets a
        # cookie and redirects to itself is not one.
        visited = {_visit(chain[0], cookies)}
        budget = self._network.total_timeout
        while True:
            current = chain[-1]
            answer, spent = await self._hop(current, headers, cookies, max_bytes, budget)
            budget -= spent
            if answer.status in _REDIRECT_STATUSES and "location" in answer.headers:
                target = _redirect_target(current, answer.headers["location"])
                redirects.append(Redirect(answer.status, str(current), str(target)))
                if _visit(target, cookies) in visited:
                    hops = " -> ".join(str(u) for u in [*chain, target])
                    raise FetchError(f"redirect loop: {hops}", status=answer.status)
                visited.add(_visit(target, cookies))
                if len(redirects) > self._network.max_redirects:
                    raise FetchError(
                        f"too many redirects (more than {self._network.max_redirects})",
                        status=answer.status)
                chain.append(target)
                continue
            if 200 <= answer.status < 300 or answer.status == 304:
                return HttpResult(
                    requested_url=url, url=str(current), status=answer.status,
                    headers=answer.headers, content=answer.content,
                    redirects=tuple(redirects),
                    elapsed_ms=(time.monotonic() - started) * 1000)
            raise self._status_error(answer)

    def _status_error(self, answer: _Answer) -> FetchError:
        retry_after = None
        message = f"HTTP {answer.status} {answer.reason}".rstrip()
        if answer.status in _REDIRECT_STATUSES:
            message += " without a Location header"
        if answer.status in (429, 503):
            retry_after = parse_retry_after(answer.headers.get("retry-after"), self._clock())
            if retry_after is not None:
                message += f" (retry after {retry_after:g}s)"
        return FetchError(message, status=answer.status, retry_after=retry_after)

    async def _hop(self, url: httpx.URL, headers: Mapping[str, str], cookies: httpx.Cookies,
                   max_bytes: int, budget: float) -> tuple[_Answer, float]:
        """One request/response within the host's slot and the remaining time budget.

        Returns the answer and the seconds it took once the slot was ours.
        """
        if url.scheme not in ALLOWED_SCHEMES:
            raise BlockedAddressError(f"only http and https URLs are fetched, not {url}")
        check_host(url.host, self._allow)  # literal addresses refused before any I/O
        total = self._network.total_timeout
        if budget <= 0:
            raise FetchError(f"timed out after {total:g}s")
        async with self._slot(url.host):
            # The deadline starts once the slot is ours: waiting for politeness is not the
            # server's slowness.
            deadline = asyncio.timeout(budget)
            started = time.monotonic()
            try:
                async with deadline:
                    answer = await self._exchange(url, headers, cookies, max_bytes)
                return answer, time.monotonic() - started
            except TimeoutError:
                if deadline.expired():
                    raise FetchError(f"timed out after {total:g}s") from None
                raise FetchError(f"timed out ({url.host})") from None
            except httpx.HTTPError as exc:
                raise _translate(exc, url, self._network) from exc

    def _slot(self, host: str) -> AbstractAsyncContextManager[None]:
        if self._limiter is None:
            return nullcontext()
        return self._limiter.slot(host)

    async def _exchange(self, url: httpx.URL, headers: Mapping[str, str],
                        cookies: httpx.Cookies, max_bytes: int) -> _Answer:
        request = self._client.build_request("GET", url, headers=headers, cookies=cookies)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.InvalidURL as exc:
            # httpx prepares the next request of a redirect even when not following it,
            # and fails there on a Location it cannot parse.
            raise FetchError(f"redirect to an invalid URL ({exc}) from {url}") from None
        try:
            cookies.extract_cookies(response)
            answer = _Answer(str(url), response.status_code, response.reason_phrase,
                             {k.lower(): v for k, v in response.headers.items()})
            if not 200 <= response.status_code < 300:
                return answer  # redirects, 304 and errors: the body is not wanted
            content = await _read_capped(response, max_bytes)
            return _Answer(answer.url, answer.status, answer.reason, answer.headers, content)
        finally:
            await response.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, refused as soon as it passes ``max_bytes``."""
    too_large = ResponseTooLargeError(f"response larger than {max_bytes} bytes",
                                      status=response.status_code)
    encoding = response.headers.get("content-encoding")
    declared = response.headers.get("content-length", "")
    if not encoding and declared.isdigit() and int(declared) > max_bytes:
        raise too_large  # says so up front: no need to download it
    decoder = BoundedDecoder(encoding)
    parts: list[bytes] = []
    raw_total = decoded_total = 0
    try:
        async for raw in response.aiter_raw():
            raw_total += len(raw)
            if raw_total > max_bytes:  # compressed never beats decoded by much
                raise too_large
            decoder.feed(raw)
            while chunk := decoder.read():
                decoded_total += len(chunk)
                if decoded_total > max_bytes:
                    raise too_large
                parts.append(chunk)
    except (zlib.error, brotli.error) as exc:
        raise FetchError(f"corrupt {encoding} body: {exc}",
                         status=response.status_code) from None
    return b"".join(parts)


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise BlockedAddressError(f"only http and https URLs are fetched, not {url!r}")
    if not parsed.host:
        raise FetchError(f"invalid URL {url!r}: no host")
    return parsed.copy_with(fragment=None)


def _visit(url: httpx.URL, cookies: httpx.Cookies) -> tuple[str, frozenset[tuple[str, str]]]:
    return str(url), frozenset((c.name, c.value or "") for c in cookies.jar)


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    location = location.strip()
    # Judge the scheme on the text: URL joining has opinions about "javascript:x".
    scheme = urlsplit(location).scheme.lower()
    if scheme and scheme not in ALLOWED_SCHEMES:
        raise BlockedAddressError(f"only http and https URLs are fetched, not {location!r}")
    try:
        return _parse_url(str(current.join(location)))
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(f"invalid redirect Location {location!r}: {exc}") from None


def _translate(exc: httpx.HTTPError, url: httpx.URL, network: NetworkConfig) -> FetchError:
    """An httpx exception as a FetchError whose message says what happened, in words."""
    where = f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"
    causes = _causes(exc)
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None:
        reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or tls
        return FetchError(f"TLS error: {reason} ({where})")
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError(f"connect timed out after {network.connect_timeout:g}s ({where})")
    if isinstance(exc, httpx.ReadTimeout):
        return FetchError(f"read timed out: no data for {network.read_timeout:g}s ({where})")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timed out ({type(exc).__name__}) ({where})")
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or (
            isinstance(exc, httpx.ConnectError) and "refused" in str(exc).lower()):
        return FetchError(f"connection refused ({where})")
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return FetchError(f"connection reset by the server ({where})")
    if isinstance(exc, httpx.ConnectError):
        return FetchError(f"could not connect: {exc or type(exc).__name__} ({where})")
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "location header" in text.lower():
            return FetchError(f"redirect to an invalid URL: {text}")
        if "without sending complete message body" in text:
            return FetchError(f"connection closed before the whole body arrived: {text}")
        return FetchError(f"bad HTTP response: {text or 'server closed the connection'}")
    if isinstance(exc, httpx.ReadError):
        return FetchError(f"connection lost while reading: {exc or 'reset'} ({where})")
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return FetchError(f"invalid URL {url}: {exc}")
    return FetchError(f"{type(exc).__name__}: {exc} ({where})")


def _causes(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


__all__ = [
    "ACCEPT_ENCODING",
    "RETRY_AFTER_CAP",
    "BoundedDecoder",
    "Fetcher",
    "GuardedTransport",
    "build_client",
    "parse_max_age",
    "parse_retry_after",
    "redirect_kind",
]
