"""Site memory for extraction: which paragraph fingerprints recur across a site's articles,
and how long the site's articles usually are.

Two tables of ``store/schema.py`` (SQLAlchemy Core, portable SQL):

- ``boilerplate_seen``: one row per (site, fingerprint, article) -- a paragraph seen in an
  article. A fingerprint is boilerplate for a site once at least ``min_articles`` *distinct*
  articles carried it since ``since`` (``ExtractConfig.boilerplate_min_articles`` within
  ``boilerplate_window``). Counting articles, not sightings, means a re-fetched or
  reprocessed article never makes its own paragraphs look like boilerplate.
- ``site_lengths``: one row per (site, article) with the length of its cleaned text; the
  median of the recent ones is the site's typical length, which ``assess_text`` compares
  against to spot teasers.

Rows older than the window are useless; ``prune(before)`` deletes them.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Dialect, Engine, Table, bindparam, delete, exists, func, select, tuple_
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Insert

from watcher.store.driver import driver_value, insert_many
from watcher.store.schema import boilerplate_seen, site_lengths

_IN_CHUNK = 500  # fingerprints per IN (...) list: far inside every backend's parameter limit
TYPICAL_MIN_SAMPLES = 5  # fewer articles than this: no typical length yet
TYPICAL_SAMPLES = 50  # the median is taken over this many of the site's latest articles
PRUNE_CHUNK = 5_000  # rows deleted per transaction by ``prune``

# The per-article statements, built once: building a statement on every call (and working out
# its cache key) cost SQLAlchemy more than SQLite took to run it.
_seen = boilerplate_seen.c
_RECORD_COLUMNS = ("site", "fingerprint", "article_key", "seen_at")
_KNOWN = (select(_seen.fingerprint)
          .where(_seen.site == bindparam("site"), _seen.seen_at >= bindparam("since"))
          .group_by(_seen.fingerprint)
          .having(func.count(_seen.article_key.distinct()) >= bindparam("min_articles")))
# Which of an article's own (just recorded) fingerprints are boilerplate: for each, whether
# a (min_articles)th sighting within the window exists, found by skipping min_articles - 1
# rows of its (site, fingerprint) range rather than counting every sighting, so the answer
# costs the same for a paragraph seen three times as for one seen on every article of a big
# site for a month. (Each sighting is another article: (site, fingerprint, article_key) is
# the table's key.)
_mine, _other = boilerplate_seen.alias("mine"), boilerplate_seen.alias("other")
_NTH_SIGHTING = (select(_other.c.seen_at)
                 .where(_other.c.site == _mine.c.site, _other.c.fingerprint == _mine.c.fingerprint,
                        _other.c.seen_at >= bindparam("since"))
                 .limit(1).offset(bindparam("skip")))
_KNOWN_OF_ARTICLE = select(_mine.c.fingerprint).where(
    _mine.c.site == bindparam("site"), _mine.c.article_key == bindparam("article_key"),
    _mine.c.fingerprint.in_(bindparam("prints", expanding=True)), exists(_NTH_SIGHTING))
_lengths = site_lengths.c
_RECORD_LENGTH_COLUMNS = ("site", "article_key", "chars", "seen_at")
_LATEST_LENGTHS = (select(_lengths.chars)
                   .where(_lengths.site == bindparam("site"),
                          _lengths.seen_at >= bindparam("since"))
                   .order_by(_lengths.seen_at.desc(), _lengths.id.desc())
                   .limit(TYPICAL_SAMPLES))
# One INSERT per (table, backend), built on first use by _unless_recorded.
_unless_recorded_inserts: dict[tuple[str, str], Insert] = {}


def _unless_recorded(table: Table, dialect: Dialect) -> Insert:
    """An INSERT of ``table``'s rows that leaves a row already there (by its unique
    constraint) as it is: a sighting or a length is recorded once, and the first stands.
    Each backend spells it its own way (``ON CONFLICT DO NOTHING``); one statement each,
    built on first use, so a SQLite watcher never loads the PostgreSQL dialect."""
    key = (table.name, dialect.name)
    found = _unless_recorded_inserts.get(key)
    if found is None:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            found = postgresql.insert(table).on_conflict_do_nothing()
        else:
            from sqlalchemy.dialects import sqlite

            found = sqlite.insert(table).on_conflict_do_nothing()
        _unless_recorded_inserts[key] = found
    return found


@dataclass(frozen=True)
class Observation:
    """An article's paragraphs seen on its site: what ``observe_article`` records."""

    site: str
    article_key: str
    fingerprints: frozenset[str]
    now: datetime
    min_articles: int
    window: timedelta
    # the article's text length without the paragraphs found to be boilerplate
    length_without: Callable[[frozenset[str]], int]


