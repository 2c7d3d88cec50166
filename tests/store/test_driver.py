"""Many rows through the driver (``store/driver.py``): on SQLite several rows a statement,
elsewhere the driver's executemany; either way every row, in order, once."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import event

from watcher.store import Store
from watcher.store.boilerplate import _RECORD_COLUMNS, _unless_recorded
from watcher.store.driver import _rows_of, driver_value, insert_many
from watcher.store.ingest import _INSERT_MATCHES, _MATCH_COLUMNS
from watcher.store.schema import boilerplate_seen

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("count", [1, 199, 200, 1_000])
def test_every_row_goes_in_once_across_statements(store: Store, count: int) -> None:
    statement = _unless_recorded(boilerplate_seen, store.engine.dialect)
    with store.engine.begin() as conn:
        at = driver_value(boilerplate_seen.c.seen_at, NOW, conn.dialect)
        rows = [("example.org", f"{n:016x}", f"article{n % 7}", at) for n in range(count)]
        # A repeat, in the same statement and in a later one: the first row stands.
        insert_many(conn, statement, _RECORD_COLUMNS, [*rows, rows[0], *rows[-1:]])
        stored = conn.exec_driver_sql(
            "SELECT fingerprint, article_key FROM boilerplate_seen ORDER BY fingerprint"
        ).all()
    assert [tuple(row) for row in stored] == [(f, a) for _, f, a, _ in rows]


def test_sqlite_is_given_few_distinct_statements_whatever_the_counts(tmp_path: Path) -> None:
    """sqlite3 keeps up to 128 statements it prepared, each as large as its rows: the counts
    of rows a statement are powers of two, so one table's inserts prepare at most eight."""
    with Store.at(f"sqlite:///{tmp_path / 'index.sqlite3'}", tmp_path / "articles") as store:
        seen: set[str] = set()
        event.listen(store.engine, "before_cursor_execute",
                     lambda _conn, _cursor, sql, *_: seen.add(sql))
        statement = _unless_recorded(boilerplate_seen, store.engine.dialect)
        with store.engine.begin() as conn:
            at = driver_value(boilerplate_seen.c.seen_at, NOW, conn.dialect)
            for count in range(1, 300):
                insert_many(conn, statement, _RECORD_COLUMNS,
                            [("example.org", f"{count:08x}{n:08x}", "a", at)
                             for n in range(count)])
            stored = conn.exec_driver_sql("SELECT count(*) FROM boilerplate_seen").scalar()
    assert stored == sum(range(1, 300))
    inserts = {sql for sql in seen if sql.startswith("INSERT")}
    assert len(inserts) == 8  # 128, 64, ... 1 rows: 4 columns, at most 999 parameters


def test_a_failing_row_fails_its_insert_and_the_transaction_keeps_nothing(store: Store) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"), store.engine.begin() as conn:
        at = driver_value(boilerplate_seen.c.seen_at, NOW, conn.dialect)
        insert_many(conn, _INSERT_MATCHES, _MATCH_COLUMNS,
                    [(404, f"rule{n}", "[]", at, "live") for n in range(300)])
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM matches").scalar() == 0


def test_the_statement_of_many_rows_repeats_the_values_and_keeps_the_rest() -> None:
    one = "INSERT INTO t (a, b) VALUES (?, ?) ON CONFLICT DO NOTHING"
    assert _rows_of(one, 2, 3) == ("INSERT INTO t (a, b) VALUES (?, ?), (?, ?), (?, ?) "
                                   "ON CONFLICT DO NOTHING")
    assert _rows_of("INSERT INTO t (a) VALUES (?)", 1, 1) == "INSERT INTO t (a) VALUES (?)"
