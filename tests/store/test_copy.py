"""``watcher db copy``: a single machine's SQLite index into a real PostgreSQL, losing
nothing; run twice, it copies nothing twice; the target numbers on after the copied rows."""

from __future__ import annotations

import io
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.store.legacy import legacy_index
from tests.store.test_migrations import assert_legacy_rows_kept
from tests.support.postgres import PostgresServer
from watcher.cli import main
from watcher.errors import StoreError
from watcher.store import Store
from watcher.store.copy import TableCopy, copy_index
from watcher.store.db import upgrade_index
from watcher.types import Article

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def article(n: int) -> Article:
    url = f"https://news.example/{n}"
    return Article(url=url, canonical_url=url, feed="bbc-world", site="news.example",
                   title=f"Story {n}", description="", paragraphs=("MI6 text.",),
                   fetched=NOW + timedelta(minutes=n))


def changed(report: list[TableCopy]) -> dict[str, tuple[int, int]]:
    return {c.table: (c.inserted, c.updated) for c in report if c.inserted or c.updated}


def test_copy_loses_nothing_copies_nothing_twice_and_numbers_on(
        tmp_path: Path, postgres_server: PostgresServer) -> None:
    source_path = legacy_index(tmp_path / "state")
    target_url = postgres_server.create_database("copy_target")
    with Store.at(f"sqlite:///{source_path}", tmp_path / "articles") as source:
        upgrade_index(target_url)
        with Store.at(target_url, tmp_path / "articles") as target:
            first = copy_index(source.engine, target.engine)
            assert sum(c.inserted for c in first) == sum(c.rows for c in first) == 21
            assert_legacy_rows_kept(target)
            assert changed(copy_index(source.engine, target.engine)) == {}

            # the source moves on: one more article, a delivery sent, a feed polled
            source.store_article(article(7), [], entry_row_id=None, write_file=False, now=NOW)
            (mail,) = source.outbox.deliveries(states=["pending"])
            assert source.outbox.claim(mail, NOW)
            source.outbox.mark_sent(mail.id, NOW, "<id@example>")
            state = source.feed_states()["bbc-world"]
            source.save_feed_state(replace(state, polls=4))
            assert changed(copy_index(source.engine, target.engine)) == {
                "articles": (1, 0), "outbox_deliveries": (0, 1), "feeds": (0, 1)}
            assert changed(copy_index(source.engine, target.engine)) == {}
            assert target.feed_states()["bbc-world"].polls == 4
            assert {d.channel: d.state for d in target.outbox.deliveries()} == {
                "mail": "sent", "archive": "sent"}

            # PostgreSQL's sequence was moved past the copied numbers: never one reused
            stored = target.store_article(article(8), [], entry_row_id=None,
                                          write_file=False, now=NOW)
            assert stored is not None and stored.number == 4
            copy_index(source.engine, target.engine)  # nothing new in the source
            assert target.article_count() == 4


def test_a_target_holding_another_index_is_refused(
        tmp_path: Path, postgres_server: PostgresServer) -> None:
    source_path = legacy_index(tmp_path / "state")
    target_url = postgres_server.create_database("copy_other")
    upgrade_index(target_url)
    with (Store.at(f"sqlite:///{source_path}", tmp_path / "articles") as source,
          Store.at(target_url, tmp_path / "articles") as target):
        target.store_article(article(5), [], entry_row_id=None, write_file=False, now=NOW)
        with pytest.raises(StoreError, match="copy into an empty database"):
            copy_index(source.engine, target.engine)


def test_watcher_db_copy_from_the_command_line(
        tmp_path: Path, postgres_server: PostgresServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    legacy_index(tmp_path / "state")
    config = tmp_path / "watcher.yaml"
    config.write_text("state_dir: state\nfeeds: []\n")
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    target = postgres_server.create_database("copy_cli").replace("watcher@", "watcher:s3cret@")
    assert main(["--config", str(config), "db", "copy", "--to", target]) == 0
    out = capsys.readouterr().out
    assert "created (schema revision" in out and "articles: 2 rows, 2 copied" in out
    assert "done: 21 rows copied" in out and "s3cret" not in out
    assert main(["--config", str(config), "db", "copy", "--to", target]) == 0
    assert "done: 0 rows copied, 0 updated" in capsys.readouterr().out
    with Store.at(target, tmp_path / "articles") as copied:
        assert_legacy_rows_kept(copied)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("stream", [Terminal(), io.StringIO()], ids=["terminal", "pipe"])
def test_db_copy_shows_its_progress_only_on_a_terminal(
        tmp_path: Path, stream: io.StringIO, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    legacy_index(tmp_path / "state")
    config = tmp_path / "watcher.yaml"
    config.write_text("state_dir: state\nfeeds: []\n")
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    monkeypatch.setattr(sys, "stderr", stream)
    target = f"sqlite:///{tmp_path / 'copy.sqlite3'}"  # any index takes a copy
    assert main(["--config", str(config), "db", "copy", "--to", target]) == 0
    assert "done: 21 rows copied" in capsys.readouterr().out
    if stream.isatty():
        assert "rows copied: 21/21 (100%)" in stream.getvalue()
        assert stream.getvalue().endswith("\r")  # cleared before the result's lines
    else:
        assert stream.getvalue() == ""


def test_rows_keyed_by_several_columns_are_walked_in_batches_and_copied_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The site memory's sightings are keyed by (site, fingerprint, article); batches of two
    # make the walk resume after a key of three columns, mid-site and across sites.
    monkeypatch.setattr("watcher.store.copy.BATCH", 2)
    source_url = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    target_url = f"sqlite:///{tmp_path / 'target.sqlite3'}"
    with (Store.at(source_url, tmp_path / "articles") as source,
          Store.at(target_url, tmp_path / "articles") as target):
        for site, article_keys in (("a.example", ["k1", "k2", "k3"]), ("b.example", ["k1"])):
            for key in article_keys:
                source.boilerplate.record(site, key, ["00000000000000aa", "00000000000000bb"],
                                          NOW)
        report = {c.table: c for c in copy_index(source.engine, target.engine)}
        assert (report["boilerplate_seen"].rows, report["boilerplate_seen"].inserted) == (8, 8)
        since = NOW - timedelta(days=1)
        assert target.boilerplate.known("a.example", 3, since) == {
            "00000000000000aa", "00000000000000bb"}
        assert target.boilerplate.known("b.example", 1, since) == {
            "00000000000000aa", "00000000000000bb"}
        assert changed(copy_index(source.engine, target.engine)) == {}
