"""What the web pages read from the index: the latest matched articles with their matches,
matches per rule and day, the archive's text for the tester, delivery counts, and whether the
index answers.

Read-only queries on the tables of ``schema.py`` and ``outbox.py``; each opens its own short
connection, so the web server's threads never hold one across a request.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fnmatch import fnmatchcase
from typing import Any

from sqlalchemy import Engine, Select, and_, func, select
from sqlalchemy.exc import SQLAlchemyError

from watcher.store.codec import article_from_row, hits_from_json
from watcher.store.schema import articles, matches, outbox_deliveries
from watcher.types import ArticleText, RuleMatch, StoredArticle


@dataclass(frozen=True)
class MatchFilter:
    """Which matched articles a page lists. Empty fields filter nothing."""

    rules: tuple[str, ...] | None = None  # any of these rules (None: all)
    feed: str | None = None
    fetched_from: datetime | None = None  # inclusive
    fetched_until: datetime | None = None  # exclusive
    before: int | None = None  # article numbers below this (paging)


def recent_query(columns: Sequence[Any], since: datetime, before: int | None) -> Select[Any]:
    """``columns`` of the articles fetched since ``since`` whose text is kept, newest first
    (numbered below ``before``, when given): the walk of a search through the archive."""
    # The walk ends at the lowest number fetched since: without that bound, a walk that
    # starts below every article of the window reads the whole archive to its first row.
    # (``+ 0``: SQLite then reads ix_articles_fetched for the minimum instead of walking the
    # primary key up to the window.)
    first = (select(func.min(articles.c.number + 0)).where(articles.c.fetched >= since)
             .scalar_subquery())
    query = (select(*columns).where(articles.c.number >= first, articles.c.fetched >= since,
                                    articles.c.body.is_not(None))
             .order_by(articles.c.number.desc()))
    return query if before is None else query.where(articles.c.number < before)


# The walk's rows are fetched this many at a time: one by one, fetching costs more than
# reading the text.
FETCH_ROWS = 100
_TEXT_COLUMNS = (articles.c.number, articles.c.feed, articles.c.title,
                 articles.c.description, articles.c.body, articles.c.url, articles.c.author)


class Reading:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def matched_keys(self, wanted: MatchFilter, limit: int
                     ) -> list[tuple[int, tuple[int, ...]]]:
        """The numbers of the newest matched articles fitting ``wanted`` (highest first),
        each with the ids of its matches: all a page of them depends on (stored articles
        and matches never change), read from the indexes alone, so a page can be looked up
        before its rows are read."""
        where: list[Any] = []
        if wanted.rules is not None:
            where.append(matches.c.rule.in_(list(wanted.rules)))
        if wanted.feed:
            where.append(articles.c.feed == wanted.feed)
        if wanted.fetched_from is not None:
            where.append(articles.c.fetched >= wanted.fetched_from)
        if wanted.fetched_until is not None:
            where.append(articles.c.fetched < wanted.fetched_until)
        if wanted.before is not None:
            where.append(matches.c.article_number < wanted.before)
        numbers_query = (select(matches.c.article_number)
                         .join(articles, articles.c.number == matches.c.article_number)
                         .where(and_(True, *where)).group_by(matches.c.article_number)
                         .order_by(matches.c.article_number.desc()).limit(limit))
        with self.engine.connect() as conn:
            numbers = list(conn.execute(numbers_query).scalars())
            if not numbers:
                return []
            ids: dict[int, list[int]] = {number: [] for number in numbers}
            for number, match_id in conn.execute(
                    select(matches.c.article_number, matches.c.id)
                    .where(matches.c.article_number.in_(numbers)).order_by(matches.c.id)):
                ids[number].append(match_id)
        return [(number, tuple(found)) for number, found in ids.items()]

    def with_matches(self, numbers: list[int]) -> list[StoredArticle]:
        """The articles ``numbers`` with their matches, highest number first."""
        if not numbers:
            return []
        with self.engine.connect() as conn:
            return self._with_matches(conn, numbers)

    def _with_matches(self, conn: Any, numbers: list[int]) -> list[StoredArticle]:
        query = (select(articles, matches.c.rule, matches.c.hits)
                 .join(matches, matches.c.article_number == articles.c.number)
                 .where(articles.c.number.in_(numbers))
                 .order_by(articles.c.number.desc(), matches.c.id))
        rows: dict[int, Any] = {}
        found: dict[int, list[RuleMatch]] = defaultdict(list)
        for row in conn.execute(query):
            rows.setdefault(row.number, row._mapping)
            found[row.number].append(RuleMatch(row.rule, hits_from_json(row.hits or [])))
        return [StoredArticle(number=n, article=article_from_row(r), file_name=r["file_name"],
                              matches=tuple(found[n])) for n, r in rows.items()]

    def recent_texts(self, since: datetime, feed_glob: str | None = None,
                     before: int | None = None) -> Generator[ArticleText, None, None]:
        """The text fields of ``Store.recent_articles``'s articles, in its order: the rest of
        a row (its dates above all) costs more to read than the text, and a search needs it
        only for the articles that may match (``articles``). Close the iterator when done
        early: it holds its connection until then."""
        with self.engine.connect().execution_options(yield_per=FETCH_ROWS) as conn:
            for number, feed, title, summary, body, url, author in conn.execute(
                    recent_query(_TEXT_COLUMNS, since, before)):
                if feed_glob and not fnmatchcase(feed, feed_glob):
                    continue
                yield ArticleText(number, (title, summary, body, url, author))

    def articles(self, numbers: Sequence[int]) -> dict[int, StoredArticle]:
        """The stored articles ``numbers`` (without their matches), by number."""
        if not numbers:
            return {}
        with self.engine.connect() as conn:
            return {row.number: StoredArticle(number=row.number,
                                              article=article_from_row(row._mapping),
                                              file_name=row.file_name)
                    for row in conn.execute(select(articles)
                                            .where(articles.c.number.in_(list(numbers))))}

    def matches_per_day(self, since: datetime) -> dict[str, dict[date, int]]:
        """Per rule, how many articles it matched each day (UTC) since ``since``."""
        day = func.date(matches.c.matched_at)
        query = (select(matches.c.rule, day, func.count())
                 .where(matches.c.matched_at >= since).group_by(matches.c.rule, day))
        out: dict[str, dict[date, int]] = defaultdict(dict)
        with self.engine.connect() as conn:
            for rule, when, count in conn.execute(query):
                moment = when if isinstance(when, date) else date.fromisoformat(str(when))
                out[rule][moment] = int(count)
        return dict(out)

    def match_totals(self) -> dict[str, int]:
        """Per rule, every match ever recorded."""
        query = select(matches.c.rule, func.count()).group_by(matches.c.rule)
        with self.engine.connect() as conn:
            return {rule: int(count) for rule, count in conn.execute(query)}

    def delivery_counts(self) -> dict[str, int]:
        """Outbox deliveries per state (pending, sending, sent, failed)."""
        query = (select(outbox_deliveries.c.state, func.count())
                 .group_by(outbox_deliveries.c.state))
        with self.engine.connect() as conn:
            return {state: int(count) for state, count in conn.execute(query)}

    def version(self) -> tuple[int, int]:
        """Changes whenever a match or an article is added: (newest match, newest article)."""
        with self.engine.connect() as conn:
            newest_match = conn.execute(select(func.max(matches.c.id))).scalar()
            newest_article = conn.execute(select(func.max(articles.c.number))).scalar()
        return int(newest_match or 0), int(newest_article or 0)

    def answers(self) -> bool:
        """Whether the index answers a query (``/readyz``, the systemd watchdog)."""
        try:
            with self.engine.connect() as conn:
                conn.execute(select(func.count()).select_from(
                    select(articles.c.number).limit(1).subquery())).scalar()
        except SQLAlchemyError:
            return False
        return True
