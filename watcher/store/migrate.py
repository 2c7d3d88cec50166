"""The index's schema history: Alembic revisions shipped in ``store/migrations/``.

``Migrations.status`` tells where an index stands; ``Migrations.upgrade`` brings it to the
newest revision. An index made before migrations existed carries a ``schema_version`` row
of 1 in ``meta`` and no ``alembic_version`` table: it is exactly the baseline revision, so
it is stamped as such, then upgraded like any other. ``prepare`` is what opening the store
does: a SQLite index is upgraded on the spot after a backup copy beside it; a PostgreSQL
index, shared by many processes, is only ever upgraded by ``watcher db upgrade``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, select

from watcher.errors import StoreError
from watcher.store.schema import meta

log = logging.getLogger(__name__)
# Alembic narrates every step at INFO (context, DDL mode, each revision); our own line says
# what changed, and a daemon's log should not repeat that on every start.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema as it was when the index only had a schema_version row
LEGACY_SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no watcher schema yet (an empty database)
    head: str
    legacy: bool = False  # made before migrations: to be stamped as the baseline first

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.legacy


class Migrations:
    """The revisions to apply: the package's own, plus ``extra`` folders (tests add one)."""

    def __init__(self, extra: Sequence[Path] = ()) -> None:
        self.locations = (MIGRATIONS / "versions", *extra)

    def config(self, connection: Connection | None = None) -> AlembicConfig:
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("version_locations", " ".join(str(p) for p in self.locations))
        cfg.set_main_option("path_separator", "space")
        cfg.attributes["connection"] = connection
        return cfg

    @cached_property
    def scripts(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    def head(self) -> str:
        head = self.scripts.get_current_head()
        assert head is not None, "the migrations have no head revision"
        return head

    def status(self, engine: Engine) -> SchemaStatus:
        head = self.head()
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None:
                if current != head and current not in {
                        script.revision for script in self.scripts.walk_revisions()}:
                    raise StoreError(
                        f"the index is at schema revision {current}, which this watcher does "
                        "not know: it was upgraded by a newer watcher; run that version")
                return SchemaStatus(current, head)
            tables = set(inspect(conn).get_table_names())
            if not tables:
                return SchemaStatus(None, head)
            version = None
            if "meta" in tables:
                version = conn.execute(select(meta.c.value).where(
                    meta.c.key == "schema_version")).scalar()
        if version == LEGACY_SCHEMA_VERSION:
            return SchemaStatus(BASELINE, head, legacy=True)
        raise StoreError("the index database holds tables but no watcher schema version "
                         f"({', '.join(sorted(tables)[:5])}...); is it another program's?")

    def upgrade(self, engine: Engine) -> SchemaStatus:
        """Bring the index to the newest revision; returns where it stood before."""
        before = self.status(engine)
        if before.up_to_date:
            return before
        with engine.begin() as conn:
            cfg = self.config(conn)
            if before.legacy:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, "head")
        if before.current is None:
            log.info("created the index schema (revision %s)", before.head)
        else:
            log.info("upgraded the index schema from revision %s to %s", before.current,
                     before.head)
        return before

    def prepare(self, engine: Engine) -> None:
        """Opening the store: SQLite is upgraded (backup first); PostgreSQL must be current."""
        status = self.status(engine)
        if status.up_to_date:
            return
        if engine.dialect.name != "sqlite":
            where = f"at revision {status.current}" if status.current else "has no schema yet"
            raise StoreError(f"the index {where}, this watcher needs revision {status.head}: "
                             "run `watcher db upgrade` first")
        database = engine.url.database
        if status.current is not None and database and database != ":memory:":
            backup = backup_sqlite(Path(database), status.current)
            log.warning("upgrading the index schema from %s to %s; the index as it was is "
                        "kept in %s", status.current, status.head, backup)
        self.upgrade(engine)


PACKAGED = Migrations()  # the revisions shipped with watcher (its head is read once)


def backup_sqlite(path: Path, revision: str) -> Path:
    """A consistent copy of a live SQLite index (WAL included) beside it."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.before-{revision}-{stamp}")
    try:
        source = sqlite3.connect(path)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up the index to {target} before upgrading it: "
                         f"{exc}") from exc
    return target
