"""WebSub subscriptions: one row per feed pushed to us by its hub (issue 16, item 6).

A new table only: existing rows are untouched, and an index without it simply had no
subscriptions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "websub_subscriptions",
        sa.Column("feed", sa.String(200), primary_key=True),
        sa.Column("hub", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("callback_id", sa.String(64), nullable=False, unique=True),
        sa.Column("callback", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True)),
        sa.Column("verified_at", sa.DateTime(timezone=True)),
        sa.Column("lease_end", sa.DateTime(timezone=True)),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("next_attempt", sa.DateTime(timezone=True)),
        sa.Column("last_error", sa.Text()),
        sa.Column("last_push", sa.DateTime(timezone=True)),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.Column("poll_requests", sa.Integer(), nullable=False),
        sa.Column("polls_taken", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("websub_subscriptions")
