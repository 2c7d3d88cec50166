"""A poll that leaves its entries for entry jobs, and an entry job, on the real pipeline
(real HTTP server on 127.0.0.1, real worker processes, SQLite)."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.newsroom import rss, serve_seeds
from tests.support.servers import LocalHTTPServer
from tests.test_end_to_end import write_config
from watcher.cluster.work import ENTRIES_SWEEP_EVERY, FORGOTTEN_AFTER, RuntimeWork
from watcher.config import load_config
from watcher.rules import load_rules
from watcher.runtime import SHARED_FILES_GRACE, Runtime
from watcher.store.ready import Outcome


def serve_world(server: LocalHTTPServer) -> None:
    """The two seed articles, and a feed of them at /world/rss."""
    seeds = serve_seeds(server)
    server.route("/world/rss", rss(list(seeds.values()), server),
                 content_type="application/rss+xml")


async def test_a_poll_leaves_entries_to_entry_jobs_which_store_each_once(tmp_path: Path
                                                                         ) -> None:
    with LocalHTTPServer() as server:
        serve_world(server)
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"}))
        async with Runtime.open(config, load_rules(config.rules_path)) as runtime:
            feed = config.feeds[0]
            report = await runtime.parts.pipeline.poll(feed, entries_here=False)
            assert (report.new_entries, report.stored) == (2, ())
            pending = runtime.store.pending_entries(feed.name)
            assert len(pending) == 2 and runtime.store.article_count() == 0
            stored = [await runtime.parts.pipeline.process_entry_by_id(item.row_id)
                      for item in pending]
            assert all(s is not None and s.rules for s in stored)
            # A second attempt (a rerun job) finds the entry done and does nothing.
            assert await runtime.parts.pipeline.process_entry_by_id(pending[0].row_id) is None
            assert await runtime.parts.pipeline.process_entry_by_id(10_000) is None
            assert runtime.store.article_count() == 2
            assert runtime.store.pending_entries(feed.name) == []
    assert len(list((tmp_path / "state" / "articles").iterdir())) == 2


async def test_the_runtimes_cluster_work_polls_due_feeds_and_two_schedulers_send_one_digest(
        tmp_path: Path) -> None:
    digests = tmp_path / "digests"
    extra = (f"channels:\n  - {{name: archive, type: file, dir: {digests}}}\n"
             f"  - {{name: alarm, type: file, dir: {tmp_path / 'alerts'}}}\n"
             "digests:\n  - {name: often, schedule: '* * * * *', channels: [archive]}\n")
    with LocalHTTPServer() as server:
        serve_world(server)
        rules = ("rules:\n  - name: mi6\n    query: MI6\n    alert: immediate\n"
                 "    channels: [alarm]\n")
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"},
                                          rules=rules, extra=extra))
        async with Runtime.open(config, load_rules(config.rules_path)) as runtime:
            work, other_scheduler = RuntimeWork(runtime), RuntimeWork(runtime)
            assert work.due_feeds() == ["world"]
            entry_ids = await work.poll("world")
            assert len(entry_ids) == 2
            assert work.due_feeds() == []
            requests = len(server.requests)
            # A second queued poll: the feed is not due any more, so it is not fetched; its
            # pending entries are handed out again (a killed poll may not have).
            assert await work.poll("world") == entry_ids
            assert len(server.requests) == requests
            assert await work.poll("gone-from-config") == []
            for entry_id in entry_ids:
                await work.process_entry(entry_id)
            await work.process_entry(entry_ids[0])  # a rerun job: nothing twice
            assert runtime.store.article_count() == 2
            assert not (tmp_path / "alerts").exists()  # workers only hold alerts
            await work.scheduler_round()
            await other_scheduler.scheduler_round()
            await work.scheduler_round()
    alerts = {p.name.rsplit(".", 1)[0] for p in (tmp_path / "alerts").iterdir()}
    assert len(alerts) == 1  # one alert for both articles, by one of the two schedulers
    sent = sorted(p.name for p in digests.iterdir())
    assert len(sent) == 3 and len({name.rsplit(".", 1)[0] for name in sent}) == 1, sent


async def test_the_scheduler_sweeps_files_a_dead_process_left_once_past_the_grace(
        tmp_path: Path) -> None:
    """A member killed between writing a batch's files and its commit leaves files no row
    names; start-up spares new ones (another member may be about to commit them), so the
    scheduler's round sweeps those older than the grace."""
    with LocalHTTPServer() as server:
        serve_world(server)
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"}))
        async with Runtime.open(config, load_rules(config.rules_path)) as runtime:
            folder = tmp_path / "state" / "articles"
            stale, fresh = folder / "901_00000000000000aa.txt", folder / "902_00000000000000bb.txt"
            for orphan in (stale, fresh):
                orphan.write_text("Left behind\nby a process killed before its commit")
            long_ago = time.time() - SHARED_FILES_GRACE.total_seconds() - 60
            os.utime(stale, (long_ago, long_ago))
            await RuntimeWork(runtime).scheduler_round()
            assert not stale.exists() and fresh.exists()


