"""Exactly one scheduler in a cluster: a PostgreSQL advisory lock on its own connection.

Every process that may schedule tries ``pg_try_advisory_lock`` now and then; the one that
gets it schedules until its session ends. A session-level advisory lock is released by the
server when the session ends: at once when the process dies (the kernel closes its socket),
and after the TCP keepalive probes fail when its machine vanishes, which the session asks
of the server so that another process takes over within a minute. The holder checks its
connection before each round and steps down when it is gone. The connection's
``application_name`` carries the host and pid, so ``watcher status`` can name the
scheduler from ``pg_stat_activity``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket

import psycopg

log = logging.getLogger(__name__)

# The two int4 keys of the lock (the first spells "wtch"); constant across versions.
LOCK_CLASS = 0x77746368
LOCK_SCHEDULER = 1
APPLICATION_PREFIX = "watcher scheduler"
# The server gives up on a silent peer after idle + interval * count seconds.
KEEPALIVE = {"tcp_keepalives_idle": 15, "tcp_keepalives_interval": 5,
             "tcp_keepalives_count": 3}


def scheduler_name() -> str:
    return f"{APPLICATION_PREFIX} {socket.gethostname()} pid {os.getpid()}"


class Leadership:
    def __init__(self, conninfo: str, *, name: str | None = None) -> None:
        self.conninfo = conninfo
        self.name = name or scheduler_name()
        self._conn: psycopg.AsyncConnection[tuple[object, ...]] | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def try_acquire(self) -> bool:
        """True when this process is (still, or now) the scheduler."""
        if self._conn is not None:
            if await self._alive(self._conn):
                return True
            log.warning("lost the connection that held the scheduler lock; stepping down")
            await self._drop()
        try:
            conn = await psycopg.AsyncConnection.connect(
                self.conninfo, autocommit=True, application_name=self.name[:63])
        except psycopg.Error as exc:
            log.warning("cannot reach the index to claim the scheduler role: %s", exc)
            return False
        try:
            for setting, value in KEEPALIVE.items():
                await conn.execute(f"SET {setting} = {int(value)}")
            row = await (await conn.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                            (LOCK_CLASS, LOCK_SCHEDULER))).fetchone()
        except psycopg.Error as exc:
            log.warning("cannot claim the scheduler role: %s", exc)
            await conn.close()
            return False
        if not (row and row[0]):
            await conn.close()
            return False
        self._conn = conn
        log.info("this process is now the cluster's scheduler (%s)", self.name)
        return True

    async def release(self) -> None:
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()

    @staticmethod
    async def _alive(conn: psycopg.AsyncConnection[tuple[object, ...]]) -> bool:
        try:
            await conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return not conn.closed


SCHEDULER_QUERY = """
SELECT a.application_name, a.backend_start
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.classid = %s::oid AND l.objid = %s::oid
   AND l.objsubid = 2 AND l.granted
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
