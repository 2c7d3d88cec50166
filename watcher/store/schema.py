"""The index's tables (SQLAlchemy Core, portable to SQLite and PostgreSQL).

Every table of the index is declared here, on ``metadata``: the core (feeds, entries,
articles, matches), the outbox (runs, deliveries, alert bookkeeping) and the learned site
memory (boilerplate fingerprints, text lengths). This is the schema as of the newest
migration: a change here goes with a new revision in ``migrations/versions/`` (see
``docs/store.md``), and ``tests/store/test_migrations.py`` fails when the two differ.
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
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


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
    # Added by revision 0002; NULL in rows stored before it (not known then):
    Column("published_source", String(16)),  # which claimed date `published` is (dates.py)
    Column("site_name", Text),  # the outlet by its own name (entrywork.outlet_name)
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


# -- the outbox (store/outbox.py) ---------------------------------------------------------

outbox_runs = Table(
    "outbox_runs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # "digest:morning@<slot>" or "alert:<rule>@<time>": the idempotency key of a send
    Column("key", String(300), nullable=False, unique=True),
    Column("kind", String(10), nullable=False),  # digest alert
    Column("name", String(200), nullable=False),  # digest name, or rule for an alert
    Column("since", UTCDateTime(), nullable=False),
    Column("cutoff", UTCDateTime(), nullable=False),  # items matched up to here
    Column("created", UTCDateTime(), nullable=False),
    Column("item_count", Integer, nullable=False),
    Column("payload", JSON, nullable=False),  # the fixed Digest (digest_to_json)
)
Index("ix_outbox_runs_kind_name", outbox_runs.c.kind, outbox_runs.c.name)

outbox_deliveries = Table(
    "outbox_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("outbox_runs.id"), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("state", String(10), nullable=False),  # pending sending sent failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("parts_done", Integer, nullable=False, default=0),  # Slack messages accepted
    Column("next_attempt", UTCDateTime(), nullable=False),
    Column("claimed_at", UTCDateTime()),
    Column("last_error", Text),
    Column("sent_id", Text),  # Message-ID, file stem, ...
    Column("sent_at", UTCDateTime()),
    Column("updated", UTCDateTime(), nullable=False),
    UniqueConstraint("run_id", "channel", name="uq_outbox_deliveries_run_channel"),
)
Index("ix_outbox_deliveries_due", outbox_deliveries.c.state, outbox_deliveries.c.next_attempt)

# Articles of `alert: immediate` rules: held until their rule's throttle window allows a
# message, then listed in one (or only counted in it, past the list's length).
alert_articles = Table(
    "alert_articles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule", String(200), nullable=False),
    Column("article_number", Integer, nullable=False),
    Column("state", String(10), nullable=False),  # held listed counted
    Column("created", UTCDateTime(), nullable=False),
    Column("run_id", Integer, ForeignKey("outbox_runs.id")),
    UniqueConstraint("rule", "article_number", name="uq_alert_articles_rule_article"),
)
Index("ix_alert_articles_state", alert_articles.c.state)

alert_windows = Table(
    "alert_windows", metadata,
    Column("rule", String(200), primary_key=True),
    Column("last_sent", UTCDateTime(), nullable=False),
)


# -- site memory for extraction (store/boilerplate.py) --------------------------------------

# One B-tree, keyed by (site, fingerprint, article): on SQLite a table WITHOUT ROWID, whose
# rows are its key's index and carry seen_at. Every question the pipeline asks (already
# recorded? seen in enough articles lately?) and ``known`` read a (site, fingerprint) range
# of it; an article's sightings land in one tree rather than in the table and three indexes
# that repeated its columns (revision 0004, docs/store.md).
boilerplate_seen = Table(
    "boilerplate_seen", metadata,
    Column("site", String(255), nullable=False),
    Column("fingerprint", String(16), nullable=False),
    Column("article_key", String(64), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    PrimaryKeyConstraint("site", "fingerprint", "article_key", name="pk_boilerplate_seen"),
    sqlite_with_rowid=False,
)

site_lengths = Table(
    "site_lengths", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(255), nullable=False),
    Column("article_key", String(64), nullable=False),
    Column("chars", Integer, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site", "article_key", name="uq_site_lengths"),
)
Index("ix_site_lengths_site_time", site_lengths.c.site, site_lengths.c.seen_at)


# -- WebSub subscriptions (store/websub.py; added by revision 0003) ------------------------

# One row per feed whose hub we subscribe to. The web process writes what hubs tell it
# (verifications, denials, pushes); the daemon writes what it asks of hubs. A push asks the
# daemon for a poll by raising poll_requests; the daemon answers up to polls_taken.
websub_subscriptions = Table(
    "websub_subscriptions", metadata,
    Column("feed", String(200), primary_key=True),
    Column("hub", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("callback_id", String(64), nullable=False, unique=True),
    Column("callback", Text, nullable=False),
    Column("secret", String(128), nullable=False),
    # new requested active denied failed expired leaving (watcher/websub/model.py)
    Column("state", String(20), nullable=False),
    Column("requested_at", UTCDateTime()),
    Column("verified_at", UTCDateTime()),
    Column("lease_end", UTCDateTime()),
    Column("failures", Integer, nullable=False, default=0),
    Column("next_attempt", UTCDateTime()),
    Column("last_error", Text),
    Column("last_push", UTCDateTime()),
    Column("pushes", Integer, nullable=False, default=0),
    Column("poll_requests", Integer, nullable=False, default=0),
    Column("polls_taken", Integer, nullable=False, default=0),
)
