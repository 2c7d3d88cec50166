"""``Fetcher.get``: one GET with the watcher's guarantees, hop by hop through redirects."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from watcher.config import NetworkConfig
from watcher.errors import FetchError
from watcher.fetch.caching import parse_retry_after, request_headers
from watcher.fetch.decoding import read_capped
from watcher.hostlimit import HostLimiter
from watcher.netguard import AllowList, check_host, check_scheme
from watcher.types import HttpResult, Redirect

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class _Answer:
    """One hop's response: status, headers, and the body when it was wanted."""

    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    content: bytes = b""


class Fetcher:
    """GET with the watcher's guarantees (listed in ``watcher.fetch``)."""

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
        headers = request_headers(etag, last_modified, accept)
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
        check_scheme(url.scheme, str(url))
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
            content = await read_capped(response, max_bytes)
            return _Answer(answer.url, answer.status, answer.reason, answer.headers, content)
        finally:
            await response.aclose()


def _parse_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from None
    check_scheme(parsed.scheme, repr(url))
    if not parsed.host:
        raise FetchError(f"invalid URL {url!r}: no host")
    return parsed.copy_with(fragment=None)


def _visit(url: httpx.URL, cookies: httpx.Cookies) -> tuple[str, frozenset[tuple[str, str]]]:
    return str(url), frozenset((c.name, c.value or "") for c in cookies.jar)


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    location = location.strip()
    # Judge the scheme on the text: URL joining has opinions about "javascript:x".
    scheme = urlsplit(location).scheme
    if scheme:
        check_scheme(scheme, repr(location))
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
