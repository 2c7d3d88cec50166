"""Cluster members (real processes: procrastinate workers, the scheduler election) sharing
one queue on a real PostgreSQL, with a stand-in for the runtime's work
(``tests.support.cluster_member``). Killing is ``kill -9``.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from procrastinate.jobs import Status

from tests.cluster.conftest import Spawn
from tests.support.cluster_member import WORLD
from tests.support.postgres import PostgresServer
from tests.support.waiting import wait_for
from watcher.cluster.queue import ENTRY_TASK, defer_once, make_app, upgrade_queue
from watcher.config import ClusterConfig

FEEDS = ("alpha", "beta", "gamma", "delta")

Start = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def database(postgres_server: PostgresServer, request: pytest.FixtureRequest) -> str:
    name = "m_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[:50]
    url = postgres_server.create_database(name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(WORLD)
        for feed in FEEDS:
            conn.execute("INSERT INTO feeds VALUES (%s, now())", (feed,))
    upgrade_queue(url)
    return url


@pytest.fixture
def members(database: str, spawn: Spawn) -> Start:
    def start(role: str = "all", slow_entry: int | None = None) -> subprocess.Popen[bytes]:
        return spawn("tests.support.cluster_member", database, role,
                     *([str(slow_entry)] if slow_entry else []))

    return start


def query(url: str, sql: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(sql).fetchall()


def stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.wait(timeout=60) == 0


def assert_every_entry_stored_once(url: str) -> None:
    wait_for(lambda: not query(url, "SELECT e.id FROM entries e LEFT JOIN articles a"
                                    " ON a.entry_id = e.id WHERE a.number IS NULL"))
    articles = query(url, "SELECT number, entry_id, stored FROM articles ORDER BY stored")
    entries = query(url, "SELECT id FROM entries")
    assert sorted(a["entry_id"] for a in articles) == sorted(e["id"] for e in entries)
    numbers = [a["number"] for a in articles]
    assert len(set(numbers)) == len(numbers)


def assert_no_feed_polled_twice_at_once(url: str) -> None:
    polls = query(url, "SELECT key, started, finished FROM runs WHERE kind = 'poll'"
                       " AND finished IS NOT NULL ORDER BY started")
    for feed in FEEDS:
        spans = [(p["started"], p["finished"]) for p in polls if p["key"] == feed]
        assert spans, f"{feed} never polled"
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end, f"two polls of {feed} at once"


def test_members_share_the_work_and_one_of_them_schedules(database: str, members: Start
                                                          ) -> None:
    first, second, worker = members(), members(), members("worker")
    wait_for(lambda: len(query(database, "SELECT id FROM runs WHERE kind = 'poll'")) >= 20)
    stop(first, second, worker)
    assert_no_feed_polled_twice_at_once(database)
    # Entries registered by the last polls may still wait for their jobs: run them out.
    last = members("worker")
    assert_every_entry_stored_once(database)
    stop(last)
    workers = {r["pid"] for r in query(database, "SELECT DISTINCT pid FROM runs")}
    assert len(workers & {first.pid, second.pid, worker.pid}) >= 2  # the work was shared
    schedulers = [r["pid"] for r in query(database, "SELECT pid FROM rounds ORDER BY at")]
    assert worker.pid not in schedulers
    # One scheduler at a time: nobody took over while it lived.
    assert len(list(itertools.groupby(schedulers))) == 1


def test_a_killed_scheduler_is_replaced_and_a_killed_workers_entry_is_stored_once(
        database: str, members: Start) -> None:
    doomed = members(slow_entry=3)
    wait_for(lambda: bool(query(database, "SELECT id FROM runs WHERE kind = 'entry'"
                                          " AND key = '3'")))
    wait_for(lambda: bool(query(database, "SELECT id FROM rounds")))
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    killed_at = time.monotonic()
    heir = members()
    wait_for(lambda: bool(query(database, f"SELECT id FROM rounds WHERE pid = {heir.pid}")))
    assert time.monotonic() - killed_at < 60  # taken over within a minute
    wait_for(lambda: bool(query(database, "SELECT number FROM articles WHERE entry_id = 3")))
    polls_after = len(query(database, "SELECT id FROM runs WHERE kind = 'poll'"))
    wait_for(lambda: len(query(database, "SELECT id FROM runs WHERE kind = 'poll'"))
             > polls_after + len(FEEDS))  # the new scheduler keeps the feeds polled
    stop(heir)
    finisher = members("worker")
    # The worker empties the queue: nothing stays stalled. (Stopped as soon as every entry
    # was stored, it could leave a waiting copy that a later poll queued while the entry's
    # first job ran, which would find the entry stored and do nothing.)
    wait_for(lambda: not query(database, "SELECT id FROM procrastinate_jobs"
                                         " WHERE status IN ('doing', 'todo')"),
             what="the queue to empty")
    stop(finisher)
    assert_every_entry_stored_once(database)
    assert_no_feed_polled_twice_at_once(database)


async def finished_jobs(url: str, ages: dict[str, tuple[Status, timedelta]]) -> dict[str, int]:
    """One finished job per name, on a queue nobody works, its events moved ``age`` back."""
    app = make_app(url)
    ids = {}
    async with app.open_async():
        worker_id = await app.job_manager.register_worker()
        for name, (status, _) in ages.items():
            await defer_once(app, ENTRY_TASK, {"entry_row_id": 0}, queueing_lock=None,
                             queue=f"old-{name}")
            job = await app.job_manager.fetch_job([f"old-{name}"], worker_id)
            assert job is not None and job.id is not None
            await app.job_manager.finish_job(job, status=status, delete_job=False)
            ids[name] = job.id
        await app.job_manager.unregister_worker(worker_id)
    with psycopg.connect(url, autocommit=True) as conn:
        for name, (_, age) in ages.items():
            conn.execute("UPDATE procrastinate_events SET at = at - %s WHERE job_id = %s",
                         (age, ids[name]))
    return ids


async def test_the_scheduler_deletes_old_finished_jobs_and_keeps_failed_ones_longer(
        database: str, members: Start) -> None:
    # The member's windows are the defaults: done jobs a day, failed ones two weeks.
    defaults = ClusterConfig()
    assert (defaults.keep_done_jobs, defaults.keep_failed_jobs) == (timedelta(days=1),
                                                                    timedelta(days=14))
    ids = await finished_jobs(database, {
        "done-new": (Status.SUCCEEDED, timedelta(hours=20)),
        "done-old": (Status.SUCCEEDED, timedelta(days=2)),
        "failed-old": (Status.FAILED, timedelta(days=2)),
        "failed-ancient": (Status.FAILED, timedelta(days=20))})

    def left() -> set[str]:
        present = {r["id"] for r in query(database, "SELECT id FROM procrastinate_jobs")}
        return {name for name, job_id in ids.items() if job_id in present}

    scheduler = members()
    wait_for(lambda: left() == {"done-new", "failed-old"})
    wait_for(lambda: len(query(database, "SELECT id FROM runs WHERE kind = 'entry'")) >= 4)
    stop(scheduler)
    # The member's own recent jobs are still there; events went with their jobs.
    assert query(database, "SELECT count(*) AS n FROM procrastinate_jobs"
                           " WHERE queue_name = 'entries'")[0]["n"] >= 4
    assert query(database, "SELECT count(*) AS n FROM procrastinate_events e LEFT JOIN"
                           " procrastinate_jobs j ON j.id = e.job_id WHERE j.id IS NULL"
                           )[0]["n"] == 0
