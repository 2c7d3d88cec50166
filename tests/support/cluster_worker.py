"""A real procrastinate worker process for the cluster tests, run as

    python -m tests.support.cluster_worker URL [SLOW_KEY=SECONDS ...]

Its jobs stand in for a poll or an entry's work: each records in the ``runs`` table when
it started and finished (PostgreSQL's clock, so processes compare), in between sleeping
briefly, or for SECONDS when its feed or entry is named SLOW_KEY.
"""

from __future__ import annotations

import asyncio
import sys

import psycopg

from watcher.cluster.queue import QUEUES, conninfo, make_app

RUNS_TABLE = """
CREATE TABLE IF NOT EXISTS runs (
    id bigserial PRIMARY KEY, kind text NOT NULL, key text NOT NULL, pid int NOT NULL,
    started timestamptz NOT NULL, finished timestamptz)
"""
HEARTBEAT_SECONDS = 0.5
STALL_SECONDS = 2.0


async def run(url: str, slow: dict[str, float]) -> None:
    import os

    async def record(kind: str, key: str) -> None:
        async with await psycopg.AsyncConnection.connect(conninfo(url), autocommit=True) as c:
            cursor = await c.execute(
                "INSERT INTO runs (kind, key, pid, started) VALUES (%s, %s, %s,"
                " clock_timestamp()) RETURNING id", (kind, key, os.getpid()))
            row = await cursor.fetchone()
            assert row is not None
            await asyncio.sleep(slow.get(key, 0.2))
            await c.execute("UPDATE runs SET finished = clock_timestamp() WHERE id = %s",
                            (row[0],))

    async def poll(feed: str) -> None:
        await record("poll", feed)

    async def entry(row_id: int) -> None:
        await record("entry", str(row_id))

    app = make_app(url, poll=poll, entry=entry)
    async with app.open_async():
        await app.run_worker_async(
            queues=list(QUEUES), concurrency=4, update_heartbeat_interval=HEARTBEAT_SECONDS,
            stalled_worker_timeout=STALL_SECONDS, fetch_job_polling_interval=0.2)


if __name__ == "__main__":
    slow_keys = dict(arg.split("=", 1) for arg in sys.argv[2:])
    asyncio.run(run(sys.argv[1], {key: float(value) for key, value in slow_keys.items()}))
