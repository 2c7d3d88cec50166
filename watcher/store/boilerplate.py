"""Site memory for extraction: which paragraph fingerprints recur across a site's articles,
and how long the site's articles usually are.

Two tables on ``schema.metadata`` (SQLAlchemy Core, portable SQL):

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
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta

from sqlalchemy import (
    Column,
    Engine,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import Connection

from watcher.store.schema import UTCDateTime, metadata

boilerplate_seen = Table(
    "boilerplate_seen", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(255), nullable=False),
    Column("fingerprint", String(16), nullable=False),
    Column("article_key", String(64), nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site", "fingerprint", "article_key", name="uq_boilerplate_seen"),
)
Index("ix_boilerplate_seen_site_time", boilerplate_seen.c.site, boilerplate_seen.c.seen_at)
# The per-article questions (already recorded? boilerplate?) go through this index by
# (site, fingerprint): a scan of the site's rows grows with the archive (39 ms per article at
# 5,000 articles of one site, against a constant fraction of a millisecond through it).
Index("ix_boilerplate_seen_lookup", boilerplate_seen.c.site, boilerplate_seen.c.fingerprint,
      boilerplate_seen.c.seen_at, boilerplate_seen.c.article_key)

site_lengths = Table(
    "site_lengths", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("site", String(255), nullable=False),
    Column("article_key", String(64), nullable=False),
    Column("chars", Integer, nullable=False),
    Column("seen_at", UTCDateTime(), nullable=False),
    UniqueConstraint("site", "article_key", name="uq_site_lengths"),
)
Index("ix_site_lengths_site_time", site_lengths.c.site, site_lengths.c.seen_at)

_IN_CHUNK = 500  # fingerprints per IN (...) list: far inside every backend's parameter limit
TYPICAL_MIN_SAMPLES = 5  # fewer articles than this: no typical length yet
TYPICAL_SAMPLES = 50  # the median is taken over this many of the site's latest articles


class BoilerplateStore:
    """Counts paragraph fingerprints per site over distinct articles; site text lengths."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self) -> None:
        """Create this store's tables (``Store`` normally does it with the whole schema)."""
        metadata.create_all(self.engine, tables=[boilerplate_seen, site_lengths])

    def _record(self, conn: Connection, site: str, article_key: str,
                fingerprints: Iterable[str], now: datetime) -> None:
        wanted = set(fingerprints)
        if not wanted:
            return
        already: set[str] = set()
        ordered = sorted(wanted)
        for start in range(0, len(ordered), _IN_CHUNK):
            already.update(conn.scalars(select(boilerplate_seen.c.fingerprint).where(
                boilerplate_seen.c.site == site,
                boilerplate_seen.c.fingerprint.in_(ordered[start:start + _IN_CHUNK]),
                boilerplate_seen.c.article_key == article_key)))
        rows = [{"site": site, "fingerprint": f, "article_key": article_key, "seen_at": now}
                for f in sorted(wanted - already)]
        if rows:
            conn.execute(insert(boilerplate_seen), rows)

    def _known(self, conn: Connection, site: str, min_articles: int, since: datetime,
               among: Collection[str] | None = None) -> frozenset[str]:
        """Boilerplate fingerprints of ``site``; only those in ``among`` when given.

        Asking about one article's own paragraphs reads a few rows through the
        (site, fingerprint, ...) index; asking about the whole site reads all its rows.
        """
        query = (select(boilerplate_seen.c.fingerprint)
                 .where(and_(boilerplate_seen.c.site == site,
                             boilerplate_seen.c.seen_at >= since))
                 .group_by(boilerplate_seen.c.fingerprint)
                 .having(func.count(boilerplate_seen.c.article_key.distinct()) >= min_articles))
        if among is None:
            return frozenset(conn.scalars(query))
        wanted = sorted(set(among))
        found: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start:start + _IN_CHUNK]
            found.update(conn.scalars(query.where(boilerplate_seen.c.fingerprint.in_(chunk))))
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

    def observe(self, site: str, article_key: str, fingerprints: Iterable[str],
                now: datetime, *, min_articles: int, window: timedelta) -> frozenset[str]:
        """``record``, then which of this article's fingerprints are the site's boilerplate,
        in one transaction: what the pipeline calls per article.

        Recording first means the article that completes the count is already cleaned:
        with ``min_articles=3`` the third article carrying an appeal is stored without it.
        The first articles of a new site are never held back; they keep their text.
        """
        mine = set(fingerprints)
        with self.engine.begin() as conn:
            self._record(conn, site, article_key, mine, now)
            return self._known(conn, site, min_articles, now - window, among=mine)

    def _record_length(self, conn: Connection, site: str, article_key: str, chars: int,
                       now: datetime) -> None:
        exists = conn.scalar(select(func.count()).select_from(site_lengths).where(
            site_lengths.c.site == site, site_lengths.c.article_key == article_key))
        if not exists:
            conn.execute(insert(site_lengths).values(
                site=site, article_key=article_key, chars=chars, seen_at=now))

    def record_length(self, site: str, article_key: str, chars: int, now: datetime) -> None:
        """Note the length of an article's cleaned text (once per article)."""
        with self.engine.begin() as conn:
            self._record_length(conn, site, article_key, chars, now)

    def typical_length(self, site: str, since: datetime,
                      min_samples: int = TYPICAL_MIN_SAMPLES) -> int | None:
        """Median text length of the site's latest articles since ``since``; None when the
        site has fewer than ``min_samples`` of them (too new to judge)."""
        query = (select(site_lengths.c.chars)
                 .where(site_lengths.c.site == site, site_lengths.c.seen_at >= since)
                 .order_by(site_lengths.c.seen_at.desc(), site_lengths.c.id.desc())
                 .limit(TYPICAL_SAMPLES))
        with self.engine.connect() as conn:
            lengths = list(conn.scalars(query))
        if len(lengths) < min_samples:
            return None
        return int(statistics.median(lengths))

    def prune(self, before: datetime) -> int:
        """Delete what was seen before ``before`` (outside any window); rows deleted."""
        with self.engine.begin() as conn:
            gone = conn.execute(delete(boilerplate_seen).where(
                boilerplate_seen.c.seen_at < before)).rowcount
            gone += conn.execute(delete(site_lengths).where(
                site_lengths.c.seen_at < before)).rowcount
        return int(gone or 0)
