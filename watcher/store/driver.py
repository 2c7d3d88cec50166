"""Many rows of one INSERT through the database driver: on SQLite several rows a statement,
elsewhere the driver's own ``executemany``.

For the inserts made for every article (its matches, its paragraphs' sightings) SQLAlchemy's
processing of each row's parameters cost more than the database's insert
(docs/performance.md). Here the statement is compiled once per dialect and the rows go to
the driver as they are: the caller gives every value in the driver's form already
(``driver_value`` converts one value, such as the one time all the rows share, once).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Column, Connection, Dialect
from sqlalchemy.sql import Insert

# (statement, dialect name, parameter style) -> (SQL text, positional parameters); the key
# holds the statement itself, so an entry can never be taken for another statement's
_compiled: dict[tuple[Insert, str, str], tuple[str, bool]] = {}
# The fewest parameters a SQLite build may allow in one statement (those before 3.32).
_SQLITE_MAX_PARAMETERS = 999


def _compiled_insert(statement: Insert, columns: tuple[str, ...],
                     dialect: Dialect) -> tuple[str, bool]:
    """The INSERT's text for ``dialect`` and whether its parameters are positional; kept by
    the dialect's name and parameter style, not the dialect (one per engine opened)."""
    key = (statement, dialect.name, dialect.paramstyle)
    found = _compiled.get(key)
    if found is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(columns))
        if compiled.positional:
            assert tuple(compiled.positiontup or ()) == columns, compiled.positiontup
        found = _compiled[key] = (str(compiled), compiled.positional)
    return found


def driver_value(column: Column[Any], value: Any, dialect: Dialect) -> Any:
    """``value`` as the driver takes it for ``column``: its type's bind processing for
    ``dialect``, as SQLAlchemy would do it (the dialect's own processing included: SQLite
    stores a time as text in one format, which comparisons between times rely on)."""
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process(value) if process is not None else value


def insert_many(conn: Connection, statement: Insert, columns: tuple[str, ...],
                rows: Sequence[tuple[Any, ...]]) -> None:
    """``rows`` (values in ``columns``' order, in the driver's form) inserted by
    ``statement``, an INSERT built once (it is compiled once per dialect and kept)."""
    if not rows:
        return
    sql, positional = _compiled_insert(statement, columns, conn.dialect)
    if conn.dialect.name == "sqlite":
        # sqlite3's executemany steps the one-row statement once a row; a statement of many
        # rows does the same work with a fraction of the calls (docs/performance.md). The
        # counts of rows are powers of two: sqlite3 keeps each distinct statement it
        # prepared, and one for every count would hold megabytes.
        size = _largest_power_of_two(_SQLITE_MAX_PARAMETERS // len(columns))
        start = 0
        while start < len(rows):
            while size > len(rows) - start:
                size //= 2
            chunk = rows[start:start + size]
            conn.exec_driver_sql(_rows_of(sql, len(columns), size),
                                 tuple(chain.from_iterable(chunk)))
            start += size
        return
    conn.exec_driver_sql(sql, list(rows) if positional
                         else [dict(zip(columns, row, strict=True)) for row in rows])


def _largest_power_of_two(limit: int) -> int:
    return 1 << (max(limit, 1).bit_length() - 1)


@lru_cache(maxsize=64)
def _rows_of(sql: str, width: int, count: int) -> str:
    """SQLite's one-row INSERT ``sql`` (``width`` ``?`` in its VALUES) for ``count`` rows."""
    one = "(" + ", ".join("?" * width) + ")"
    before, found, after = sql.partition(f"VALUES {one}")
    assert found and one not in after, sql
    return f"{before}VALUES {', '.join([one] * count)}{after}"
