"""The index's tables (SQLAlchemy Core, portable to PostgreSQL).

Every table of the index is declared on ``metadata``: this module holds the core tables;
``store/outbox.py`` and ``store/boilerplate.py`` add theirs to the same ``metadata`` and are
imported below so that ``create_all`` sees them. All SQL lives under ``watcher/store/``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

SCHEMA_VERSION = 1


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no offset: we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the index; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per configured feed: its HTTP state and the schedule's truth (next poll, backoff).
feeds = Table(
    "feeds", metadata,
    Column("name", String(200), primary_key=True),
    Column("config_url", Text, nullable=False),
    Column("url", Text, nullable=False),  # where we poll now (moves on 301/308)
    Column("title", Text, nullable=False, default=""),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("status", String(20), nullable=False, default="new"),  # new ok failing gone
    Column("last_poll", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_error", Text),
    Column("last_error_at", UTCDateTime()),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("next_poll", UTCDateTime()),
    Column("polls", Integer, nullable=False, default=0),
    Column("not_modified", Integer, nullable=False, default=0),
    Column("entries_seen", Integer, nullable=False, default=0),
    Column("articles_stored", Integer, nullable=False, default=0),
    Column("matches", Integer, nullable=False, default=0),
    Column("notice", Text),  # a message the user must be told once (moved, gone, failing)
    Column("notice_sent", Boolean, nullable=False, default=True),
)

# Every entry ever seen, so nothing is fetched twice across restarts. state: pending until
# its article is stored (or given up), so a crash mid-cycle reprocesses it.
entries = Table(
    "entries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("feed", String(200), nullable=False),
    Column("entry_id", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False),
    Column("state", String(20), nullable=False, default="pending"),  # pending done duplicate failed
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("processed_at", UTCDateTime()),
    Column("article_number", Integer),
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("data", JSON),  # the FeedEntry, so a pending entry can be processed after restart
    UniqueConstraint("feed", "entry_id", name="uq_entries_feed_entry"),
)
Index("ix_entries_canonical", entries.c.canonical_url)
Index("ix_entries_state", entries.c.state)

articles = Table(
    "articles", metadata,
    Column("number", Integer, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False),
    Column("canonical_url", Text, nullable=False, unique=True),
    Column("url_hash", String(16), nullable=False),
    Column("feed", String(200), nullable=False),
    Column("site", String(255), nullable=False),
    Column("entry_id", Text, nullable=False, default=""),
    Column("title", Text, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("body", Text),  # NULL once purged (unmatched articles past keep_text)
    Column("author", Text, nullable=False, default=""),
    Column("language", String(16)),
    Column("published", UTCDateTime()),
    Column("fetched", UTCDateTime(), nullable=False),
    Column("text_source", String(10), nullable=False),  # page feed partial
    Column("file_name", Text),  # seed-format file in articles/, when written
)
Index("ix_articles_fetched", articles.c.fetched)
Index("ix_articles_feed", articles.c.feed)

# hits: [[field, start, end, term], ...] character spans into the article's fields.
matches = Table(
    "matches", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("article_number", Integer, ForeignKey("articles.number"), nullable=False),
    Column("rule", String(200), nullable=False),
    Column("hits", JSON, nullable=False),
    Column("matched_at", UTCDateTime(), nullable=False),
    Column("origin", String(10), nullable=False, default="live"),  # live backfill
    UniqueConstraint("article_number", "rule", name="uq_matches_article_rule"),
)
Index("ix_matches_matched_at", matches.c.matched_at)
