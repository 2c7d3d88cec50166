"""httpcore's connection pool, reviewing its connections in one pass and keeping as many
idle ones alive as it was told to.

Before every request, and again when each response closes, httpcore 1.0's pool reviews its
connections (``_assign_requests_to_connections``), and the review has two faults
(encode/httpcore#1035, not merged):

- To decide whether an idle connection is one too many to keep alive, it builds a list
  over all connections, for every connection: the review is quadratic in the pool's size.
- What it then counts is every connection, not the idle ones: once a pool holds more
  connections than ``max_keepalive_connections``, busy or not, each connection is closed
  as soon as its response is read. A watcher fetching from dozens of hosts at once is
  always past that line, so nearly every page cost a new connection (a TCP handshake, and
  on https a TLS one) instead of reusing the one its host had just answered on.

``LinearPool`` reviews in one pass and closes idle connections only beyond the allowance,
the oldest first; otherwise it decides as httpcore does: expired and closed connections
go, and a queued request gets the first connection that can take it, else a new one, else
a new one in place of the first idle one. tests/fetch/test_pool.py holds it to both
(docs/performance.md has what it saves).
"""

from __future__ import annotations

import httpcore
from httpcore import AsyncConnectionInterface


class LinearPool(httpcore.AsyncConnectionPool):
    """``httpcore.AsyncConnectionPool`` that counts only idle connections against the
    keep-alive allowance, and reviews its connections in one pass."""

    def _assign_requests_to_connections(self) -> list[AsyncConnectionInterface]:
        """Drop the closed connections, close the expired ones and the oldest idle ones
        beyond the keep-alive allowance, then give each queued request a connection: one
        that can take it, else a new one, else a new one in place of an idle one. Returns
        the connections to close (their I/O is the caller's)."""
        to_close: list[AsyncConnectionInterface] = []
        live: list[AsyncConnectionInterface] = []
        for connection in self._connections:
            # asked once each: whether one has expired is a look at its socket
            if connection.is_closed():
                continue
            (to_close if connection.has_expired() else live).append(connection)
        surplus = sum(1 for c in live if c.is_idle()) - self._max_keepalive_connections
        self._connections[:] = []
        for connection in live:  # in the order they were made: the oldest idle ones go
            if surplus > 0 and connection.is_idle():
                to_close.append(connection)
                surplus -= 1
            else:
                self._connections.append(connection)

        for waiting in [request for request in self._requests if request.is_queued()]:
            origin = waiting.request.url.origin
            ready = next((c for c in self._connections
                          if c.can_handle_request(origin) and c.is_available()), None)
            if ready is None and len(self._connections) >= self._max_connections:
                idle = next((c for c in self._connections if c.is_idle()), None)
                if idle is None:
                    continue  # stays queued until a connection frees up
                self._connections.remove(idle)
                to_close.append(idle)
            if ready is None:
                ready = self.create_connection(origin)
                self._connections.append(ready)
            waiting.assign_to_connection(ready)
        return to_close

