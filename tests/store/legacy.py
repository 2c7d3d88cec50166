"""An index as watcher made it before migrations, built from the SQL script in tests/data."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.data import DATA

LEGACY_SQL = DATA / "store" / "index_before_migrations.sql"


def legacy_index(folder: Path) -> Path:
    """``folder/index.sqlite3`` with the old schema and its rows (2 feeds, 3 entries,
    2 articles, 1 match, 1 outbox run with 2 deliveries, a held alert, boilerplate)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "index.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.executescript(LEGACY_SQL.read_text(encoding="utf-8"))
    conn.close()
    return path


def set_schema_revision(path: Path, revision: str) -> None:
    """Pretend another watcher version upgraded this file."""
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    conn.close()


def table_sql(path: Path, table: str) -> str:
    with sqlite3.connect(path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    conn.close()
    return str(sql)
