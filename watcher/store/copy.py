"""``watcher db copy``: one index's rows into another (a single machine's SQLite into the
PostgreSQL a cluster shares), losing nothing and copying nothing twice.

Every table is walked in primary-key order (a key of several columns as a whole), in
batches, parents before children (articles before their matches, runs before their
deliveries). A row missing from the target is inserted with its own key, so article
numbers (and the seed-format file names made from them) stay what they were; a row the
target holds already is updated when it differs (the feed polled again, a delivery sent
since the last copy), else left alone. Run twice, the second run changes nothing; run
again after the source moved on, it brings the target up to date. A target row with the
same key but another identity (another article under that number) stops the copy: that
target holds another index. The target's sequences are then moved past the copied keys,
so the numbers it hands out next are never ones the source already used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    Table,
    UniqueConstraint,
    and_,
    func,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from watcher.errors import StoreError
from watcher.store.schema import (
    alert_articles,
    alert_windows,
    articles,
    boilerplate_seen,
    entries,
    feeds,
    matches,
    metadata,
    outbox_deliveries,
    outbox_runs,
    site_lengths,
    websub_subscriptions,
)

# Parents first, so that every foreign key finds its row.
TABLES: tuple[Table, ...] = (feeds, entries, articles, matches, outbox_runs,
                             outbox_deliveries, alert_articles, alert_windows,
                             boilerplate_seen, site_lengths, websub_subscriptions)
BATCH = 1000


@dataclass(frozen=True)
class TableCopy:
    table: str
    rows: int  # in the source
    inserted: int
    updated: int


def copy_index(source: Engine, target: Engine, *,
               progress: Callable[[TableCopy], None] | None = None,
               rows_read: Callable[[int], None] | None = None) -> list[TableCopy]:
    """Copy every table of ``source`` into ``target``; both schemas must be current.
    ``progress`` hears of each table copied, ``rows_read`` of each batch (its rows)."""
    missing = set(metadata.tables) - {t.name for t in TABLES} - {"meta"}
    assert not missing, f"tables left out of the copy: {sorted(missing)}"
    done = []
    for table in TABLES:
        copied = _copy_table(source, target, table, rows_read)
        done.append(copied)
        if progress:
            progress(copied)
    if target.dialect.name == "postgresql":
        with target.begin() as conn:
            for table in TABLES:
                _advance_sequence(conn, table)
    return done


def source_rows(source: Engine) -> int:
    """How many rows a copy of ``source`` reads (for its progress line)."""
    with source.connect() as conn:
        return sum(int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                   for table in TABLES)


def _copy_table(source: Engine, target: Engine, table: Table,
                rows_read: Callable[[int], None] | None) -> TableCopy:
    key = tuple(table.primary_key.columns)
    identity = _identity(table)
    rows = inserted = updated = 0
    for batch in _batches(source, table, key):
        rows += len(batch)
        if rows_read:
            rows_read(len(batch))
        keys = [_key_of(row, key) for row in batch]
        try:
            with target.begin() as conn:
                have = {_key_of(row, key): row for row in
                        conn.execute(select(table).where(_key_in(key, keys))).mappings()}
                new = [row for row, row_key in zip(batch, keys, strict=True)
                       if row_key not in have]
                if new:
                    conn.execute(table.insert(), new)
                for row, row_key in zip(batch, keys, strict=True):
                    old = have.get(row_key)
                    if old is not None and any(old[c] != row[c] for c in identity):
                        raise StoreError(
                            f"cannot copy {table.name}: the target's row "
                            f"{_shown(row_key)} is another one than the source's; copy into "
                            "an empty database, or one this index was copied to before")
                    if old is not None and dict(old) != row:
                        conn.execute(update(table).where(_key_is(key, row_key)).values(row))
                        updated += 1
        except IntegrityError as exc:
            raise StoreError(
                f"cannot copy {table.name}: the target holds other rows with the same keys "
                f"({exc.orig}); copy into an empty database, or one this index was copied "
                "to before") from exc
        inserted += len(new)
    return TableCopy(table.name, rows, inserted, updated)


# A table's primary key may span columns (the site memory's sightings): each row's key is
# the tuple of its values, compared and walked in order as a whole (row values, which
# SQLite and PostgreSQL both understand).

def _key_of(row: Mapping[str, Any] | RowMapping, key: tuple[Column[Any], ...]) -> tuple[Any, ...]:
    return tuple(row[column.name] for column in key)


def _key_in(key: tuple[Column[Any], ...], values: list[tuple[Any, ...]]) -> ColumnElement[bool]:
    if len(key) == 1:
        return key[0].in_([value for (value,) in values])
    return tuple_(*key).in_(values)


def _key_is(key: tuple[Column[Any], ...], value: tuple[Any, ...]) -> ColumnElement[bool]:
    return and_(*(column == part for column, part in zip(key, value, strict=True)))


def _shown(value: tuple[Any, ...]) -> str:
    return str(value[0]) if len(value) == 1 else str(value)


def _identity(table: Table) -> tuple[str, ...]:
    """What makes a row the same row in two indexes: its unique columns (an article's
    canonical URL, a run's key), else its primary key."""
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            return tuple(column.name for column in constraint.columns)
    return tuple(column.name for column in table.primary_key.columns)


def _batches(source: Engine, table: Table, key: tuple[Column[Any], ...]
             ) -> Iterator[list[dict[str, Any]]]:
    last: tuple[Any, ...] | None = None
    while True:
        query = select(table).order_by(*key).limit(BATCH)
        if last is not None:
            query = query.where(key[0] > last[0] if len(key) == 1
                                else tuple_(*key) > tuple_(*last))
        with source.connect() as conn:
            batch = [dict(row) for row in conn.execute(query).mappings()]
        if not batch:
            return
        yield batch
        last = _key_of(batch[-1], key)


def _advance_sequence(conn: Connection, table: Table) -> None:
    if len(table.primary_key.columns) != 1:
        return  # a key of several columns is not numbered by a sequence
    (key,) = table.primary_key.columns
    if not isinstance(key.type, Integer) or not key.autoincrement:
        return
    sequence = conn.scalar(select(func.pg_get_serial_sequence(table.name, key.name)))
    if sequence is None:
        return
    highest = conn.scalar(select(func.max(key)))
    if highest is None:
        return
    # Only ever forward: numbers the target handed out itself are never handed out again.
    conn.execute(text("SELECT setval(CAST(:seq AS regclass), GREATEST(:highest, "
                      "(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END "
                      f"FROM {sequence})), true)"), {"seq": sequence, "highest": highest})
