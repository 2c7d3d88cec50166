"""Index URLs and engines: SQLite (a file in ``state_dir``) or PostgreSQL (psycopg 3).

``postgresql://user:pass@host/db`` as a user writes it in watcher.yaml becomes the psycopg 3
dialect (``postgresql+psycopg://``), the driver procrastinate uses too, so one library
talks to the server. A URL is shown to people only with its password hidden.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from watcher.errors import StoreError

_POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg")


def index_url(url: str) -> str:
    """The SQLAlchemy URL for an index URL as configured."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme in _POSTGRES_SCHEMES:
        return f"postgresql+psycopg://{rest}"
    return url


def shown(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unreadable index URL>"


def create_index_engine(url: str) -> Engine:
    try:
        engine = create_engine(index_url(url), pool_pre_ping=url.startswith("postgres"))
    except (ArgumentError, ImportError) as exc:
        raise StoreError(f"cannot use the index URL {shown(url)}: {exc}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    elif engine.dialect.name != "postgresql":
        engine.dispose()
        raise StoreError(f"the index must be SQLite or PostgreSQL, not {engine.dialect.name} "
                         f"({shown(url)})")
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL: readers (rules test, digest preview) never block the daemon's writes.
    # synchronous=NORMAL is durable across process crashes in WAL mode.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()
