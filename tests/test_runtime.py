"""The runtime on real peers: an HTTP server on 127.0.0.1 serving feeds and real pages, an
aiosmtpd SMTP server, a real SQLite index and real worker processes; the daemon runs in
this process (so the test can read its jobs and parts) with APScheduler ticking for real.

The reload test edits channels, digests, network limits, the poll concurrency, the worker
count and the feeds of a running daemon and sees each take effect; a setting that needs a
restart is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.notify.peers import smtp_server
from tests.support.newsroom import rss, serve_corpus
from tests.support.servers import LocalHTTPServer, Reply, Request
from tests.support.waiting import wait_until
from watcher.batching import Batcher
from watcher.checks import validated
from watcher.config import Config
from watcher.pipeline import site_memory_batcher
from watcher.rules import RuleSet
from watcher.runtime import Runtime, run_once
from watcher.scheduler import Daemon
from watcher.store import Store
from watcher.store.outbox import Outbox
from watcher.types import Article, StoredArticle
from watcher.urls import site_of
from watcher.workers import PoolClosedError, WorkerPool

T = TypeVar("T")

RULES = "rules:\n  - name: news\n    query: the\n    alert: immediate\n"


class FeedTraffic:
    """Slow feed answers that record how many feed requests were in flight as each began."""

    def __init__(self, server: LocalHTTPServer, delay: float = 0.4) -> None:
        self.server = server
        self.delay = delay
        self.lock = threading.Lock()
        self.active = 0
        self.starts: list[tuple[str, int]] = []  # (feed path, requests in flight with it)

    def serve(self, name: str) -> None:
        path = f"/{name}.rss"
        body = rss(serve_corpus(self.server, limit=1, prefix=f"/{name}"), self.server)

        def slow(_request: Request) -> Reply:
            with self.lock:
                self.active += 1
                self.starts.append((path, self.active))
            time.sleep(self.delay)
            with self.lock:
                self.active -= 1
            return Reply(200, body.encode(), {"Content-Type": "application/rss+xml"})

        self.server.handle(path, slow)

    def most_at_once(self, *names: str) -> int:
        with self.lock:
            return max(count for path, count in self.starts
                       if path in {f"/{name}.rss" for name in names})


def config_text(server: LocalHTTPServer, feeds: list[str], *, limit: int, agent: str,
                state_dir: str, notify: str, workers: int = 1) -> str:
    feed_lines = "".join(f"  - name: {name}\n    url: {server.url(f'/{name}.rss')}\n"
                         for name in feeds)
    return f"""\
state_dir: {state_dir}
rules: rules.yaml
poll:
  concurrency: {limit}
network:
  allow: [127.0.0.1]
  per_host_min_gap: 0
  per_host_concurrency: {limit}
  user_agent: {agent}
extract:
  workers: {workers}
{notify}feeds:
{feed_lines}"""


def rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime
    path.write_text(text, encoding="utf-8")
    # A clear change even on coarse file-system clocks.
    os.utime(path, (before + 5, before + 5))


class Recorder:
    """A service beside the daemon (as the web server is): what it saw, start to stop."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []
        self.runtime: Runtime | None = None

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.seen.append(("start", len(runtime.config.feeds)))

    async def stop(self) -> None:
        assert self.runtime is not None
        self.seen.append(("stop", len(self.runtime.config.feeds)))


@pytest.fixture
def server() -> Iterator[LocalHTTPServer]:
    with LocalHTTPServer() as running:
        yield running


