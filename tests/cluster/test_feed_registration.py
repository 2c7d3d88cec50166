"""Cluster members add the same new feed to the index at once (starting together, or
taking up the same edit of watcher.yaml): the second insert collides, and the write is
done again as an update instead of failing the member. Real PostgreSQL; the collision is
made certain by holding the other member's insert open in a second connection."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import psycopg

from tests.support.postgres import PostgresServer
from watcher.config import FeedConfig
from watcher.lifecycle import initial_state
from watcher.store import Store
from watcher.store.db import upgrade_index


def test_a_feed_added_by_two_members_at_once_is_registered_without_an_error(
        tmp_path: Path, postgres_server: PostgresServer) -> None:
    url = postgres_server.create_database("feed_registration")
    upgrade_index(url)
    feed = FeedConfig("late", "https://late.example/rss", timedelta(minutes=15))
    with Store.at(url, tmp_path / "articles") as store, psycopg.connect(url) as other:
        # The other member's insert of the same feed, not yet committed.
        other.execute("INSERT INTO feeds (name, config_url, url, title, status,"
                      " consecutive_failures, polls, not_modified, entries_seen,"
                      " articles_stored, matches, notice_sent)"
                      " VALUES ('late', 'https://late.example/rss', 'https://late.example/rss',"
                      " '', 'new', 0, 0, 0, 0, 0, 0, true)")
        failures: list[BaseException] = []

        def register() -> None:
            try:
                store.save_feed_states([initial_state(feed)])
            except BaseException as exc:  # handed to the test's thread
                failures.append(exc)

        ours = threading.Thread(target=register)
        ours.start()
        # Ours does not see the uncommitted row, so it inserts too and waits on its key.
        deadline = time.monotonic() + 30
        with psycopg.connect(url, autocommit=True) as watch:
            while watch.execute("SELECT count(*) FROM pg_locks WHERE NOT granted"
                                ).fetchone() == (0,):
                assert time.monotonic() < deadline, "our insert never waited on the other's"
                time.sleep(0.05)
        other.commit()
        ours.join(timeout=30)
        assert not ours.is_alive() and failures == []
        assert list(store.feed_states()) == ["late"]
        assert store.feed_state("late") == initial_state(feed)
