"""What an httpcore connection pool does, seen from outside: how many connections it opens."""

from __future__ import annotations

import httpcore


class OpenedConnections:
    """Counts the connections ``pool`` opens from now on (each passes ``create_connection``,
    whichever pool class decides when)."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.count = 0
        make = pool.create_connection

        def counted(origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
            self.count += 1
            return make(origin)

        pool.create_connection = counted  # type: ignore[method-assign]
