"""Storing worked entries: many articles, their matches and files in one transaction.

The rows and the file's text of an article are built where its work ran (``store/ready.py``,
plain functions a worker process calls), so the process that owns the index only numbers
them and commits. ``commit_outcomes`` stores a batch of outcomes in one transaction with statements
built once at import: an article whose canonical URL is stored already (before, or earlier
in the same batch) marks its entry a duplicate; an entry whose work failed counts an attempt.

Files are written before the commit, each fsynced and renamed into place and the folder
fsynced once per batch, so a crash leaves at worst orphan files (``reconcile_files``
removes them at start-up), never a row without its file.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from watcher.store.driver import driver_value, insert_many
from watcher.store.files import file_name
from watcher.store.objects import ArticleFiles
from watcher.store.ready import Outcome
from watcher.store.schema import articles, entries, matches
from watcher.types import Filed

_a, _e = articles.c, entries.c
_STORED_UNDER = select(_a.canonical_url).where(
    _a.canonical_url.in_(bindparam("urls", expanding=True)))
_INSERT_ARTICLE = insert(articles)
_INSERT_MATCHES = insert(matches)
_MATCH_COLUMNS = ("article_number", "rule", "hits", "matched_at", "origin")
# Bound names differ from the columns' own: SQLAlchemy keeps those for its SET clause.
_ENTRY_DONE = (update(entries).where(_e.id == bindparam("row_id"))
               .values(state=bindparam("new_state"), processed_at=bindparam("at"),
                       article_number=bindparam("stored_as"), error=None,
                       attempts=_e.attempts + 1))
_ENTRY_ATTEMPTED = (update(entries).where(_e.id == bindparam("row_id"))
                    .values(attempts=_e.attempts + 1))
_FILE_NAMED = (update(articles).where(_a.number == bindparam("stored_as"))
               .values(file_name=bindparam("named")))


def commit_outcomes(conn: Connection, files: ArticleFiles, outcomes: Sequence[Outcome],
                    now: datetime) -> list[Filed | None]:
    """Store ``outcomes`` inside ``conn``'s transaction; for each, its number and matched
    rules, or None (a duplicate, or a failed attempt). The caller commits."""
    urls = sorted({o.ready.article.canonical_url for o in outcomes if o.ready})
    taken = set(conn.scalars(_STORED_UNDER, {"urls": urls})) if urls else set()
    results: list[Filed | None] = []
    entry_updates: list[dict[str, Any]] = []
    attempted: list[dict[str, Any]] = []
    match_rows: list[tuple[int, str, str]] = []
    to_write: list[tuple[int, str, str]] = []
    for outcome in outcomes:
        item = outcome.ready
        if item is None or item.article.canonical_url in taken:
            if outcome.entry_row_id is not None:
                if item is None:
                    attempted.append({"row_id": outcome.entry_row_id})
                else:
                    entry_updates.append({"row_id": outcome.entry_row_id, "at": now,
                                          "new_state": "duplicate", "stored_as": None})
            results.append(None)
            continue
        taken.add(item.article.canonical_url)
        key = conn.execute(_INSERT_ARTICLE, dict(item.row)).inserted_primary_key
        assert key is not None
        number = int(key[0])
        match_rows.extend((number, rule, hits) for rule, hits in item.match_rows)
        if outcome.entry_row_id is not None:
            entry_updates.append({"row_id": outcome.entry_row_id, "at": now,
                                  "new_state": "done", "stored_as": number})
        if item.file_text is not None:
            to_write.append((number, file_name(number, item.article.canonical_url),
                             item.file_text))
        results.append(Filed(number, item.rules))
    if match_rows:
        _insert_matches(conn, match_rows, now)
    if entry_updates:
        conn.execute(_ENTRY_DONE, entry_updates)
    if attempted:
        conn.execute(_ENTRY_ATTEMPTED, attempted)
    if to_write:
        files.write_many([(name, text) for _, name, text in to_write])
        conn.execute(_FILE_NAMED, [{"stored_as": number, "named": name}
                                   for number, name, _ in to_write])
    return results


def _insert_matches(conn: Connection, rows: Sequence[tuple[int, str, str]],
                    now: datetime) -> None:
    """The batch's matches (article number, rule, hits as JSON text), found at ``now``.
    An article can match hundreds of rules: the rows go through the driver
    (``store/driver.py``), every value in its form already: the hits were encoded where
    the work ran, and the one time is converted once."""
    found_at = driver_value(matches.c.matched_at, now, conn.dialect)
    insert_many(conn, _INSERT_MATCHES, _MATCH_COLUMNS,
                [(number, rule, hits, found_at, "live") for number, rule, hits in rows])
