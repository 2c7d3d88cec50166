"""The cluster's job queue with real worker processes on a real PostgreSQL.

Workers are ``tests.support.cluster_worker`` processes: real procrastinate workers whose
jobs record when they ran. Nothing is mocked; killing is ``kill -9``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import procrastinate
import psycopg
import pytest
from procrastinate import exceptions as procrastinate_errors

from tests.cluster.conftest import Spawn
from tests.support.cluster_worker import HEARTBEAT_SECONDS, RUNS_TABLE, STALL_SECONDS
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_until
from watcher.cluster.leader import Leadership
from watcher.cluster.member import ClusterMember
from watcher.cluster.queue import (
    ENTRIES,
    POLLS,
    conninfo,
    defer_entries,
    defer_entry,
    defer_poll,
    make_app,
    upgrade_queue,
)
from watcher.cluster.stalled import recover_stalled_jobs
from watcher.cluster.status import read_cluster_status, render_status

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def database(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    name = "q_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50]
    url = postgres_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RUNS_TABLE)
    assert upgrade_queue(url) == "job queue (procrastinate) created"
    assert upgrade_queue(url) == "job queue (procrastinate) already in place"
    return url


@pytest.fixture
async def app(database: str) -> AsyncIterator[procrastinate.App]:
    queue_app = make_app(database)
    async with queue_app.open_async():
        yield queue_app


@pytest.fixture
def workers(database: str, spawn: Spawn) -> Callable[..., subprocess.Popen[bytes]]:
    def start(*slow: str) -> subprocess.Popen[bytes]:
        return spawn("tests.support.cluster_worker", database, *slow)

    return start


def runs(url: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute("SELECT * FROM runs ORDER BY started").fetchall()


def live_workers(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
    return int(row[0]) if row else 0


def job_statuses(url: str) -> list[tuple[str, str, str | None]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT queue_name, status::text, lock FROM procrastinate_jobs"
                            " ORDER BY id").fetchall()


async def test_polls_of_one_feed_never_overlap_across_workers(
        app: procrastinate.App, database: str,
        workers: Callable[..., subprocess.Popen[bytes]]) -> None:
    workers()
    workers()
    await wait_until(lambda: live_workers(database) == 2)
    feeds = [f"feed-{n}" for n in range(8)]  # more than one worker's concurrency
    deferred = 0
    for _ in range(6):
        for feed in feeds:
            deferred += await defer_poll(app, feed)
        await asyncio.sleep(0.1)  # sooner than a poll takes: polls of a feed queue up
    await wait_until(lambda: sum(1 for r in runs(database) if r["finished"]) == deferred)
    done = runs(database)
    for feed in feeds:
        spans = sorted((r["started"], r["finished"]) for r in done if r["key"] == feed)
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two polls of {feed} ran at once"
    assert len({r["pid"] for r in done}) == 2  # both workers took work
    assert {status for _, status, _ in job_statuses(database)} == {"succeeded"}


async def test_a_killed_workers_poll_runs_again_and_never_blocks_its_feed(
        app: procrastinate.App, database: str,
        workers: Callable[..., subprocess.Popen[bytes]]) -> None:
    # The pitfall of procrastinate #1446/#1543: a stalled poll holding the feed's lock, and
    # a newer poll of the same feed waiting on the queueing lock.
    doomed = workers("slow-feed=300")
    assert await defer_poll(app, "slow-feed")
    await wait_until(lambda: any(r["key"] == "slow-feed" for r in runs(database)))
    assert await defer_poll(app, "slow-feed")  # waits: the lock is held
    assert not await defer_poll(app, "slow-feed")  # one waiting poll is enough
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    await asyncio.sleep(STALL_SECONDS + 2 * HEARTBEAT_SECONDS)

    stalled = list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALL_SECONDS))
    assert [job.task_kwargs for job in stalled] == [{"feed": "slow-feed"}]
    # Retrying in place, as procrastinate's how-to does, fails on the waiting sibling and
    # would leave the row 'doing', holding the feed's lock for ever.
    with pytest.raises(procrastinate_errors.ConnectorException):
        await app.job_manager.retry_job(stalled[0])
    assert [s for _, s, _ in job_statuses(database)] == ["doing", "todo"]

    recovered = await recover_stalled_jobs(app, seconds_since_heartbeat=STALL_SECONDS)
    assert [(r.task, r.rerun) for r in recovered] == [("watcher.poll", False)]
    workers()
    await wait_until(lambda: [s for _, s, _ in job_statuses(database)] == ["failed", "succeeded"])
    finished = [r for r in runs(database) if r["finished"]]
    assert [r["key"] for r in finished] == ["slow-feed"]
    # The feed is free: a later poll runs too.
    assert await defer_poll(app, "slow-feed")
    await wait_until(lambda: sum(1 for r in runs(database) if r["finished"]) == 2)


async def test_a_killed_workers_entry_runs_again_on_another_worker(
        app: procrastinate.App, database: str,
        workers: Callable[..., subprocess.Popen[bytes]]) -> None:
    doomed = workers("17=300")
    for row_id in (16, 17, 18):
        assert await defer_entry(app, row_id)
    await wait_until(lambda: any(r["key"] == "17" for r in runs(database)))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    await asyncio.sleep(STALL_SECONDS + 2 * HEARTBEAT_SECONDS)
    recovered = await recover_stalled_jobs(app, seconds_since_heartbeat=STALL_SECONDS)
    assert ("watcher.entry", True) in [(r.task, r.rerun) for r in recovered]
    survivor = workers()
    await wait_until(lambda: {r["key"] for r in runs(database) if r["finished"]}
                   == {"16", "17", "18"})
    assert [r["pid"] for r in runs(database) if r["key"] == "17" and r["finished"]] == [
        survivor.pid]
    statuses = job_statuses(database)
    assert not [s for s in statuses if s[1] in ("todo", "doing")]


async def test_a_polls_entries_are_queued_in_one_statement_and_each_only_once(
        app: procrastinate.App, database: str) -> None:
    assert await defer_entries(app, []) == 0
    assert await defer_entries(app, [1, 2, 3]) == 3
    with psycopg.connect(database) as conn:
        batches = conn.execute("SELECT count(DISTINCT at) FROM procrastinate_events"
                               " WHERE type = 'deferred'").fetchone()
    assert batches == (1,)  # one statement, one transaction timestamp
    # A second poll hands out 3 (waiting already) and 4 (new): 4 is queued, 3 is not again.
    assert await defer_entries(app, [3, 4]) == 1
    with psycopg.connect(database) as conn:
        queued = conn.execute("SELECT args->>'entry_row_id', lock FROM procrastinate_jobs"
                              " ORDER BY id").fetchall()
    assert queued == [(str(n), f"entry:{n}") for n in (1, 2, 3, 4)]


async def test_status_counts_queues_workers_and_the_scheduler(
        app: procrastinate.App, database: str) -> None:
    for feed in ("a", "b", "c"):
        await defer_poll(app, feed)
    await defer_entry(app, 1)
    leader = Leadership(conninfo(database), name="watcher scheduler box-1 pid 42")
    assert await leader.try_acquire()
    try:
        status = read_cluster_status(conninfo(database), stall_seconds=STALL_SECONDS)
    finally:
        await leader.release()
    assert status.workers_alive == 0
    assert status.scheduler == "box-1 pid 42"
    assert status.queues[POLLS].waiting == 3 and status.queues[ENTRIES].waiting == 1
    lines = render_status(status)
    assert "queue polls: 3 waiting, 0 running, 0 failed, 0 stalled" in lines
    assert "scheduler: box-1 pid 42" in lines
    status = read_cluster_status(conninfo(database), stall_seconds=STALL_SECONDS)
    assert status.scheduler is None


LEADER_SCRIPT = """
import asyncio, sys
from watcher.cluster.leader import Leadership

