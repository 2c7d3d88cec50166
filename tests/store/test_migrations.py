"""The index's schema history: an index made before migrations is recognised and kept, a
later revision applies to an existing file (after a backup), PostgreSQL waits for
``watcher db upgrade``, and the migrations build exactly what ``schema.py`` declares."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.store.legacy import legacy_index, set_schema_revision, table_sql
from tests.support.postgres import PostgresServer
from watcher.cli import main
from watcher.errors import StoreError
from watcher.store import Store
from watcher.store.db import upgrade_index
from watcher.store.engine import create_index_engine
from watcher.store.migrate import BASELINE, PACKAGED, Migrations
from watcher.store.schema import articles, boilerplate_seen, matches
from watcher.types import Article, Hit, RuleMatch

NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)

# A later schema change as a future watcher would ship it: a new column on feeds, and a
# column of outbox_deliveries made wider (a type change: SQLite needs a table copy).
LATER_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("feeds", sa.Column("language_hint", sa.String(16), nullable=True))
    with op.batch_alter_table("outbox_deliveries") as batch:
        batch.alter_column("state", type_=sa.String(20), existing_type=sa.String(10),
                           existing_nullable=False)


def downgrade() -> None:
    pass
'''


def later_migrations(folder: Path) -> Migrations:
    folder.mkdir()
    (folder / "r9001_later.py").write_text(LATER_REVISION.format(head=PACKAGED.head()))
    return Migrations(extra=[folder])


def assert_legacy_rows_kept(store: Store) -> None:
    states = store.feed_states()
    assert states["bbc-world"].etag == '"abc"' and states["bbc-world"].polls == 3
    assert states["bbc-world"].next_poll == NOW + timedelta(minutes=15)
    assert states["guardian"].notice == "failing after 5 attempts: HTTP 503"
    assert store.article_count() == 2
    first = store.get_article(1)
    assert first is not None and first.file_name == "001_f1372b7cd058c104.txt"
    assert first.matches == (RuleMatch("mi6", (Hit("body", 0, 3, "MI6"),)),)
    assert first.article.paragraphs == ("MI6 chief speaks in Berlin.", "Second paragraph.")
    assert store.pending_entries("bbc-world") == []
    deliveries = {d.channel: d.state for d in store.outbox.deliveries()}
    assert deliveries == {"mail": "pending", "archive": "sent"}
    assert [n.feed for n in store.outbox.pending_notices()] == []  # told in that run
    assert store.outbox.held_alerts() == {"mi6": [1]}
    assert store.boilerplate.known("news.example", 3, NOW - timedelta(days=1)) == {
        "0123456789abcdef"}


def test_an_index_made_before_migrations_is_recognised_and_keeps_everything(
        tmp_path: Path) -> None:
    path = legacy_index(tmp_path / "state")
    with Store.at(f"sqlite:///{path}", tmp_path / "articles") as store:
        assert_legacy_rows_kept(store)
        assert PACKAGED.status(store.engine).current == PACKAGED.head()
        # stamped as the baseline, then upgraded: nothing differs from schema.py
        assert PACKAGED.drift(store.engine) == []
        # the old rows never recorded a date source or an outlet name: the host stands in
        old = store.get_article(1)
        assert old is not None and old.article.published_source == ""
        assert old.article.site_name == "" and old.article.outlet == old.article.site
        # and the store goes on numbering after the old articles
        article = Article(url="https://news.example/4", canonical_url="https://news.example/4",
                          feed="bbc-world", site="news.example", title="Four",
                          description="", paragraphs=("x",), fetched=NOW,
                          published_source="fetched", site_name="News Example")
        stored = store.store_article(article, [], entry_row_id=None, write_file=False,
                                     now=NOW)
        assert stored is not None and stored.number == 3
        assert store.get_article(3) == replace(stored, matches=())
    # revision 0002 changed the articles table: the file as it was is kept beside it
    (backup,) = [p for p in path.parent.iterdir() if p.name.startswith("index.sqlite3.before-")]
    assert backup.name.startswith(f"index.sqlite3.before-{BASELINE}-")
    assert "site_name" not in table_sql(backup, "articles")
    assert "site_name" in table_sql(path, "articles")


def baseline_index(url: str) -> None:
    """An index at revision 0001 (as watcher made it before revision 0002) holding one
    matched article, written with the statements of that time."""
    from alembic import command

    engine = create_index_engine(url)
    try:
        with engine.begin() as conn:
            command.upgrade(PACKAGED.config(conn), BASELINE)
            key = conn.execute(articles.insert().values(
                url="https://news.example/1", canonical_url="https://news.example/1",
                url_hash="f1372b7cd058c104", feed="bbc-world", site="news.example",
                entry_id="1", title="MI6 chief speaks", description="", author="",
                body="MI6 chief speaks in Berlin.", language="en", published=NOW,
                fetched=NOW, text_source="page")).inserted_primary_key
            assert key is not None
            conn.execute(matches.insert().values(
                article_number=key[0], rule="mi6", hits=[["body", 0, 3, "MI6"]],
                matched_at=NOW, origin="live"))
    finally:
        engine.dispose()


def test_revision_0002_adds_the_date_source_and_outlet_to_an_existing_index(
        index_url: str, tmp_path: Path) -> None:
    baseline_index(index_url)
    # what `watcher db upgrade` does (on SQLite, opening the store would do it too)
    assert f"upgraded from schema revision {BASELINE} to {PACKAGED.head()}" in \
        upgrade_index(index_url)
    with Store.at(index_url, tmp_path / "articles") as store:
        assert PACKAGED.drift(store.engine) == []
        old = store.get_article(1)
        assert old is not None and old.article.title == "MI6 chief speaks"
        assert (old.article.published_source, old.article.site_name) == ("", "")
        (candidate,) = store.outbox.candidates(NOW - timedelta(days=1), NOW, ["mi6"])
        assert candidate.outlet == "news.example"  # no name was recorded: the host
        article = Article(url="https://news.example/2", canonical_url="https://news.example/2",
                          feed="bbc-world", site="news.example", title="Two",
                          description="", paragraphs=("x",), fetched=NOW,
                          published=NOW - timedelta(days=2), published_source="url",
                          site_name="News Example")
        stored = store.store_article(article, [], entry_row_id=None, write_file=False,
                                     now=NOW)
        assert stored is not None and stored.number == 2
        again = store.get_article(2)
        assert again is not None and again.article == article


def test_a_later_column_change_applies_to_an_existing_file_after_a_backup(
        tmp_path: Path) -> None:
    path = legacy_index(tmp_path / "state")
    with Store.at(f"sqlite:///{path}", tmp_path / "articles"):
        pass  # today's watcher ran on it
    later = later_migrations(tmp_path / "later")
    with Store.at(f"sqlite:///{path}", tmp_path / "articles", migrations=later) as store:
        assert later.status(store.engine).current == "9001"
        assert_legacy_rows_kept(store)
    assert "language_hint" in table_sql(path, "feeds")
    assert "VARCHAR(20)" in table_sql(path, "outbox_deliveries")
    # the copy made before 9001, beside the one made when today's watcher upgraded it
    (backup,) = [p for p in path.parent.iterdir()
                 if p.name.startswith(f"index.sqlite3.before-{PACKAGED.head()}-")
                 and not p.name.endswith(("-wal", "-shm"))]
    assert "language_hint" not in table_sql(backup, "feeds")
    with Store.at(f"sqlite:///{backup}", tmp_path / "articles") as old:
        assert_legacy_rows_kept(old)


def test_an_index_upgraded_by_a_newer_watcher_is_refused(tmp_path: Path) -> None:
    path = legacy_index(tmp_path / "state")
    Store.at(f"sqlite:///{path}", tmp_path / "articles").close()
    set_schema_revision(path, "9999")
    with pytest.raises(StoreError, match="newer watcher"):
        Store.at(f"sqlite:///{path}", tmp_path / "articles")


def test_migrations_build_what_schema_py_declares(index_url: str) -> None:
    engine = create_index_engine(index_url)
    try:
        PACKAGED.upgrade(engine)
        assert PACKAGED.drift(engine) == []
    finally:
        engine.dispose()


def test_postgresql_waits_for_watcher_db_upgrade(postgres_server: PostgresServer,
                                                  tmp_path: Path) -> None:
    index_url = postgres_server.create_database("waits_for_upgrade")
    with pytest.raises(StoreError, match=r"no schema yet.*run `watcher db upgrade`"):
        Store.at(index_url, tmp_path / "articles")
    assert "created" in upgrade_index(index_url)
    Store.at(index_url, tmp_path / "articles").close()
    later = later_migrations(tmp_path / "later")
    with pytest.raises(StoreError,
                       match=rf"at revision {PACKAGED.head()}.*watcher db upgrade"):
        Store.at(index_url, tmp_path / "articles", migrations=later)
    assert "upgraded from schema revision" in upgrade_index(index_url, later)
    with Store.at(index_url, tmp_path / "articles", migrations=later) as store:
        assert later.status(store.engine).up_to_date


def test_watcher_db_upgrade_creates_then_finds_nothing_to_do(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "watcher.yaml"
    config.write_text("state_dir: state\nfeeds: []\n")
    (tmp_path / "rules.yaml").write_text("rules: []\n")
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "created (schema revision" in capsys.readouterr().out
    assert main(["--config", str(config), "db", "upgrade"]) == 0
    assert "is up to date" in capsys.readouterr().out
    assert (tmp_path / "state" / "index.sqlite3").exists()


def test_a_failed_upgrade_names_the_backup_and_changes_nothing_else(tmp_path: Path) -> None:
    path = legacy_index(tmp_path / "state")
    Store.at(f"sqlite:///{path}", tmp_path / "articles").close()
    broken = tmp_path / "broken"
    broken.mkdir()
    # a revision that cannot apply: the column is there already
    (broken / "r9001_broken.py").write_text(LATER_REVISION.format(head=PACKAGED.head())
                                            .replace('"language_hint"', '"etag"'))
    head = PACKAGED.head()
    with pytest.raises(StoreError,
                       match=rf"(?s)from {head} to 9001 failed: .*kept in .*before-{head}"):
        Store.at(f"sqlite:///{path}", tmp_path / "articles", migrations=Migrations([broken]))
    with Store.at(f"sqlite:///{path}", tmp_path / "articles") as store:
        assert_legacy_rows_kept(store)


def test_the_highest_numbered_revision_file_is_alembics_head(tmp_path: Path) -> None:
    assert PACKAGED.newest == PACKAGED.head()
    later = later_migrations(tmp_path / "later")
    assert later.newest == later.head() == "9001"


def test_opening_an_up_to_date_index_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    assert "created" in upgrade_index(url)
    probe = ("import sys; from pathlib import Path; from watcher.store import Store; "
             f"Store.at({url!r}, Path('articles')).close(); "
             "print(sorted(m for m in sys.modules if m.startswith('alembic')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).parents[2])
    assert done.stdout.strip() == "[]"


def test_revision_0003_adds_websub_subscriptions_to_an_index_at_0002(
        index_url: str, tmp_path: Path) -> None:
    from alembic import command

    from watcher.websub.model import HubOffer, Subscription

    engine = create_index_engine(index_url)
    try:
        with engine.begin() as conn:
            command.upgrade(PACKAGED.config(conn), "0002")
            conn.execute(articles.insert().values(
                url="https://news.example/1", canonical_url="https://news.example/1",
                url_hash="f1372b7cd058c104", feed="bbc-world", site="news.example",
                entry_id="1", title="MI6 chief speaks", description="", author="",
                body="MI6 chief speaks in Berlin.", language="en", published=NOW,
                fetched=NOW, text_source="page", published_source="feed",
                site_name="News"))
    finally:
        engine.dispose()
    assert f"upgraded from schema revision 0002 to {PACKAGED.head()}" in \
        upgrade_index(index_url)
    with Store.at(index_url, tmp_path / "articles") as store:
        assert PACKAGED.drift(store.engine) == []
        old = store.get_article(1)
        assert old is not None and old.article.site_name == "News"
        assert store.websub.all() == []
        fresh = Subscription(feed="bbc-world", hub="https://hub.example/",
                             topic="https://news.example/feed", callback_id="abc",
                             callback="https://w.example/websub/abc", secret="s" * 64)
        store.websub.offered("bbc-world", HubOffer(fresh.hub, fresh.topic), fresh)
        assert store.websub.get("bbc-world") == fresh
        assert store.websub.change(fresh, state="requested", requested_at=NOW)
        assert store.websub.verified("abc", "subscribe", fresh.topic,
                                     NOW + timedelta(days=1), NOW)
        active = store.websub.by_callback("abc")
        assert active is not None and active.active(NOW)
        assert not store.websub.change(fresh, state="failed")  # it changed under us


def test_revision_0004_keeps_every_sighting_in_one_tree_and_back(index_url: str,
                                                                 tmp_path: Path) -> None:
    from alembic import command

    seen = [("news.example", "0123456789abcdef", f"article-{n}", NOW - timedelta(hours=n))
            for n in range(4)] + [("other.example", "fedcba9876543210", "article-0", NOW)]
    rows = [dict(zip(("site", "fingerprint", "article_key", "seen_at"), row, strict=True))
            for row in seen]
    engine = create_index_engine(index_url)
    try:
        with engine.begin() as conn:
            command.upgrade(PACKAGED.config(conn), "0003")
            conn.execute(boilerplate_seen.insert(), rows)  # its columns then and now
    finally:
        engine.dispose()
    assert "upgraded from schema revision 0003 to 0004" in upgrade_index(index_url)

    def learned(store: Store) -> tuple[frozenset[str], frozenset[str], int]:
        since = NOW - timedelta(days=1)
        with store.engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM boilerplate_seen").scalar_one()
        return (store.boilerplate.known("news.example", 3, since),
                store.boilerplate.known("other.example", 1, since), count)

    with Store.at(index_url, tmp_path / "articles") as store:
        assert PACKAGED.drift(store.engine) == []
        assert learned(store) == (frozenset({"0123456789abcdef"}),
                                  frozenset({"fedcba9876543210"}), 5)
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as conn:
                assert "WITHOUT ROWID" in conn.exec_driver_sql(
                    "SELECT sql FROM sqlite_master WHERE name = 'boilerplate_seen'").scalar_one()
        # the key still refuses a second sighting of one article
        store.boilerplate.record("news.example", "article-0", ["0123456789abcdef"], NOW)
        assert learned(store)[2] == 5

    engine = create_index_engine(index_url)
    try:
        with engine.begin() as conn:
            command.downgrade(PACKAGED.config(conn), "0003")
        with engine.connect() as conn:
            indexes = set(conn.exec_driver_sql(
                "SELECT name FROM sqlite_master WHERE tbl_name = 'boilerplate_seen'"
                if conn.dialect.name == "sqlite" else
                "SELECT indexname FROM pg_indexes WHERE tablename = 'boilerplate_seen'"
            ).scalars())
            assert {"ix_boilerplate_seen_site_time", "ix_boilerplate_seen_lookup"} <= indexes
            assert conn.exec_driver_sql("SELECT count(*) FROM boilerplate_seen").scalar_one() == 5
    finally:
        engine.dispose()
    assert "upgraded from schema revision 0003 to 0004" in upgrade_index(index_url)
