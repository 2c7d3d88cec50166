"""The core of the index: feeds and their HTTP state, seen entries, articles, matches.

``Store`` is what the rest of watcher holds (its entries' part is ``entries.EntryIndex``);
``store.outbox`` and ``store.boilerplate`` are the sub-stores on the same engine. Opening a
store brings its schema up to date first (``migrate.Migrations.prepare``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from watcher.config import Config
from watcher.errors import StoreError
from watcher.store.boilerplate import BoilerplateStore
from watcher.store.codec import (
    article_from_row,
    hits_from_json,
    hits_to_json,
    state_from_row,
    state_values,
)
from watcher.store.engine import create_index_engine, shown
from watcher.store.entries import IN_CHUNK, EntryIndex
from watcher.store.files import file_name, render
from watcher.store.ingest import commit_outcomes
from watcher.store.migrate import PACKAGED, Migrations
from watcher.store.objects import ArticleFiles, is_object_store, open_article_files
from watcher.store.outbox import Outbox
from watcher.store.reading import recent_query
from watcher.store.ready import Outcome, ready
from watcher.store.schema import articles, feeds, matches
from watcher.store.websub import WebSubStore
from watcher.types import Article, FeedState, Filed, RuleMatch, StoredArticle

log = logging.getLogger(__name__)

class Store(EntryIndex):
    def __init__(self, engine: Engine, articles: ArticleFiles | Path) -> None:
        self.engine = engine
        self.files = articles if not isinstance(articles, Path) else open_article_files(articles)
        self.outbox = Outbox(engine)
        self.boilerplate = BoilerplateStore(engine)
        self.websub = WebSubStore(engine)

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, config: Config) -> Store:
        try:
            config.state_dir.mkdir(parents=True, exist_ok=True)
            if not is_object_store(config.articles_location):
                config.articles_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create state folder {config.state_dir}: {exc}") from exc
        return cls.at(config.database_url, open_article_files(config.articles_location))

    @classmethod
    def at(cls, database_url: str, articles: ArticleFiles | Path, *,
           migrations: Migrations = PACKAGED) -> Store:
        """Open the index at ``database_url``; its schema is brought up to date first."""
        engine = create_index_engine(database_url)
        try:
            migrations.prepare(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the index {shown(database_url)}: {exc}") from exc
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, articles)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        if self.engine.dialect.name != "sqlite":
            return True
        with self.engine.connect() as conn:
            return conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"

    # -- feeds -----------------------------------------------------------------------------

    def save_feed_states(self, states: Iterable[FeedState]) -> None:
        """Write these feeds' states, adding the rows of feeds not seen before. Cluster
        members starting, or taking up the same edit, add the same new feed at once: the
        one whose insert collides writes its states again, now all as updates."""
        states = list(states)
        try:
            self._write_feed_states(states)
        except IntegrityError:
            self._write_feed_states(states)

    def _write_feed_states(self, states: Sequence[FeedState]) -> None:
        with self.engine.begin() as conn:
            for state in states:
                values = state_values(state)
                done = conn.execute(update(feeds).where(feeds.c.name == state.name)
                                    .values(**values))
                if done.rowcount == 0:
                    conn.execute(feeds.insert().values(**values))

    def feed_states(self) -> dict[str, FeedState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feeds)).all()
        return {row.name: state_from_row(row._mapping) for row in rows}

    def feed_state(self, name: str) -> FeedState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.name == name)).first()
        return state_from_row(row._mapping) if row else None

    def save_feed_state(self, state: FeedState) -> None:
        self.save_feed_states([state])

    # -- articles --------------------------------------------------------------------------

    def store_article(self, article: Article, found: Sequence[RuleMatch], *,
                      entry_row_id: int | None, write_file: bool, now: datetime
                      ) -> StoredArticle | None:
        """Number, index and (when asked) write the article; None if its URL is stored already.

        One transaction: the entry is marked done with the article, and the file is renamed
        into place before the commit, so a crash leaves at worst an orphan file (removed at
        start-up by ``reconcile_files``), never a row without its file.
        """
        prepared = ready(article, found, write_file=write_file)
        result = self.commit([Outcome(entry_row_id, prepared)], now)[0]
        if isinstance(result, StoreError):
            raise result
        if result is None:
            return None
        name = (file_name(result.number, prepared.article.canonical_url)
                if prepared.file_text is not None else None)
        return StoredArticle(number=result.number, article=prepared.article, file_name=name,
                             matches=tuple(found))

    def commit(self, outcomes: Sequence[Outcome], now: datetime
               ) -> list[Filed | StoreError | None]:
        """Store a batch of worked entries in one transaction (``ingest.commit_outcomes``);
        for each, its number and matched rules, None (a duplicate, or a failed attempt) or
        the StoreError that kept it out.

        When the batch fails as a whole, each outcome is tried in a transaction of its own,
        so one bad article cannot hold back the rest.
        """
        try:
            return list(self._commit(outcomes, now))
        except StoreError as exc:
            if len(outcomes) == 1:
                return [exc]
        results: list[Filed | StoreError | None] = []
        for outcome in outcomes:
            try:
                results.extend(self._commit([outcome], now))
            except StoreError as exc:
                results.append(exc)
        return results

    def _commit(self, outcomes: Sequence[Outcome], now: datetime) -> list[Filed | None]:
        try:
            with self.engine.begin() as conn:
                return commit_outcomes(conn, self.files, outcomes, now)
        except OSError as exc:
            raise StoreError(f"cannot write article file in {self.files.location}: "
                             f"{exc.strerror or exc}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store {len(outcomes)} article(s): {exc}") from exc

    def get_article(self, number: int) -> StoredArticle | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.number == number)).first()
            if row is None:
                return None
            return self._stored(conn, row._mapping)

    def recent_articles(self, since: datetime, feed_glob: str | None = None
                        ) -> Iterator[StoredArticle]:
        """Articles fetched since ``since`` whose text is kept, newest first (a search walks
        their text alone: ``Reading.recent_texts``)."""
        with self.engine.connect() as conn:
            for row in conn.execute(recent_query([articles], since, None)):
                if feed_glob and not fnmatchcase(row.feed, feed_glob):
                    continue
                yield self._stored(conn, row._mapping, with_matches=False)

    def _stored(self, conn: Connection, row: Mapping[Any, Any], *,
                with_matches: bool = True) -> StoredArticle:
        found: tuple[RuleMatch, ...] = ()
        if with_matches:
            found = tuple(
                RuleMatch(m.rule, hits_from_json(m.hits)) for m in conn.execute(
                    select(matches).where(matches.c.article_number == row["number"])
                    .order_by(matches.c.id)))
        return StoredArticle(number=row["number"], article=article_from_row(row),
                             file_name=row["file_name"], matches=found)

    def record_matches(self, number: int, found: Sequence[RuleMatch], *, origin: str,
                       now: datetime) -> int:
        """Add matches for an existing article (backfill); returns how many were new."""
        added = 0
        with self.engine.begin() as conn:
            for match in found:
                if conn.execute(select(matches.c.id).where(
                        matches.c.article_number == number, matches.c.rule == match.rule)
                        ).first():
                    continue
                conn.execute(matches.insert().values(
                    article_number=number, rule=match.rule, hits=hits_to_json(match.hits),
                    matched_at=now, origin=origin))
                added += 1
        return added

    def purge_text(self, fetched_before: datetime) -> int:
        """Forget the text of old articles that matched nothing (``keep_text``)."""
        matched = select(matches.c.article_number)
        with self.engine.begin() as conn:
            result = conn.execute(update(articles).where(
                articles.c.fetched < fetched_before, articles.c.body.is_not(None),
                articles.c.number.not_in(matched)).values(body=None))
        return int(result.rowcount or 0)

    def article_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(articles)).scalar_one())

    def text_sources(self, since: datetime) -> dict[str, dict[str, int]]:
        """Per feed, how many recent articles came from the page, the feed, or were partial."""
        query = (select(articles.c.feed, articles.c.text_source, func.count())
                 .where(articles.c.fetched >= since)
                 .group_by(articles.c.feed, articles.c.text_source))
        result: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for feed, source, count in conn.execute(query):
                result.setdefault(feed, {})[source] = count
        return result

    def reconcile_files(self, *, written_before: datetime | None = None) -> tuple[int, int]:
        """After a crash: remove orphan/temp files, rewrite files whose row lost them.

        Returns (removed, restored). On shared files, ``written_before`` spares the files
        other processes are writing now (see ``ArticleFiles.strays``).
        """
        with self.engine.connect() as conn:
            known = set(conn.scalars(select(articles.c.file_name).where(
                articles.c.file_name.is_not(None))))
        removed = 0
        for name in self.files.strays(known, written_before=written_before):
            log.warning("removing orphan file %s (left by an interrupted write)", name)
            self.files.remove(name)
            removed += 1
        missing = sorted(known - set(self.files.names()))
        restored = 0
        with self.engine.connect() as conn:  # only the rows whose file is gone, whole
            for start in range(0, len(missing), IN_CHUNK):
                for row in conn.execute(select(articles).where(articles.c.file_name.in_(
                        missing[start:start + IN_CHUNK]))):
                    if row.body is not None:
                        self.files.write(row.file_name, render(article_from_row(row._mapping)))
                        restored += 1
        return removed, restored

