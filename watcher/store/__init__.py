"""The index (SQLAlchemy Core; SQLite in WAL mode here, PostgreSQL-ready) and article files.

All SQL of the project lives in this package. ``Store`` holds the core tables (feeds,
entries, articles, matches); the outbox and boilerplate sub-stores share its engine.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from watcher.config import Config, FeedConfig
from watcher.errors import StoreError
from watcher.lifecycle import FeedState, initial_state, reconcile_with_config

# The outbox and boilerplate tables live in their own modules on the same metadata;
# importing them registers those tables before create_all.
from watcher.store import boilerplate as _boilerplate  # noqa: F401
from watcher.store import outbox as _outbox  # noqa: F401
from watcher.store import schema
from watcher.store.files import file_name, render, stray_files, write_atomic
from watcher.store.schema import articles, entries, feeds, matches, metadata
from watcher.types import Article, FeedEntry, Hit, RuleMatch, StoredArticle, TextSource

log = logging.getLogger(__name__)

_FEED_STATE_FIELDS = tuple(f.name for f in fields(FeedState))


def create_index_engine(url: str) -> Engine:
    engine = create_engine(url, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
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


@dataclass(frozen=True)
class PendingEntry:
    """An entry registered but not yet turned into an article (or a decision)."""

    row_id: int
    feed: str
    entry: FeedEntry
    canonical_url: str
    attempts: int


class Store:
    def __init__(self, engine: Engine, articles_dir: Path) -> None:
        self.engine = engine
        self.articles_dir = articles_dir

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def open(cls, config: Config) -> Store:
        try:
            config.state_dir.mkdir(parents=True, exist_ok=True)
            config.articles_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create state folder {config.state_dir}: {exc}") from exc
        return cls.at(config.database_url, config.articles_dir)

    @classmethod
    def at(cls, database_url: str, articles_dir: Path) -> Store:
        engine = create_index_engine(database_url)
        try:
            metadata.create_all(engine)
            with engine.begin() as conn:
                if conn.execute(select(schema.meta.c.value).where(
                        schema.meta.c.key == "schema_version")).first() is None:
                    conn.execute(schema.meta.insert().values(
                        key="schema_version", value=str(schema.SCHEMA_VERSION)))
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"cannot open the index {database_url}: {exc}") from exc
        return cls(engine, articles_dir)

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

    def sync_feeds(self, configured: Sequence[FeedConfig]) -> None:
        """Create rows for new feeds; a feed whose configured URL changed starts afresh."""
        with self.engine.begin() as conn:
            for feed in configured:
                row = conn.execute(select(feeds).where(feeds.c.name == feed.name)).first()
                if row is None:
                    conn.execute(feeds.insert().values(**_state_values(initial_state(feed))))
                    continue
                state = _state_from_row(row._mapping)
                fresh = reconcile_with_config(state, feed)
                if fresh is not state:
                    conn.execute(update(feeds).where(feeds.c.name == feed.name)
                                 .values(**_state_values(fresh)))

    def feed_states(self) -> dict[str, FeedState]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feeds)).all()
        return {row.name: _state_from_row(row._mapping) for row in rows}

    def feed_state(self, name: str) -> FeedState | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.name == name)).first()
        return _state_from_row(row._mapping) if row else None

    def save_feed_state(self, state: FeedState) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(feeds).where(feeds.c.name == state.name)
                         .values(**_state_values(state)))

    # -- entries ---------------------------------------------------------------------------

    def register_entries(self, feed: str, found: Sequence[tuple[FeedEntry, str]],
                         now: datetime) -> int:
        """Record entries not seen before as pending; returns how many are new.

        Seen means the same entry id in this feed, or the same canonical URL anywhere (an
        article syndicated in two feeds is fetched once); the latter is kept as 'duplicate'.
        """
        new = 0
        with self.engine.begin() as conn:
            for entry, canonical in found:
                if conn.execute(select(entries.c.id).where(
                        entries.c.feed == feed, entries.c.entry_id == entry.entry_id)).first():
                    continue
                seen = self._canonical_known(conn, canonical)
                conn.execute(entries.insert().values(
                    feed=feed, entry_id=entry.entry_id, url=entry.url, canonical_url=canonical,
                    state="duplicate" if seen else "pending", first_seen=now,
                    processed_at=now if seen else None, data=_entry_to_json(entry)))
                new += 0 if seen else 1
        return new

    def _canonical_known(self, conn: Connection, canonical: str, *,
                         except_entry: int | None = None) -> bool:
        in_articles = conn.execute(select(articles.c.number).where(
            articles.c.canonical_url == canonical)).first()
        if in_articles:
            return True
        query = select(entries.c.id).where(entries.c.canonical_url == canonical,
                                           entries.c.state != "duplicate")
        if except_entry is not None:
            query = query.where(entries.c.id != except_entry)
        return conn.execute(query.limit(1)).first() is not None

    def pending_entries(self, feed: str, *, max_attempts: int = 3,
                        limit: int | None = None) -> list[PendingEntry]:
        query = (select(entries).where(entries.c.feed == feed, entries.c.state == "pending",
                                       entries.c.attempts < max_attempts)
                 .order_by(entries.c.id))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [PendingEntry(row.id, row.feed, _entry_from_json(row.data), row.canonical_url,
                             row.attempts) for row in rows]

    def begin_attempt(self, row_id: int) -> None:
        """Counted before the work, so an entry that kills its worker is not retried forever."""
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.id == row_id)
                         .values(attempts=entries.c.attempts + 1))

    def finish_entry(self, row_id: int, state: str, now: datetime, *,
                     error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.id == row_id)
                         .values(state=state, processed_at=now, error=error))

    # -- articles --------------------------------------------------------------------------

    def store_article(self, article: Article, found: Sequence[RuleMatch], *,
                      entry_row_id: int | None, write_file: bool, now: datetime
                      ) -> StoredArticle | None:
        """Number, index and (when asked) write the article; None if its URL is stored already.

        One transaction: the entry is marked done with the article, and the file is renamed
        into place before the commit, so a crash leaves at worst an orphan file (removed at
        start-up by ``reconcile_files``), never a row without its file.
        """
        try:
            with self.engine.begin() as conn:
                if conn.execute(select(articles.c.number).where(
                        articles.c.canonical_url == article.canonical_url)).first():
                    if entry_row_id is not None:
                        conn.execute(update(entries).where(entries.c.id == entry_row_id)
                                     .values(state="duplicate", processed_at=now))
                    return None
                key = conn.execute(articles.insert().values(
                    **_article_values(article))).inserted_primary_key
                assert key is not None
                number = int(key[0])
                for match in found:
                    conn.execute(matches.insert().values(
                        article_number=number, rule=match.rule, hits=_hits_to_json(match.hits),
                        matched_at=now, origin="live"))
                if entry_row_id is not None:
                    conn.execute(update(entries).where(entries.c.id == entry_row_id).values(
                        state="done", processed_at=now, article_number=number, error=None))
                name = None
                if write_file:
                    name = file_name(number, article.canonical_url)
                    write_atomic(self.articles_dir / name, render(article))
                    conn.execute(update(articles).where(articles.c.number == number)
                                 .values(file_name=name))
        except OSError as exc:
            raise StoreError(f"cannot write article file in {self.articles_dir}: "
                             f"{exc.strerror or exc}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot store article {article.canonical_url}: {exc}") from exc
        return StoredArticle(number=number, article=article, file_name=name,
                             matches=tuple(found))

    def get_article(self, number: int) -> StoredArticle | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(articles).where(articles.c.number == number)).first()
            if row is None:
                return None
            return self._stored(conn, row._mapping)

    def recent_articles(self, since: datetime, feed_glob: str | None = None,
                        limit: int | None = None) -> Iterator[StoredArticle]:
        """Articles fetched since ``since`` whose text is kept, newest first."""
        query = (select(articles).where(articles.c.fetched >= since,
                                        articles.c.body.is_not(None))
                 .order_by(articles.c.number.desc()))
        with self.engine.connect() as conn:
            taken = 0
            for row in conn.execute(query):
                if feed_glob and not fnmatchcase(row.feed, feed_glob):
                    continue
                yield self._stored(conn, row._mapping, with_matches=False)
                taken += 1
                if limit is not None and taken >= limit:
                    return

    def _stored(self, conn: Connection, row: Mapping[Any, Any], *,
                with_matches: bool = True) -> StoredArticle:
        found: tuple[RuleMatch, ...] = ()
        if with_matches:
            found = tuple(
                RuleMatch(m.rule, _hits_from_json(m.hits)) for m in conn.execute(
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
                    article_number=number, rule=match.rule, hits=_hits_to_json(match.hits),
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

    def reconcile_files(self) -> tuple[int, int]:
        """After a crash: remove orphan/temp files, rewrite files whose row lost them.

        Returns (removed, restored).
        """
        with self.engine.connect() as conn:
            rows = conn.execute(select(articles).where(articles.c.file_name.is_not(None))).all()
        known = {row.file_name for row in rows}
        removed = 0
        for path in stray_files(self.articles_dir, known):
            log.warning("removing orphan file %s (left by an interrupted write)", path.name)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            removed += 1
        restored = 0
        for row in rows:
            target = self.articles_dir / row.file_name
            if not target.exists() and row.body is not None:
                write_atomic(target, render(article_from_row(row._mapping)))
                restored += 1
        return removed, restored


def _state_values(state: FeedState) -> dict[str, Any]:
    return asdict(state)


def _state_from_row(row: Mapping[Any, Any]) -> FeedState:
    return FeedState(**{name: row[name] for name in _FEED_STATE_FIELDS})


def _article_values(article: Article) -> dict[str, Any]:
    from watcher.urls import url_hash

    return {
        "url": article.url, "canonical_url": article.canonical_url,
        "url_hash": url_hash(article.canonical_url), "feed": article.feed,
        "site": article.site, "entry_id": article.entry_id, "title": article.title,
        "description": article.description, "body": article.body, "author": article.author,
        "language": article.language, "published": article.published,
        "fetched": article.fetched, "text_source": article.text_source,
    }


def article_from_row(row: Mapping[Any, Any]) -> Article:
    body = row["body"]
    source: TextSource = row["text_source"]
    return Article(
        url=row["url"], canonical_url=row["canonical_url"], feed=row["feed"],
        site=row["site"], title=row["title"], description=row["description"],
        paragraphs=tuple(body.split("\n")) if body else (), fetched=row["fetched"],
        published=row["published"], author=row["author"], language=row["language"],
        text_source=source, entry_id=row["entry_id"])


# A match records where each of its terms is, so a digest can show why it matched: the
# first places of each term say that. A page repeating a word tens of thousands of times
# would otherwise store a megabyte of offsets per rule that matched it.
MAX_STORED_HITS_PER_TERM = 50


def _hits_to_json(hits: Sequence[Hit]) -> list[list[Any]]:
    kept: list[list[Any]] = []
    per_term: Counter[str] = Counter()
    for hit in hits:
        per_term[hit.term] += 1
        if per_term[hit.term] <= MAX_STORED_HITS_PER_TERM:
            kept.append([hit.field, hit.start, hit.end, hit.term])
    return kept


def _hits_from_json(data: Sequence[Sequence[Any]]) -> tuple[Hit, ...]:
    return tuple(Hit(str(f), int(s), int(e), str(t)) for f, s, e, t in data)


def _entry_to_json(entry: FeedEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["published"] = entry.published.isoformat() if entry.published else None
    return data


def _entry_from_json(data: Mapping[str, Any]) -> FeedEntry:
    published = data.get("published")
    return FeedEntry(
        entry_id=data["entry_id"], url=data["url"], title=data["title"],
        summary=data["summary"], content=data["content"],
        published=datetime.fromisoformat(published).astimezone(UTC) if published else None,
        author=data.get("author", ""))
