"""What ``watcher db`` does, as plain calls returning the lines to show."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from sqlalchemy.exc import SQLAlchemyError

from watcher.config import Config
from watcher.errors import StoreError
from watcher.store.copy import copy_index, source_rows
from watcher.store.engine import create_index_engine, index_url, shown
from watcher.store.index import Store
from watcher.store.migrate import PACKAGED, Migrations


def upgrade_index(url: str, migrations: Migrations = PACKAGED) -> str:
    """Create or upgrade the schema at ``url``; a SQLite file is backed up first."""
    engine = create_index_engine(url)
    try:
        return f"index {shown(url)} {migrations.upgrade(engine).describe()}"
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot upgrade the index {shown(url)}: {exc}") from exc
    finally:
        engine.dispose()


def copy_to(config: Config, target_url: str,
            rows_read: Callable[[int, int], None] | None = None) -> Iterator[str]:
    """Copy the configured index into ``target_url``, whose schema is upgraded first.
    ``rows_read(done, total)`` hears of the rows read so far, batch by batch."""
    if index_url(target_url) == index_url(config.database_url):
        raise StoreError("the target is the index itself; name another database with --to")
    yield upgrade_index(target_url)
    with Store.open(config) as source:
        target = create_index_engine(target_url)
        try:
            yield f"copying {shown(config.database_url)} to {shown(target_url)}"
            total_inserted = total_updated = 0
            read = [0, source_rows(source.engine) if rows_read else 0]

            def batch_read(rows: int) -> None:
                read[0] += rows
                if rows_read:
                    rows_read(read[0], read[1])

            for copied in copy_index(source.engine, target, rows_read=batch_read):
                total_inserted += copied.inserted
                total_updated += copied.updated
                yield (f"  {copied.table}: {copied.rows} rows, {copied.inserted} copied, "
                       f"{copied.updated} updated")
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot copy the index to {shown(target_url)}: {exc}") from exc
        finally:
            target.dispose()
    yield (f"done: {total_inserted} rows copied, {total_updated} updated; article files "
           f"stay in {config.articles_dir}")
