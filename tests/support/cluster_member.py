"""A real cluster member process for the cluster tests, with a stand-in for the runtime:

    python -m tests.support.cluster_member URL ROLE [SLOW_ENTRY_NUMBER]

The stand-in keeps a tiny world in PostgreSQL beside the queue: feeds with a next poll
time; a poll adds two entries to its feed and moves the time on; an entry's work inserts
an article (numbered by a sequence, unique per entry, so a second attempt stores nothing).
Every poll and entry records when it ran in ``runs``; every scheduler round in ``rounds``.
SIGTERM stops it cleanly; the tests also ``kill -9`` it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Sequence
from datetime import timedelta

import psycopg

from watcher.cluster.member import ClusterMember
from watcher.cluster.queue import conninfo
from watcher.config import ClusterConfig

WORLD = """
CREATE TABLE IF NOT EXISTS feeds (name text PRIMARY KEY, next_poll timestamptz NOT NULL);
CREATE TABLE IF NOT EXISTS entries (id bigserial PRIMARY KEY, feed text NOT NULL,
    n int NOT NULL, UNIQUE (feed, n));
CREATE TABLE IF NOT EXISTS articles (number bigserial PRIMARY KEY,
    entry_id bigint NOT NULL UNIQUE, stored timestamptz NOT NULL DEFAULT clock_timestamp());
CREATE TABLE IF NOT EXISTS runs (id bigserial PRIMARY KEY, kind text NOT NULL,
    key text NOT NULL, pid int NOT NULL, started timestamptz NOT NULL, finished timestamptz);
CREATE TABLE IF NOT EXISTS rounds (id bigserial PRIMARY KEY, pid int NOT NULL,
    at timestamptz NOT NULL DEFAULT clock_timestamp());
"""
POLL_EVERY = "1 second"
ENTRIES_PER_POLL = 2
HEARTBEAT_SECONDS = 0.5
STALL_SECONDS = 2.0


class StandInWork:
    def __init__(self, url: str, slow_entry: int | None) -> None:
        self.url = conninfo(url)
        self.slow_entry = slow_entry

    async def _connect(self) -> psycopg.AsyncConnection[tuple[object, ...]]:
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True)

    async def _started(self, conn: psycopg.AsyncConnection[tuple[object, ...]], kind: str,
                       key: str) -> int:
        cursor = await conn.execute(
            "INSERT INTO runs (kind, key, pid, started) VALUES (%s, %s, %s, clock_timestamp())"
            " RETURNING id", (kind, key, os.getpid()))
        row = await cursor.fetchone()
        assert row is not None
        return int(str(row[0]))

    async def poll(self, feed: str) -> Sequence[int]:
        async with await self._connect() as conn:
            due = await (await conn.execute(
                "SELECT next_poll <= now() FROM feeds WHERE name = %s", (feed,))).fetchone()
            if not (due and due[0]):
                return []
            run = await self._started(conn, "poll", feed)
            await asyncio.sleep(0.2)
            async with conn.transaction():
                last = await (await conn.execute(
                    "SELECT coalesce(max(n), 0) FROM entries WHERE feed = %s", (feed,))
                ).fetchone()
                first = int(str(last[0])) + 1 if last else 1
                for n in range(first, first + ENTRIES_PER_POLL):
                    # Two polls of one feed at once would collide here (unique feed, n).
                    await conn.execute("INSERT INTO entries (feed, n) VALUES (%s, %s)",
                                       (feed, n))
                await conn.execute(
                    f"UPDATE feeds SET next_poll = now() + interval '{POLL_EVERY}'"
                    " WHERE name = %s", (feed,))
            await conn.execute("UPDATE runs SET finished = clock_timestamp() WHERE id = %s",
                               (run,))
            rows = await (await conn.execute(
                "SELECT e.id FROM entries e LEFT JOIN articles a ON a.entry_id = e.id"
                " WHERE e.feed = %s AND a.number IS NULL ORDER BY e.id", (feed,))).fetchall()
        return [int(str(row[0])) for row in rows]

    async def process_entry(self, entry_row_id: int) -> None:
        async with await self._connect() as conn:
            run = await self._started(conn, "entry", str(entry_row_id))
            await asyncio.sleep(300 if entry_row_id == self.slow_entry else 0.05)
            await conn.execute("INSERT INTO articles (entry_id) VALUES (%s)"
                               " ON CONFLICT (entry_id) DO NOTHING", (entry_row_id,))
            await conn.execute("UPDATE runs SET finished = clock_timestamp() WHERE id = %s",
                               (run,))

    def due_feeds(self) -> Sequence[str]:
        with psycopg.connect(self.url) as conn:
            rows = conn.execute("SELECT name FROM feeds WHERE next_poll <= now()"
                                " ORDER BY next_poll").fetchall()
        return [str(row[0]) for row in rows]

    async def refresh(self) -> None:
        return None

    async def scheduler_round(self) -> None:
        async with await self._connect() as conn:
            await conn.execute("INSERT INTO rounds (pid) VALUES (%s)", (os.getpid(),))

    def forgotten_entries(self) -> Sequence[int]:
        return []  # every poll's entries here are queued by the poll job itself


async def main(url: str, role: str, slow_entry: int | None) -> None:
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    member = ClusterMember(url, StandInWork(url, slow_entry),
                           role="worker" if role == "worker" else "all", concurrency=4,
                           round_seconds=0.3, heartbeat_seconds=HEARTBEAT_SECONDS,
                           settings=ClusterConfig(
                               stall_timeout=timedelta(seconds=STALL_SECONDS)))
    await member.run(stopping)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if sys.argv[3:] else None))