class BoilerplateStore:
    """Counts paragraph fingerprints per site over distinct articles; site text lengths."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _record(self, conn: Connection, site: str, article_key: str,
                fingerprints: Iterable[str], now: datetime) -> None:
        """A row per paragraph seen, through the driver (``store/driver.py``): one article
        brings a few dozen, and every article brings them."""
        at = driver_value(_seen.seen_at, now, conn.dialect)
        insert_many(conn, _unless_recorded(boilerplate_seen, conn.dialect), _RECORD_COLUMNS,
                    [(site, f, article_key, at) for f in sorted(set(fingerprints))])

    def _known(self, conn: Connection, site: str, min_articles: int, since: datetime
               ) -> frozenset[str]:
        """Every boilerplate fingerprint of ``site`` (reads all its rows in the window)."""
        return frozenset(conn.scalars(_KNOWN, {"site": site, "since": since,
                                               "min_articles": min_articles}))

    def _known_of_article(self, conn: Connection, site: str, article_key: str,
                          prints: Collection[str], min_articles: int, since: datetime
                          ) -> frozenset[str]:
        """Which of ``prints``, recorded for this article already, are boilerplate of
        ``site``: a few index entries per fingerprint, however often it was seen."""
        wanted = sorted(set(prints))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            found.update(conn.scalars(_KNOWN_OF_ARTICLE, {
                "site": site, "article_key": article_key, "since": since,
                "skip": max(min_articles, 1) - 1, "prints": wanted[start:start + _IN_CHUNK]}))
        return frozenset(found)

    def record(self, site: str, article_key: str, fingerprints: Iterable[str],
               now: datetime, *, chars: int | None = None) -> None:
        """Note that article ``article_key`` of ``site`` carried these paragraphs, and (when
        given) the length of its cleaned text for ``typical_length``.

        Recording the same article again adds nothing (its first sighting stands).
        """
        with self.engine.begin() as conn:
            self._record(conn, site, article_key, fingerprints, now)
            if chars is not None:
                self._record_length(conn, site, article_key, chars, now)

    def known(self, site: str, min_articles: int, since: datetime) -> frozenset[str]:
        """Fingerprints seen in at least ``min_articles`` distinct articles since ``since``."""
        with self.engine.connect() as conn:
            return self._known(conn, site, min_articles, since)

    def observe_article(self, site: str, article_key: str,
                        fingerprints: Iterable[str], now: datetime, *, min_articles: int,
                        window: timedelta, length_without: Callable[[frozenset[str]], int]
                        ) -> tuple[frozenset[str], int | None]:
        """``record``, then which of this article's fingerprints are the site's boilerplate,
        then the site's typical length as it stood before this article, then the article's
        length (``length_without(boilerplate)``, its text's without them; 0 records none),
        in one transaction: (the boilerplate fingerprints, the typical length).

        Recording first means the article that completes the count is already cleaned:
        with ``min_articles=3`` the third article carrying an appeal is stored without it.
        The first articles of a new site are never held back; they keep their text.
        """
        return self.observe_articles([Observation(
            site, article_key, frozenset(fingerprints), now, min_articles, window,
            length_without)])[0]

    def observe_articles(self, observations: Sequence[Observation]
                         ) -> list[tuple[frozenset[str], int | None]]:
        """``observe_article`` for each, in order, in one transaction: each sees what the
        ones before it recorded, as it would in transactions of their own."""
        with self.engine.begin() as conn:
            return [self._observe_in(conn, seen) for seen in observations]

    def _observe_in(self, conn: Connection, seen: Observation
                    ) -> tuple[frozenset[str], int | None]:
        since = seen.now - seen.window
        self._record(conn, seen.site, seen.article_key, seen.fingerprints, seen.now)
        known = self._known_of_article(conn, seen.site, seen.article_key, seen.fingerprints,
                                       seen.min_articles, since)
        typical = self._typical_length(conn, seen.site, since, TYPICAL_MIN_SAMPLES)
        chars = seen.length_without(known)
        if chars:
            self._record_length(conn, seen.site, seen.article_key, chars, seen.now)
        return known, typical

    def _record_length(self, conn: Connection, site: str, article_key: str, chars: int,
                       now: datetime) -> None:
        at = driver_value(_lengths.seen_at, now, conn.dialect)
        insert_many(conn, _unless_recorded(site_lengths, conn.dialect), _RECORD_LENGTH_COLUMNS,
                    [(site, article_key, chars, at)])

    def record_length(self, site: str, article_key: str, chars: int, now: datetime) -> None:
        """Note the length of an article's cleaned text (once per article)."""
        with self.engine.begin() as conn:
            self._record_length(conn, site, article_key, chars, now)

    def _typical_length(self, conn: Connection, site: str, since: datetime,
                        min_samples: int) -> int | None:
        lengths = list(conn.scalars(_LATEST_LENGTHS, {"site": site, "since": since}))
        if len(lengths) < min_samples:
            return None
        return int(statistics.median(lengths))

    def typical_length(self, site: str, since: datetime,
                      min_samples: int = TYPICAL_MIN_SAMPLES) -> int | None:
        """Median text length of the site's latest articles since ``since``; None when the
        site has fewer than ``min_samples`` of them (too new to judge)."""
        with self.engine.connect() as conn:
            return self._typical_length(conn, site, since, min_samples)

    def prune(self, before: datetime, *, chunk: int = PRUNE_CHUNK,
              stop_when: Callable[[], bool] = lambda: False) -> int:
        """Delete what was seen before ``before`` (outside any window); rows deleted.

        In transactions of at most ``chunk`` rows each, so the daemon's writers wait for
        one chunk, not for the whole backlog of a memory never pruned before, and a
        shutdown (``stop_when``) for one chunk too: the rest waits for the next prune.
        Neither table is indexed by time (an index would cost every article's sightings),
        so a chunk scans until it has found its rows: all chunks together read the table
        about once.
        """
        seen, lengths = boilerplate_seen.c, site_lengths.c
        old_sightings = (select(seen.site, seen.fingerprint, seen.article_key)
                         .where(seen.seen_at < before).limit(chunk))
        old_lengths = select(lengths.id).where(lengths.seen_at < before).limit(chunk)
        gone = 0
        for statement in (
                delete(boilerplate_seen).where(
                    tuple_(seen.site, seen.fingerprint, seen.article_key).in_(old_sightings)),
                delete(site_lengths).where(lengths.id.in_(old_lengths))):
            while not stop_when():
                with self.engine.begin() as conn:
                    deleted = int(conn.execute(statement).rowcount or 0)
                gone += deleted
                if deleted < chunk:
                    break
        return gone
