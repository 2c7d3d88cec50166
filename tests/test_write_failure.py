"""A write that fails mid-poll (standing in for a full disk: any OSError on the article
file) stores nothing, leaves the feed's state where it was, and the next poll redoes it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.newsroom import rss, serve_seeds
from tests.support.servers import LocalHTTPServer
from watcher.config import load_config
from watcher.lifecycle import settle
from watcher.rules import load_rules
from watcher.runtime import Runtime
from watcher.store import Store


async def test_failed_write_does_not_advance_the_feed(tmp_path: Path) -> None:
    with LocalHTTPServer() as server:
        seeds = serve_seeds(server)
        server.route("/rss", rss(list(seeds.values()), server),
                     content_type="application/rss+xml")
        (tmp_path / "rules.yaml").write_text("rules:\n  - name: mi6\n    query: MI6\n")
        (tmp_path / "watcher.yaml").write_text(
            f"state_dir: state\nrules: rules.yaml\nnetwork:\n  allow: [127.0.0.1]\n"
            f"feeds:\n  - name: news\n    url: {server.url('/rss')}\n")
        config = load_config(tmp_path / "watcher.yaml", environ={})
        rules = load_rules(config.rules_path)
        blocked = tmp_path / "articles"
        blocked.write_text("a file where the article folder should be")
        store = Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", blocked)
        store.save_feed_states(settle(config.feeds, {}))
        try:
            async with Runtime.assemble(config, rules, store) as runtime:
                feed = config.feeds[0]
                report = await runtime.poll(feed)
                assert report is not None and report.status == "error"
                assert "cannot write article file" in (report.error or "")
                state = store.feed_state("news")
                assert state is not None
                assert (state.polls, state.etag, state.last_success) == (0, None, None)
                assert store.article_count() == 0
                assert len(store.pending_entries("news")) == 2

                blocked.unlink()
                blocked.mkdir()
                report = await runtime.poll(feed)
                assert report is not None and report.status == "ok"
                assert len(report.stored) == 2
                assert sorted(p.name[:3] for p in blocked.iterdir()) == ["001", "002"]
        finally:
            store.close()
            shutil.rmtree(blocked, ignore_errors=True)
