"""The site's memory of paragraphs, ``boilerplate_seen``, becomes one B-tree.

Its rows were a table with a row number plus three indexes that repeated its columns: the
unique (site, fingerprint, article_key), (site, seen_at) and the (site, fingerprint,
seen_at, article_key) every per-article question read. Each article's few dozen sightings
were written into all four, two of them at random places, in a transaction of their own
(docs/performance.md). Now (site, fingerprint, article_key) is the primary key, and on
SQLite the table is WITHOUT ROWID, so its rows are that key's index and carry seen_at:
one tree to write, and the same (site, fingerprint) ranges to read. The row number, which
nothing read, is gone.

The rows are copied into the new table, which then takes the old one's name: nothing
learned is lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = "site, fingerprint, article_key, seen_at"


def _sighting_columns() -> list[sa.Column[object]]:
    return [sa.Column("site", sa.String(255), nullable=False),
            sa.Column("fingerprint", sa.String(16), nullable=False),
            sa.Column("article_key", sa.String(64), nullable=False),
            sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False)]


def _move_into(new: str) -> None:
    op.execute(f"INSERT INTO {new} ({_COLUMNS}) SELECT {_COLUMNS} FROM boilerplate_seen")
    op.drop_table("boilerplate_seen")  # its indexes go with it
    op.rename_table(new, "boilerplate_seen")


def upgrade() -> None:
    op.create_table(
        "boilerplate_seen_keyed", *_sighting_columns(),
        sa.PrimaryKeyConstraint("site", "fingerprint", "article_key",
                                name="pk_boilerplate_seen"),
        sqlite_with_rowid=False)
    _move_into("boilerplate_seen_keyed")


def downgrade() -> None:
    op.create_table(
        "boilerplate_seen_numbered",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        *_sighting_columns(),
        sa.UniqueConstraint("site", "fingerprint", "article_key", name="uq_boilerplate_seen"))
    _move_into("boilerplate_seen_numbered")
    op.create_index("ix_boilerplate_seen_site_time", "boilerplate_seen", ["site", "seen_at"])
    op.create_index("ix_boilerplate_seen_lookup", "boilerplate_seen",
                    ["site", "fingerprint", "seen_at", "article_key"])
