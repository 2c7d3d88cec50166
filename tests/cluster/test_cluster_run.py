"""Several real ``watcher run`` processes on one PostgreSQL index and one shared articles
folder, against a real HTTP server with feeds and corpus pages. One of them is killed with
``kill -9`` while it fetches a page; the others finish its work. Nothing is mocked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.support.newsroom import rss, serve_corpus
from tests.support.postgres import PostgresServer
from tests.support.servers import LocalHTTPServer, Reply, Request
from tests.support.waiting import wait_for
from tests.test_end_to_end import write_config
from watcher.cli import main
from watcher.config import ClusterConfig
from watcher.store import Store
from watcher.store.files import FILE_NAME

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 5
PAGES_PER_FEED = 6


class FeedWatch:
    """Serves each feed slowly enough that two polls of one feed at once would be seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def route(self, server: LocalHTTPServer, path: str, body: str) -> None:
        reply = Reply(200, body.encode(), {"Content-Type": "application/rss+xml"})

        def serve(_request: Request) -> Reply:
            with self.lock:
                self.now[path] += 1
                self.most[path] = max(self.most[path], self.now[path])
            time.sleep(0.3)
            with self.lock:
                self.now[path] -= 1
            return reply

        server.routes[path] = serve


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    return int(row[0]) if row else 0


def test_watchers_on_one_index_share_the_work_and_survive_a_kill_9(
        tmp_path: Path, server: LocalHTTPServer, postgres_server: PostgresServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    watch = FeedWatch()
    feeds: dict[str, str] = {}
    pages: list[str] = []
    for number in range(FEEDS):
        items = serve_corpus(server, limit=PAGES_PER_FEED * (number + 1),
                             prefix=f"/f{number}")[PAGES_PER_FEED * number:]
        watch.route(server, f"/f{number}/rss", rss(items, server))
        feeds[f"feed-{number}"] = f"/f{number}/rss"
        pages.extend(item.path for item in items)
    slow_page = pages[3]
    fast_reply = server.routes[slow_page]
    slow_served = threading.Event()

    def slow_once(request: Request) -> Reply:
        if not slow_served.is_set():
            slow_served.set()
            time.sleep(60)  # the process fetching it is killed meanwhile
        return fast_reply(request)

    server.routes[slow_page] = slow_once
    index = postgres_server.create_database("cluster_run")
    config = write_config(tmp_path, server, feeds, store="all", extra=(
        f"index: {index}\narticles: shared-articles\nstate_dir: ${{WATCHER_STATE}}\n"))
    text = config.read_text().replace("state_dir: state\n", "")
    config.write_text(text)
    os.environ["WATCHER_STATE"] = str(tmp_path / "state-test")
    try:
        assert main(["db", "upgrade", "--config", str(config)]) == 0
    finally:
        del os.environ["WATCHER_STATE"]
    assert "job queue (procrastinate) created" in capsys.readouterr().out

    def watcher(name: str, *args: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "WATCHER_STATE": str(tmp_path / name)}
        return subprocess.Popen([sys.executable, "-m", "watcher", "run", "--config",
                                 str(config), *args], cwd=ROOT, env=env)

    started: list[subprocess.Popen[bytes]] = []
    try:
        doomed = watcher("a")
        started.append(doomed)
        assert slow_served.wait(timeout=60), "nobody fetched the slow page"
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
        started += [watcher("b"), watcher("c", "--role", "worker")]
        wait_for(lambda: count(index, "SELECT count(*) FROM articles") == len(pages),
                 timeout=ClusterConfig().stall_timeout.total_seconds() + 90)
        wait_for(lambda: count(index, "SELECT count(*) FROM procrastinate_jobs WHERE status"
                                      " IN ('todo', 'doing')") == 0, timeout=30)
        capsys.readouterr()
        os.environ["WATCHER_STATE"] = str(tmp_path / "state-test")
        try:
            assert main(["status", "--config", str(config)]) == 0
        finally:
            del os.environ["WATCHER_STATE"]
        status = capsys.readouterr().out
        assert f"scheduler: {socket.gethostname()} pid {started[1].pid}" in status, status
        assert "workers: 2 alive" in status, status
        assert "queue entries: 0 waiting, 0 running" in status, status
        for process in started[1:]:
            process.send_signal(signal.SIGTERM)
        for process in started[1:]:
            assert process.wait(timeout=60) == 0
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=30)

    # Every page stored once, under a number of its own, its file in the shared folder.
    assert count(index, "SELECT count(DISTINCT canonical_url) FROM articles") == len(pages)
    assert count(index, "SELECT count(DISTINCT number) FROM articles") == len(pages)
    # The killed process may have written a batch's files without committing it: such
    # files are orphans, which any member sweeps once they are older than the grace (a
    # newer one may be another member's, about to commit); here, as that sweep would.
    with Store.at(index, tmp_path / "shared-articles") as store:
        _removed, restored = store.reconcile_files()
    assert restored == 0, "a committed article's file went missing"
    files = sorted(p.name for p in (tmp_path / "shared-articles").iterdir())
    assert len(files) == len(pages) and all(FILE_NAME.match(name) for name in files)
    assert count(index, "SELECT count(*) FROM entries WHERE state = 'pending'") == 0
    # No feed was polled twice at once, by any process.
    assert set(watch.most.values()) == {1}
    # The killed process's jobs (the slow page's among them) were failed and done again
    # elsewhere: each failed copy has a succeeded one.
    assert count(index, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'failed'") >= 1
    assert count(index, "SELECT count(*) FROM procrastinate_jobs f WHERE f.status = 'failed'"
                        " AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs s"
                        " WHERE s.status = 'succeeded' AND s.args = f.args"
                        " AND s.task_name = f.task_name)") == 0
    assert count(index, "SELECT count(*) FROM procrastinate_jobs"
                        " WHERE status IN ('todo', 'doing')") == 0
