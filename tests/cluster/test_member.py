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
from typing import Any

import psycopg
import pytest

from tests.cluster.conftest import Spawn
from tests.support.cluster_member import WORLD
from tests.support.postgres import PostgresServer
from watcher.cluster.queue import upgrade_queue

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


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


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
    assert_every_entry_stored_once(database)
    stop(finisher)
    assert_no_feed_polled_twice_at_once(database)
    stalled = query(database, "SELECT status::text FROM procrastinate_jobs"
                              " WHERE status IN ('doing', 'todo') AND task_name = 'watcher.entry'")
    assert stalled == []
