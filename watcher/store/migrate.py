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
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, column, inspect, select, table
from sqlalchemy.exc import SQLAlchemyError

from watcher.errors import StoreError
from watcher.store.schema import meta, metadata

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig
    from alembic.script import ScriptDirectory

# Alembic itself is imported only when a schema is to be read closely or changed: opening an
# index that is up to date, as every command does, compares two strings instead (Alembic and
# its templates would add their weight to every watcher process for nothing).

log = logging.getLogger(__name__)
# Alembic narrates every step at INFO (context, DDL mode, each revision); our own line says
# what changed, and a daemon's log should not repeat that on every start.
logging.getLogger("alembic").setLevel(logging.WARNING)

MIGRATIONS = Path(__file__).with_name("migrations")
BASELINE = "0001"  # the schema as it was when the index only had a schema_version row
LEGACY_SCHEMA_VERSION = "1"
# Revisions are numbered in order and named after their number (docs/store.md): the file
# with the highest number is the head, which a test checks against Alembic's own reading.
REVISION_FILE = re.compile(r"^r(\d{4,})_\w+\.py$")
_alembic_version = table("alembic_version", column("version_num"))


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # None: no watcher schema yet (an empty database)
    head: str
    legacy: bool = False  # made before migrations: to be stamped as the baseline first

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head and not self.legacy

    @property
    def changes_schema(self) -> bool:
        """Revisions are to run on existing tables (stamping a legacy index changes none)."""
        return self.current is not None and self.current != self.head


class Migrations:
    """The revisions to apply: the package's own, plus ``extra`` folders (tests add one)."""

    def __init__(self, extra: Sequence[Path] = ()) -> None:
        self.locations = (MIGRATIONS / "versions", *extra)

    def config(self, connection: Connection | None = None) -> AlembicConfig:
        from alembic.config import Config as AlembicConfig

        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.set_main_option("version_locations", " ".join(str(p) for p in self.locations))
        cfg.set_main_option("path_separator", "space")
        cfg.attributes["connection"] = connection
        return cfg

    @cached_property
    def scripts(self) -> ScriptDirectory:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self.config())

    @cached_property
    def newest(self) -> str:
        """The highest-numbered revision file: the head, read without Alembic."""
        numbers = [match.group(1) for folder in self.locations for path in folder.iterdir()
                   if (match := REVISION_FILE.match(path.name))]
        return max(numbers, key=int)

    def head(self) -> str:
        head = self.scripts.get_current_head()
        assert head is not None, "the migrations have no head revision"
        return head

    def status(self, engine: Engine) -> SchemaStatus:
        head = self.head()
        with engine.connect() as conn:
            current = _stored_revision(conn)
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

    def drift(self, engine: Engine) -> list[Any]:
        """How the index's tables differ from ``schema.py`` (Alembic's autogenerate diff):
        empty when the migrations build exactly what the code declares."""
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))

    def upgrade(self, engine: Engine) -> Upgrade:
        """Bring the index to the newest revision. A SQLite file whose tables are about to
        change is first copied beside itself; the result says where it stood and where the
        copy is."""
        before = self.status(engine)
        if before.up_to_date:
            return Upgrade(before)
        backup = None
        database = engine.url.database
        if (engine.dialect.name == "sqlite" and before.current and before.changes_schema
                and database and database != ":memory:"):
            backup = backup_sqlite(Path(database), before.current)
        from alembic import command

        try:
            with engine.begin() as conn:
                cfg = self.config(conn)
                if before.legacy:
                    command.stamp(cfg, BASELINE)
                command.upgrade(cfg, "head")
        except SQLAlchemyError as exc:
            kept = f"; the index as it was is kept in {backup}" if backup else ""
            raise StoreError(f"upgrading the index's schema from {before.current} to "
                             f"{before.head} failed: {exc}{kept}") from exc
        done = Upgrade(before, backup)
        # A warning when the file was copied: the user may want the copy gone some day.
        log.log(logging.WARNING if backup else logging.INFO, "index %s", done.describe())
        return done

    def prepare(self, engine: Engine) -> None:
        """Opening the store: SQLite is upgraded (backup first); PostgreSQL must be current."""
        with engine.connect() as conn:
            if _stored_revision(conn) == self.newest:
                return
        status = self.status(engine)
        if status.up_to_date:
            return
        if engine.dialect.name != "sqlite":
            where = f"at revision {status.current}" if status.current else "has no schema yet"
            raise StoreError(f"the index {where}, this watcher needs revision {status.head}: "
                             "run `watcher db upgrade` first")
        self.upgrade(engine)


@dataclass(frozen=True)
class Upgrade:
    before: SchemaStatus
    backup: Path | None = None  # the SQLite index as it was

    def describe(self) -> str:
        before = self.before
        if before.up_to_date:
            return f"is up to date (schema revision {before.head})"
        if before.current is None:
            return f"created (schema revision {before.head})"
        if not before.changes_schema:
            return (f"predates migrations: recorded as schema revision {before.current}, "
                    "nothing else changed")
        kept = f"; the index as it was is kept in {self.backup}" if self.backup else ""
        return f"upgraded from schema revision {before.current} to {before.head}{kept}"


def _stored_revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    revision: str | None = conn.execute(select(_alembic_version.c.version_num)).scalar()
    return revision


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
