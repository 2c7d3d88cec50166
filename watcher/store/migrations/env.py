"""Alembic's entry point. ``watcher.store.migrate`` hands over an open connection; the
``alembic`` command line (used to write a new revision, see ``docs/store.md``) connects to
``WATCHER_INDEX_URL`` instead."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

from watcher.store.engine import create_index_engine
from watcher.store.schema import metadata


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite alters most columns only by copying the table; batch
    # operations do that there and plain ALTERs on PostgreSQL.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = os.environ.get("WATCHER_INDEX_URL")
    if not url:
        raise SystemExit("set WATCHER_INDEX_URL to the index to compare against")
    engine = create_index_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


_main()