async def test_edits_to_a_running_daemon_take_effect(
        tmp_path: Path, server: LocalHTTPServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    traffic = FeedTraffic(server)
    for name in ("a1", "a2", "b1", "b2", "b3"):
        traffic.serve(name)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config_path = tmp_path / "watcher.yaml"
    files = "  - name: files\n    type: file\n    dir: out\n"
    config_path.write_text(config_text(
        server, ["a1", "a2"], limit=1, agent="reload-test/1", state_dir="state",
        notify=f"channels:\n{files}alerts:\n  throttle: 0s\n  channels: [files]\n"
               "digests:\n  - name: morning\n    schedule: '0 7 * * *'\n"
               "    channels: [files]\n"), encoding="utf-8")
    config, rules = validated(config_path)

    with smtp_server() as (mailbox, smtp_url):
        async with Runtime.open(config, rules) as runtime:
            recorder = Recorder()
            daemon = Daemon(runtime, services=[recorder], tick_seconds=0.3,
                            reload_seconds=0.2)
            running = asyncio.create_task(daemon.run())
            try:
                # Before the edit: one feed polled at a time, alerts go to the file channel.
                await wait_until(lambda: runtime.store.feed_states()["a2"].polls == 1)
                await wait_until(lambda: any((tmp_path / "out").glob("*.eml")))
                assert traffic.most_at_once("a1", "a2") == 1
                old_client, old_pool = runtime.parts.client, runtime.parts.pool
                assert digest_jobs(daemon) == ["digest:morning"]

                mail = (f"  - name: mail\n    type: email\n    smtp: {smtp_url}\n"
                        "    from: watcher@example.org\n    to: [desk@example.org]\n")
                rewrite(config_path, config_text(
                    server, ["a1", "a2", "b1", "b2", "b3"], limit=3, agent="reload-test/2",
                    state_dir="elsewhere", workers=2,
                    notify=f"channels:\n{files}{mail}alerts:\n  throttle: 0s\n"
                           "  channels: [mail]\ndigests:\n  - name: evening\n"
                           "    schedule: '0 18 * * *'\n    channels: [mail]\n"
                           "    include_alerted: true\n"))

                # Feeds: the three added feeds are polled.
                await wait_until(lambda: sum(
                    state.polls for name, state in runtime.store.feed_states().items()
                    if name.startswith("b")) == 3)
                # Network limits and the poll gate: the new feeds' requests overlapped and
                # carried the new user agent; the replaced client was closed.
                assert traffic.most_at_once("b1", "b2", "b3") >= 2
                assert {r.headers.get("user-agent") for r in server.requests
                        if r.path.startswith("/b")} == {"reload-test/2"}
                assert runtime.parts.limiter.per_host_concurrency == 3
                assert old_client.is_closed
                # The worker pool, resized, is a new one; the old one is closed.
                assert runtime.parts.pool.size == 2
                with pytest.raises(PoolClosedError):
                    await old_pool.run(len, "closed")
                # Channels: the alert for the new articles reached the channel added while
                # running (it used to fail as "no longer configured").
                await wait_until(lambda: len(mailbox.messages) >= 1)
                assert mailbox.envelopes[0][1] == ["desk@example.org"]
                # Digests: the removed one is unscheduled, the added one is scheduled and
                # sends to the new channel.
                assert digest_jobs(daemon) == ["digest:evening"]
                await daemon.send_digest("evening")
                assert any("evening" in str(m["Subject"]) for m in mailbox.messages)
                # A setting that cannot change under a running daemon says so and keeps its
                # running value.
                assert ("state_dir changed in watcher.yaml: this setting needs a restart"
                        in caplog.text)
                assert runtime.config.state_dir == tmp_path / "state"
            finally:
                daemon.stop()
                await asyncio.wait_for(running, 30)
            # A service runs from start to stop and sees the config in force.
            assert recorder.seen == [("start", 2), ("stop", 5)]
            failed = Outbox(runtime.store.engine).deliveries(states=["failed"])
            assert failed == [], [d.last_error for d in failed]
    assert not (tmp_path / "elsewhere").exists()


async def test_polls_queued_at_the_gate_take_the_new_limit(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    traffic = FeedTraffic(server)
    names = ["c1", "c2", "c3"]
    for name in names:
        traffic.serve(name)
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config_path, edited_path = tmp_path / "watcher.yaml", tmp_path / "edited.yaml"
    for path, limit in ((config_path, 1), (edited_path, 3)):
        path.write_text(config_text(server, names, limit=limit, agent="gate-test",
                                    state_dir="state", notify=""), encoding="utf-8")
    config, rules = validated(config_path)
    edited, _ = validated(edited_path)
    async with Runtime.open(config, rules) as runtime:
        polls = [asyncio.create_task(runtime.poll(feed)) for feed in config.feeds]
        await wait_until(lambda: len(traffic.starts) == 1)  # one polls, two wait
        await runtime.apply_config(edited)
        reports = await asyncio.gather(*polls)
    assert [r.status for r in reports if r is not None] == ["ok"] * 3
    # The two that were queued under the limit of one ran side by side under three.
    first = traffic.starts[0][0]
    assert traffic.most_at_once(*(n for n in names if f"/{n}.rss" != first)) == 2


def digest_jobs(daemon: Daemon) -> list[str]:
    return sorted(job.id for job in daemon.scheduler.get_jobs() if job.id.startswith("digest:"))


async def test_the_daemon_reads_time_only_from_its_clock(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    moment = datetime(2031, 5, 4, 12, 0, tzinfo=UTC)
    FeedTraffic(server, delay=0).serve("a1")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(config_text(
        server, ["a1"], limit=2, agent="clock-test", state_dir="state",
        notify="channels:\n  - name: files\n    type: file\n    dir: out\n"
               "alerts:\n  channels: [files]\n"), encoding="utf-8")
    config, rules = validated(config_path)
    summary = await run_once(config, rules, clock=lambda: moment)
    assert [r.status for r in summary.reports] == ["ok"]
    with Store.open(config) as store:
        state = store.feed_states()["a1"]
        stored = list(store.recent_articles(since=moment - timedelta(days=1)))
    assert state.last_success == moment and state.next_poll is not None
    assert moment + config.poll.interval <= state.next_poll <= moment + timedelta(hours=1)
    assert [s.article.fetched for s in stored] == [moment]
    # The alert was fixed and sent at the clock's time too (its file is named by it).
    assert [p.name[:16] for p in (tmp_path / "out").glob("*.eml")] == ["2031-05-04T1200Z"]


async def test_edited_rules_reach_the_worker_processes_that_match(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    """Matching runs in the workers, with rules compiled there: an edit to rules.yaml must
    reach them before the next entry is matched, the old rules no longer matching."""
    items = serve_corpus(server, limit=4)
    server.route("/wire.rss", rss(items[:2], server), content_type="application/rss+xml")
    (tmp_path / "rules.yaml").write_text("rules:\n  - name: first\n    query: the\n",
                                         encoding="utf-8")
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(config_text(server, ["wire"], limit=2, agent="rules-test",
                                       state_dir="state", notify="", workers=2),
                           encoding="utf-8")
    config, rules = validated(config_path)
    async with Runtime.open(config, rules) as runtime:
        before = await runtime.poll(config.feeds[0])
        rewrite(config.rules_path, "rules:\n  - name: second\n    query: the\n")
        assert await runtime.rules.reload_if_changed(runtime.config)
        server.route("/wire.rss", rss(items, server), content_type="application/rss+xml")
        after = await runtime.poll(config.feeds[0])
    assert before is not None and after is not None
    assert [s.rules for s in before.stored] == [("first",), ("first",)]
    assert [s.rules for s in after.stored] == [("second",), ("second",)]


def four_articles_on_one_feed(tmp_path: Path, server: LocalHTTPServer, query: str, *,
                              settings: str = "") -> tuple[Config, RuleSet]:
    """Four corpus articles in one feed, /wire.rss, and a config polling it with one rule,
    ``every``, of ``query``; ``settings`` replace the config's ``extract:`` line."""
    items = serve_corpus(server, limit=4)
    server.route("/wire.rss", rss(items, server), content_type="application/rss+xml")
    (tmp_path / "rules.yaml").write_text(f"rules:\n  - name: every\n    query: {query}\n",
                                         encoding="utf-8")
    text = config_text(server, ["wire"], limit=2, agent="wire-test", state_dir="state",
                       notify="")
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(text.replace("extract:\n", settings or "extract:\n"),
                           encoding="utf-8")
    return validated(config_path)


async def test_a_cycle_keeps_no_stored_article_only_what_its_summary_says(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    """``run --once`` reports what each poll stored; holding the articles themselves (text
    and every hit) until the cycle ended would grow with the cycle, in memory and in each
    pass of the garbage collector."""
    config, rules = four_articles_on_one_feed(tmp_path, server, "the")
    summary = await run_once(config, rules)
    gc.collect()
    [report] = summary.reports
    assert [s.rules for s in report.stored] == [("every",)] * 4
    assert report.matched == 4 and dict(report.matches) == {"every": 4}
    # This cycle's own, by their address: another test's may live on in this process.
    here = server.url("/")
    alive = [o.article if isinstance(o, StoredArticle) else o for o in gc.get_objects()
             if isinstance(o, StoredArticle | Article)]
    assert not [a.url for a in alive if a.url.startswith(here)]


def _index_counts(index: Path) -> tuple[int, int, int]:
    """(sightings, lengths, articles still holding their text) in a SQLite index."""
    with contextlib.closing(sqlite3.connect(index)) as db:
        return (db.execute("SELECT count(*) FROM boilerplate_seen").fetchone()[0],
                db.execute("SELECT count(*) FROM site_lengths").fetchone()[0],
                db.execute("SELECT count(*) FROM articles WHERE body IS NOT NULL"
                           ).fetchone()[0])


async def test_upkeep_forgets_old_unmatched_text_and_the_sites_memory_past_its_window(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    """Nothing reads the sites' memory past ``boilerplate_window`` nor an unmatched
    article's text past ``keep_text``; a run's upkeep deletes them, and nothing younger."""
    config, rules = four_articles_on_one_feed(
        tmp_path, server, "zqxjkv",
        settings="keep_text: 20d\nextract:\n  boilerplate_window: 10d\n")
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    summary = await run_once(config, rules, clock=lambda: start)
    assert summary.reports[0].new_entries == 4
    sightings, lengths, texts = _index_counts(config.index_path)
    assert sightings > 4 and lengths == 4 and texts == 4
    await run_once(config, rules, clock=lambda: start + timedelta(days=9))
    assert _index_counts(config.index_path) == (sightings, lengths, texts)
    await run_once(config, rules, clock=lambda: start + timedelta(days=11))
    assert _index_counts(config.index_path) == (0, 0, texts)
    await run_once(config, rules, clock=lambda: start + timedelta(days=21))
    assert _index_counts(config.index_path) == (0, 0, 0)


async def test_a_running_daemon_runs_its_first_upkeep_soon_after_it_starts(
        tmp_path: Path, server: LocalHTTPServer) -> None:
    config, rules = four_articles_on_one_feed(tmp_path, server, "zqxjkv")
    start = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
    await run_once(config, rules, clock=lambda: start)
    assert _index_counts(config.index_path)[0] > 0
    later = start + config.extract.boilerplate_window + timedelta(days=1)
    async with Runtime.open(config, rules, clock=lambda: later) as runtime:
        daemon = Daemon(runtime, tick_seconds=0.3, first_upkeep_seconds=0.5)
        running = asyncio.create_task(daemon.run())
        try:
            await wait_until(lambda: _index_counts(config.index_path)[:2] == (0, 0))
        finally:
            daemon.stop()
            await running


async def test_pages_read_together_record_their_sightings_in_one_transaction(
        tmp_path: Path, server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The site's memory is asked in batches, as the commits are: each article of the
    cycle is recorded (its length among them), in fewer transactions than articles."""
    made: list[Batcher[Any, Any]] = []

    def recording(store: Store) -> Batcher[Any, Any]:
        made.append(site_memory_batcher(store))
        return made[-1]

    monkeypatch.setattr("watcher.runtime.site_memory_batcher", recording)
    # Long enough that every page of the feed is read before the first batch goes.
    monkeypatch.setattr("watcher.pipeline.SITE_MEMORY_LINGER", 3.0)
    items = serve_corpus(server, limit=6)
    server.route("/wire.rss", rss(items, server), content_type="application/rss+xml")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(config_text(server, ["wire"], limit=6, agent="memory-test",
                                       state_dir="state", notify="", workers=2),
                           encoding="utf-8")
    config, rules = validated(config_path)
    summary = await run_once(config, rules)
    [report] = summary.reports
    assert len(report.stored) == 6
    [memory] = made
    assert 1 <= memory.batches < 6
    with Store.open(config) as store:  # every page of the one site has its length
        assert store.boilerplate.typical_length(
            site_of(server.url("/")), datetime(2000, 1, 1, tzinfo=UTC), min_samples=6)


class RecordingPool(WorkerPool):
    """The real pool, noting each task's function and priority."""

    def __init__(self, workers: int | None = None) -> None:
        super().__init__(workers)
        self.asked: list[tuple[str, int]] = []

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float | None = None,
                  priority: int = 0) -> T:
        self.asked.append((fn.__name__, priority))
        return await super().run(fn, *args, timeout=timeout, priority=priority)


async def test_finishing_an_entry_goes_ahead_of_reading_new_pages(
        tmp_path: Path, server: LocalHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """An entry that is read and cleaned is finished before more pages are read, so its
    place goes to the next page at once, rather than all of a feed's places freeing up
    together once every page in flight has been read (watcher/gates.py)."""
    pools: list[RecordingPool] = []

    def recording(workers: int | None = None) -> RecordingPool:
        pools.append(RecordingPool(workers))
        return pools[-1]

    monkeypatch.setattr("watcher.runtime.WorkerPool", recording)
    items = serve_corpus(server, limit=3)
    server.route("/wire.rss", rss(items, server), content_type="application/rss+xml")
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    config_path = tmp_path / "watcher.yaml"
    config_path.write_text(config_text(server, ["wire"], limit=2, agent="order-test",
                                       state_dir="state", notify=""), encoding="utf-8")
    config, rules = validated(config_path)
    summary = await run_once(config, rules)
    assert summary.reports[0].stored and len(pools) == 1
    priorities: dict[str, set[int]] = {}
    for name, priority in pools[0].asked:
        priorities.setdefault(name, set()).add(priority)
    assert set(priorities) == {"parse_feed", "read_page", "finish_entry"}
    assert min(priorities["finish_entry"]) > max(priorities["read_page"])
