"""``watcher run`` cluster members as a user runs them: real processes on one real
PostgreSQL index, feeds and pages from the local HTTP server, digests to a real aiosmtpd,
systemd's notify socket as a real unix datagram socket. Two members that may both schedule
send a due digest once, and when the scheduler is killed (``kill -9``) the other takes
over; a member takes up an edited watcher.yaml, serves the web pages and tells systemd.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.notify.peers import smtp_server
from tests.support.local import free_port
from tests.support.newsroom import rss, serve_seeds
from tests.support.postgres import PostgresServer
from tests.support.servers import LocalHTTPServer
from tests.support.waiting import wait_for
from tests.test_end_to_end import write_config
from tests.web.test_daemon import NotifySocket
from watcher.cli import main
from watcher.cluster.leader import LOCK_CLASS, LOCK_SCHEDULER, SCHEDULER_QUERY

ROOT = Path(__file__).resolve().parents[2]
RULES = "rules:\n  - name: mi6\n    query: MI6\n"

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args or None).fetchall()


class Cluster:
    """A PostgreSQL index made ready with ``watcher db upgrade``, and members started on
    it, each with its own state folder and log."""

    def __init__(self, folder: Path, config: Path, index: str) -> None:
        self.folder, self.config, self.index = folder, config, index
        self.members: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        os.environ["WATCHER_STATE"] = str(folder / "state-cli")
        try:
            assert main(["db", "upgrade", "--config", str(config)]) == 0
        finally:
            del os.environ["WATCHER_STATE"]

    def start(self, name: str, **env: str) -> subprocess.Popen[bytes]:
        with open(self.folder / f"{name}.log", "ab") as log:
            member = subprocess.Popen(
                [sys.executable, "-m", "watcher", "run", "--config", str(self.config)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                env={**self.env, "WATCHER_STATE": str(self.folder / name), **env})
        self.members.append(member)
        return member

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def scheduler_pid(self) -> int | None:
        # Who holds the lock, as `watcher status` asks: a member that is only trying for
        # it has a connection of the same application_name for a moment.
        found = rows(self.index, SCHEDULER_QUERY, LOCK_CLASS, LOCK_SCHEDULER)
        pids = [int(m.group(1)) for (name, _) in found
                if (m := re.search(r"pid (\d+)$", name))]
        assert len(pids) <= 1, f"two schedulers at once: {found}"
        return pids[0] if pids else None

    def stop(self) -> None:
        for member in self.members:
            if member.poll() is None:
                member.send_signal(signal.SIGTERM)
        for member in self.members:
            member.wait(timeout=60)

    def kill_all(self) -> None:
        """Every member stopped; their logs printed, which pytest shows when a test failed."""
        for member in self.members:
            if member.poll() is None:
                member.kill()
            member.wait(timeout=30)
        for log in sorted(self.folder.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')}")


def cluster_config(tmp_path: Path, server: LocalHTTPServer, index: str, feeds: dict[str, str],
                   extra: str) -> Path:
    config = write_config(tmp_path, server, feeds, rules=RULES, extra=(
        f"index: {index}\narticles: shared-articles\nstate_dir: ${{WATCHER_STATE}}\n{extra}"))
    config.write_text(config.read_text().replace("state_dir: state\n", ""))
    return config


def test_two_members_send_a_due_digest_once_and_one_takes_over_when_the_scheduler_dies(
        tmp_path: Path, server: LocalHTTPServer, postgres_server: PostgresServer) -> None:
    seeds = serve_seeds(server)
    server.route("/world/rss", rss(list(seeds.values()), server),
                 content_type="application/rss+xml")
    index = postgres_server.create_database("members_digest")
    with smtp_server() as (mailbox, smtp_url):
        # Hourly, so the slot that has come (this hour's) is due as the members start.
        config = cluster_config(tmp_path, server, index, {"world": "/world/rss"}, extra=(
            f"channels:\n  - {{name: mail, type: email, smtp: '{smtp_url}',"
            " from: watcher@example.org, to: [desk@example.org]}\n"
            "digests:\n  - {name: hourly, schedule: '0 * * * *', channels: [mail],"
            " send_empty: true}\n"))
        config.write_text(config.read_text().replace(
            "    url: ", "    interval: 30s\n    url: ", 1))
        cluster = Cluster(tmp_path, config, index)
        try:
            first, second = cluster.start("a"), cluster.start("b")
            wait_for(lambda: len(mailbox.messages) >= 1, 90, "the digest")
            wait_for(lambda: cluster.scheduler_pid() is not None, 30, "a scheduler")
            time.sleep(12)  # several rounds of both members, each of which may schedule

            def sent_once() -> None:
                runs = rows(index, "SELECT r.key, d.state FROM outbox_runs r"
                                   " JOIN outbox_deliveries d ON d.run_id = r.id"
                                   " WHERE r.kind = 'digest'")
                # One run per slot, one sent delivery each, one email each (an hour may
                # have turned meanwhile: then two slots, each once).
                assert len({key for key, _ in runs}) == len(runs) == len(mailbox.messages)
                assert {state for _, state in runs} == {"sent"}, runs

            sent_once()
            doomed = cluster.scheduler_pid()
            assert doomed in (first.pid, second.pid)
            heir = second if doomed == first.pid else first
            killed_at = time.monotonic()
            os.kill(doomed, signal.SIGKILL)
            wait_for(lambda: cluster.scheduler_pid() == heir.pid, 60, "the other to take over")
            assert time.monotonic() - killed_at < 60
            # The heir does the scheduler's work: the feed's next poll is deferred by it...
            before = rows(index, "SELECT now()")[0][0]
            wait_for(lambda: bool(rows(index, "SELECT 1 FROM procrastinate_events e JOIN"
                                              " procrastinate_jobs j ON j.id = e.job_id"
                                              " WHERE j.task_name = 'watcher.poll' AND"
                                              " e.type = 'deferred' AND e.at > %s", before)),
                     60, "a poll deferred by the new scheduler")
            # ... and its first rounds ran the same digest slot again, which built nothing.
            sent_once()
            cluster.stop()
            assert heir.returncode == 0, cluster.log("a") + cluster.log("b")
        finally:
            cluster.kill_all()


def test_a_member_takes_up_an_edited_config_serves_the_pages_and_tells_systemd(
        tmp_path: Path, server: LocalHTTPServer, postgres_server: PostgresServer) -> None:
    seeds = serve_seeds(server)
    server.route("/world/rss", rss(list(seeds.values())[:1], server),
                 content_type="application/rss+xml")
    server.route("/late/rss", rss(list(seeds.values())[1:], server),
                 content_type="application/rss+xml")
    index = postgres_server.create_database("members_reload")
    port = free_port()
    config = cluster_config(tmp_path, server, index, {"world": "/world/rss"},
                            extra=f"http:\n  listen: 127.0.0.1:{port}\n")
    cluster = Cluster(tmp_path, config, index)
    sockets = [NotifySocket(tmp_path / f"notify-{n}.sock") for n in range(2)]
    try:
        # Two members on one host with one http.listen: one serves the pages, both work.
        for n, notify in enumerate(sockets):
            cluster.start(f"m{n}", NOTIFY_SOCKET=str(notify.path))
        for notify in sockets:
            notify.wait_for("READY=1")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/readyz", timeout=60).status_code == 200
        wait_for(lambda: rows(index, "SELECT count(*) FROM articles")[0][0] == 1, 90,
                 "the first feed's article")
        front = httpx.get(base + "/", timeout=60)
        assert front.status_code == 200 and "<mark>" in front.text  # its match, from the index
        logs = [cluster.log("m0"), cluster.log("m1")]
        assert sum("another process on this host serves the web pages" in log
                   for log in logs) == 1, logs

        # An edit to watcher.yaml (a feed added) is taken up while the members run.
        text = config.read_text()
        config.write_text(text.replace(
            "feeds:\n", f"feeds:\n  - name: late\n    url: {server.url('/late/rss')}\n", 1))
        wait_for(lambda: rows(index, "SELECT count(*) FROM articles WHERE feed = 'late'"
                              )[0][0] == 1, 90, "the added feed's article")
        # The other member takes the edit up in its own round (or a job naming the feed).
        wait_for(lambda: all("config reloaded: 2 feeds" in cluster.log(f"m{n}")
                             for n in range(2)), 30, "both members' reload")
        for notify in sockets:
            notify.drain()
        cluster.stop()
        for notify in sockets:
            notify.wait_for("STOPPING=1")
        assert [m.returncode for m in cluster.members] == [0, 0], logs
    finally:
        cluster.kill_all()
        for notify in sockets:
            notify.close()
