"""Articles keep which claimed date their publication time is, and their outlet's name.

``published_source`` records the ``DateSource`` that ``watcher/dates.py`` believed (issue 17:
"record which source won"); ``site_name`` the outlet as a reader knows it (the page's
og:site_name or JSON-LD publisher, else its own feed's title, else the host), shown in
digests (issue 15). Both are NULL in the rows stored before: nobody recorded them then, and
readers fall back to nothing and to the host.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns: SQLite adds them with a plain ALTER TABLE, no table copy.
    with op.batch_alter_table("articles") as batch:
        batch.add_column(sa.Column("published_source", sa.String(16), nullable=True))
        batch.add_column(sa.Column("site_name", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("articles") as batch:
        batch.drop_column("site_name")
        batch.drop_column("published_source")
