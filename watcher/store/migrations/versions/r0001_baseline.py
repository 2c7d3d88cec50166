"""The baseline: the index as watcher created it before it had migrations.

An index made then (``meta.schema_version`` = 1) is stamped with this revision, not
rebuilt. Written out column by column, not from ``schema.metadata``, so that later edits
of ``schema.py`` never change what this revision creates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _text(name: str, *, nullable: bool = True) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _int(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _str(name: str, length: int, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.String(length), nullable=nullable)


def _id() -> sa.Column[object]:
    return sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True)


def upgrade() -> None:
    op.create_table("meta", _str("key", 64), _text("value", nullable=False),
                    sa.PrimaryKeyConstraint("key"))
    op.create_table(
        "feeds", _str("name", 200), _text("config_url", nullable=False),
        _text("url", nullable=False), _text("title", nullable=False), _text("etag"),
        _text("last_modified"), _str("status", 20), _when("last_poll"), _when("last_success"),
        _text("last_error"), _when("last_error_at"), _int("consecutive_failures"),
        _when("next_poll"), _int("polls"), _int("not_modified"), _int("entries_seen"),
        _int("articles_stored"), _int("matches"), _text("notice"),
        sa.Column("notice_sent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("name"))
    op.create_table(
        "entries", _id(), _str("feed", 200), _text("entry_id", nullable=False),
        _text("url", nullable=False), _text("canonical_url", nullable=False),
        _str("state", 20), _when("first_seen", nullable=False), _when("processed_at"),
        _int("article_number", nullable=True), _int("attempts"), _text("error"),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.UniqueConstraint("feed", "entry_id", name="uq_entries_feed_entry"))
    op.create_index("ix_entries_canonical", "entries", ["canonical_url"])
    op.create_index("ix_entries_state", "entries", ["state"])
    op.create_table(
        "articles", sa.Column("number", sa.Integer(), primary_key=True, autoincrement=True),
        _text("url", nullable=False), _text("canonical_url", nullable=False),
        _str("url_hash", 16), _str("feed", 200), _str("site", 255),
        _text("entry_id", nullable=False), _text("title", nullable=False),
        _text("description", nullable=False), _text("body"), _text("author", nullable=False),
        _str("language", 16, nullable=True), _when("published"),
        _when("fetched", nullable=False), _str("text_source", 10), _text("file_name"),
        sa.UniqueConstraint("canonical_url"))
    op.create_index("ix_articles_fetched", "articles", ["fetched"])
    op.create_index("ix_articles_feed", "articles", ["feed"])
    op.create_table(
        "matches", _id(), _int("article_number"), _str("rule", 200),
        sa.Column("hits", sa.JSON(), nullable=False), _when("matched_at", nullable=False),
        _str("origin", 10),
        sa.ForeignKeyConstraint(["article_number"], ["articles.number"]),
        sa.UniqueConstraint("article_number", "rule", name="uq_matches_article_rule"))
    op.create_index("ix_matches_matched_at", "matches", ["matched_at"])
    _outbox()
    _site_memory()


def _outbox() -> None:
    op.create_table(
        "outbox_runs", _id(), _str("key", 300), _str("kind", 10), _str("name", 200),
        _when("since", nullable=False), _when("cutoff", nullable=False),
        _when("created", nullable=False), _int("item_count"),
        sa.Column("payload", sa.JSON(), nullable=False), sa.UniqueConstraint("key"))
    op.create_index("ix_outbox_runs_kind_name", "outbox_runs", ["kind", "name"])
    op.create_table(
        "outbox_deliveries", _id(), _int("run_id"), _str("channel", 200), _str("state", 10),
        _int("attempts"), _int("parts_done"), _when("next_attempt", nullable=False),
        _when("claimed_at"), _text("last_error"), _text("sent_id"), _when("sent_at"),
        _when("updated", nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["outbox_runs.id"]),
        sa.UniqueConstraint("run_id", "channel", name="uq_outbox_deliveries_run_channel"))
    op.create_index("ix_outbox_deliveries_due", "outbox_deliveries", ["state", "next_attempt"])
    op.create_table(
        "alert_articles", _id(), _str("rule", 200), _int("article_number"),
        _str("state", 10), _when("created", nullable=False),
        _int("run_id", nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["outbox_runs.id"]),
        sa.UniqueConstraint("rule", "article_number", name="uq_alert_articles_rule_article"))
    op.create_index("ix_alert_articles_state", "alert_articles", ["state"])
    op.create_table("alert_windows", _str("rule", 200), _when("last_sent", nullable=False),
                    sa.PrimaryKeyConstraint("rule"))


def _site_memory() -> None:
    op.create_table(
        "boilerplate_seen", _id(), _str("site", 255), _str("fingerprint", 16),
        _str("article_key", 64), _when("seen_at", nullable=False),
        sa.UniqueConstraint("site", "fingerprint", "article_key", name="uq_boilerplate_seen"))
    op.create_index("ix_boilerplate_seen_site_time", "boilerplate_seen", ["site", "seen_at"])
    op.create_index("ix_boilerplate_seen_lookup", "boilerplate_seen",
                    ["site", "fingerprint", "seen_at", "article_key"])
    op.create_table(
        "site_lengths", _id(), _str("site", 255), _str("article_key", 64), _int("chars"),
        _when("seen_at", nullable=False),
        sa.UniqueConstraint("site", "article_key", name="uq_site_lengths"))
    op.create_index("ix_site_lengths_site_time", "site_lengths", ["site", "seen_at"])


def downgrade() -> None:
    for table in ("site_lengths", "boilerplate_seen", "alert_windows", "alert_articles",
                  "outbox_deliveries", "outbox_runs", "matches", "articles", "entries",
                  "feeds", "meta"):
        op.drop_table(table)
