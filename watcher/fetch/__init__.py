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
  decoded here, layer by layer, a bounded piece of output at a time;
* redirects followed hop by hop (``max_redirects``, loops detected), each one listed in
  ``HttpResult.redirects`` so callers can tell a permanent move from a temporary one;
* conditional GET (If-None-Match / If-Modified-Since); a 304 is a result, not an error;
* every failure as a ``FetchError`` with a message a user can act on ("connection
  refused (host:port)", "timed out after 60s", "TLS error: ..."), never an httpx exception.

Where each lives: ``client`` (the httpx client and its guarded transport), ``pool`` (its
connection pool: httpcore's, keeping idle connections alive as told, in linear time),
``fetcher`` (``Fetcher``: hops, redirects, deadlines, failures in words), ``decoding``
(bounded Content-Encoding and the byte caps), ``caching`` (conditional GET and what
Retry-After, Cache-Control and redirects tell the poller).
"""

from watcher.fetch.caching import RETRY_AFTER_CAP, parse_max_age, parse_retry_after, redirect_kind
from watcher.fetch.client import GuardedTransport, build_client
from watcher.fetch.decoding import ACCEPT_ENCODING, BoundedDecoder
from watcher.fetch.fetcher import Fetcher

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