async def test_the_schedulers_round_forgets_the_sites_memory_past_its_window_hourly(
        tmp_path: Path) -> None:
    """A cluster's upkeep is the scheduler's: no member's process runs the single daemon's
    maintenance job."""
    with LocalHTTPServer() as server:
        serve_world(server)
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"}))
        now = [datetime(2026, 11, 1, 6, 0, tzinfo=UTC)]
        async with Runtime.open(config, load_rules(config.rules_path),
                                clock=lambda: now[0]) as runtime:
            work = RuntimeWork(runtime)
            await _round_and_its_upkeep(work)  # the first round's upkeep: nothing to forget
            for entry_id in await work.poll("world"):
                await work.process_entry(entry_id)
            assert _sightings(config.index_path) > 0
            seen = _sightings(config.index_path)
            now[0] += config.extract.boilerplate_window - timedelta(minutes=10)
            await _round_and_its_upkeep(work)  # the sightings are still in the window
            assert _sightings(config.index_path) == seen
            now[0] += timedelta(minutes=30)
            upkept = work.upkeeping
            await _round_and_its_upkeep(work)  # out of the window; the last upkeep 30' ago
            assert work.upkeeping is upkept and _sightings(config.index_path) == seen
            now[0] += timedelta(minutes=30)
            await _round_and_its_upkeep(work)
            assert work.upkeeping is not upkept and _sightings(config.index_path) == 0


async def _round_and_its_upkeep(work: RuntimeWork) -> None:
    """A scheduler's round, then the upkeep it may have started beside it."""
    await work.scheduler_round()
    if work.upkeeping is not None:
        await work.upkeeping


def _sightings(index: Path) -> int:
    with contextlib.closing(sqlite3.connect(index)) as db:
        return int(db.execute("SELECT count(*) FROM boilerplate_seen").fetchone()[0])


async def test_a_member_behind_an_edit_takes_it_up_for_a_job_naming_a_feed_it_lacks(
        tmp_path: Path) -> None:
    """The scheduler defers a poll for a feed it has just seen added to watcher.yaml; the
    member that takes the poll, or one of its entry jobs, may not have taken up the edit
    yet. It takes it up then: a job that did nothing would leave the entry pending until
    the feed's next poll."""
    with LocalHTTPServer() as server:
        serve_world(server)
        both = {"world": "/world/rss", "late": "/world/rss?late"}
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"}))
        async with Runtime.open(config, load_rules(config.rules_path)) as runtime:
            work = RuntimeWork(runtime)
            write_config(tmp_path, server, both)
            entry_ids = await work.poll("late")
            assert len(entry_ids) == 2
            assert [f.name for f in runtime.config.feeds] == ["world", "late"]

            # The feed removed again: its entry job has nothing to do the work with.
            write_config(tmp_path, server, {"world": "/world/rss"})
            await runtime.take_up_edits()
            await work.process_entry(entry_ids[0])
            assert runtime.store.article_count() == 0
            assert len(runtime.store.pending_entries("late")) == 2

            # Added back: the next entry job, on a member behind the edit, stores it.
            write_config(tmp_path, server, both)
            await work.process_entry(entry_ids[0])
            assert runtime.store.article_count() == 1
            assert len(runtime.store.pending_entries("late")) == 1


async def test_the_scheduler_finds_entries_whose_jobs_were_lost_once_past_the_grace(
        tmp_path: Path) -> None:
    """A poll's entries whose jobs never reached the queue (the index went away between
    the poll's commit and the deferring) are handed out again by the scheduler, not left
    to the feed's next poll; entries an attempt failed on wait for that poll, as before."""
    moment = [datetime(2026, 12, 5, 7, 0, tzinfo=UTC)]
    with LocalHTTPServer() as server:
        serve_world(server)
        config = load_config(write_config(tmp_path, server, {"world": "/world/rss"}))
        async with Runtime.open(config, load_rules(config.rules_path),
                                clock=lambda: moment[0]) as runtime:
            work = RuntimeWork(runtime)
            entry_ids = await work.poll("world")  # and its jobs are lost
            assert len(entry_ids) == 2
            assert work.forgotten_entries() == []  # their jobs may still be waiting
            moment[0] += FORGOTTEN_AFTER + timedelta(seconds=1)
            assert work.forgotten_entries() == entry_ids
            assert work.forgotten_entries() == []  # one sweep per ENTRIES_SWEEP_EVERY
            await work.process_entry(entry_ids[0])
            runtime.store.commit([Outcome(entry_ids[1], None)], moment[0])  # a failed try
            moment[0] += ENTRIES_SWEEP_EVERY
            assert work.forgotten_entries() == []
            assert [e.row_id for e in runtime.store.pending_entries("world")] == entry_ids[1:]