async def main():
    leader = Leadership(sys.argv[1], name="watcher scheduler doomed pid 1")
    assert await leader.try_acquire()
    print("leader", flush=True)
    await asyncio.sleep(300)

asyncio.run(main())
"""


async def test_one_scheduler_at_a_time_and_a_takeover_when_it_dies(database: str) -> None:
    url = conninfo(database)
    holder = subprocess.Popen([sys.executable, "-c", LEADER_SCRIPT, url], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)},
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "leader\n"
        standby = Leadership(url)
        second = Leadership(url)
        assert not await standby.try_acquire()
        assert read_cluster_status(url, stall_seconds=2).scheduler == "doomed pid 1"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        deadline = time.monotonic() + 30
        while not await standby.try_acquire():
            assert time.monotonic() < deadline, "nobody took over"
            await asyncio.sleep(0.2)
        assert await standby.try_acquire()  # still held: one check, no churn
        assert not await second.try_acquire()
        await standby.release()
        assert await second.try_acquire()
        await second.release()
    finally:
        if holder.poll() is None:
            holder.kill()
        holder.wait(timeout=30)


class ForgetfulWork:
    """Cluster work with nothing due whose index holds two entries that lost their jobs."""

    async def poll(self, feed: str) -> list[int]:
        return []

    async def process_entry(self, entry_row_id: int) -> None:
        return None

    def due_feeds(self) -> list[str]:
        return []

    async def scheduler_round(self) -> None:
        return None

    async def refresh(self) -> None:
        return None

    def forgotten_entries(self) -> list[int]:
        return [7, 8]


async def test_the_schedulers_round_queues_entries_whose_jobs_were_lost_only_once(
        app: procrastinate.App, database: str) -> None:
    member = ClusterMember(database, ForgetfulWork())
    await member.scheduling_round(app)
    await member.scheduling_round(app)  # still waiting: not queued twice
    worker = await app.job_manager.register_worker()
    assert await app.job_manager.fetch_job([ENTRIES], worker) is not None  # 7 runs
    await member.scheduling_round(app)  # nor while it runs
    with psycopg.connect(database) as conn:
        queued = conn.execute("SELECT queue_name, args->>'entry_row_id', lock, status::text"
                              " FROM procrastinate_jobs ORDER BY id").fetchall()
    assert queued == [(ENTRIES, "7", "entry:7", "doing"), (ENTRIES, "8", "entry:8", "todo")]
