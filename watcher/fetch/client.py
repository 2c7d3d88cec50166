"""The one httpx client of the watcher, over a connection pool whose every connection passes
the SSRF guard."""

from __future__ import annotations

import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpcore
import httpx

from watcher.config import NetworkConfig
from watcher.fetch.decoding import ACCEPT_ENCODING
from watcher.fetch.pool import LinearPool
from watcher.fetch.streams import KnownSocketBackend
from watcher.netguard import AllowList, GuardedBackend, Resolver

# The pool is global; politeness per host is HostLimiter's job.
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20,
                       keepalive_expiry=30.0)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose every connection passes the guard."""

    # httpcore's own pool is what bench/bench_fetch.py and tests/fetch/test_pool.py put
    # here to compare.
    pool_class: type[httpcore.AsyncConnectionPool] = LinearPool

    def __init__(self, network: NetworkConfig, *, resolver: Resolver | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 limits: httpx.Limits = _LIMITS,
                 inner_backend: httpcore.AsyncNetworkBackend | None = None) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context()
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        # inner_backend: what finally opens sockets; tests put a recorder there to prove
        # that refused targets never see a connection attempt.
        self.backend = GuardedBackend(AllowList.parse(network.allow), resolver=resolver,
                                      backend=KnownSocketBackend(inner_backend))
        # httpx offers no parameter for an httpcore network backend, so the pool it built
        # is replaced by the same pool with ours (tests/fetch check this stays true), one
        # that keeps idle connections alive as told, in linear time (fetch/pool.py).
        self._pool = self.pool_class(
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
