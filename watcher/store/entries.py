"""The index's entries: every entry ever seen in a feed, so nothing is fetched twice, and
the work each waits for (``EntryIndex``, part of ``Store``)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, bindparam, select, update

from watcher.store.codec import entry_from_json, entry_to_json, state_from_row
from watcher.store.schema import articles, entries, feeds
from watcher.types import FeedEntry, FeedState

# pending until its article is stored (done), found stored already (duplicate) or given up
EntryState = Literal["pending", "done", "duplicate", "failed"]


@dataclass(frozen=True)
class PendingEntry:
    """An entry registered but not yet turned into an article (or a decision)."""

    row_id: int
    feed: str
    entry: FeedEntry
    canonical_url: str
    attempts: int


IN_CHUNK = 500  # values per IN (...) list: far inside every backend's parameter limit
_ENTRY_IDS_KNOWN = select(entries.c.entry_id).where(
    entries.c.feed == bindparam("feed"), entries.c.entry_id.in_(bindparam("values",
                                                                           expanding=True)))
_URLS_STORED = select(articles.c.canonical_url).where(
    articles.c.canonical_url.in_(bindparam("values", expanding=True)))
_URLS_REGISTERED = select(entries.c.canonical_url).where(
    entries.c.canonical_url.in_(bindparam("values", expanding=True)),
    entries.c.state != "duplicate")
_REGISTER = entries.insert()


def _in_chunks(conn: Connection, query: Any, values: Sequence[str], **params: Any) -> set[str]:
    """``query``'s single column for every value, asking ``IN_CHUNK`` values at a time."""
    wanted = sorted(set(values))
    return {found for start in range(0, len(wanted), IN_CHUNK)
            for found in conn.scalars(query, {**params,
                                              "values": wanted[start:start + IN_CHUNK]})}


class EntryIndex:
    """Entries registered by polls, and their way to an article (a ``Store`` is one)."""

    engine: Engine

    def register_entries(self, feed: str, found: Sequence[tuple[FeedEntry, str]],
                         now: datetime) -> int:
        """Record entries not seen before as pending; returns how many are new.

        Seen means the same entry id in this feed, or the same canonical URL anywhere (an
        article syndicated in two feeds is fetched once); the latter is kept as 'duplicate'.
        A feed's whole page of entries is looked up in a few set queries, not one per entry.
        """
        if not found:
            return 0
        with self.engine.begin() as conn:
            known_ids = _in_chunks(conn, _ENTRY_IDS_KNOWN, [e.entry_id for e, _ in found],
                                   feed=feed)
            urls = [canonical for _, canonical in found]
            seen_urls = (_in_chunks(conn, _URLS_STORED, urls)
                         | _in_chunks(conn, _URLS_REGISTERED, urls))
            rows = []
            for entry, canonical in found:
                if entry.entry_id in known_ids:
                    continue
                known_ids.add(entry.entry_id)
                seen = canonical in seen_urls
                seen_urls.add(canonical)
                rows.append({"feed": feed, "entry_id": entry.entry_id, "url": entry.url,
                             "canonical_url": canonical,
                             "state": "duplicate" if seen else "pending", "first_seen": now,
                             "processed_at": now if seen else None,
                             "data": entry_to_json(entry), "attempts": 0})
            if rows:
                conn.execute(_REGISTER, rows)
        return sum(1 for row in rows if row["state"] == "pending")

    def pending_entries(self, feed: str, *, max_attempts: int = 3,
                        limit: int | None = None) -> list[PendingEntry]:
        query = (select(entries).where(entries.c.feed == feed, entries.c.state == "pending",
                                       entries.c.attempts < max_attempts)
                 .order_by(entries.c.id))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [_pending(row) for row in rows]

    def unattempted_entries(self, seen_before: datetime, *, limit: int = 10_000) -> list[int]:
        """Pending entries first seen before ``seen_before`` and never attempted, oldest
        first: in a cluster, those whose entry jobs were never queued or were lost."""
        query = (select(entries.c.id).where(entries.c.state == "pending",
                                            entries.c.attempts == 0,
                                            entries.c.first_seen < seen_before)
                 .order_by(entries.c.id).limit(limit))
        with self.engine.connect() as conn:
            return [int(row_id) for row_id in conn.scalars(query)]

    def pending_entry(self, row_id: int, *, max_attempts: int = 3
                      ) -> tuple[PendingEntry, FeedState] | None:
        """The entry ``row_id`` and its feed's state, if the entry still waits for its work
        (one read: a cluster's entry job starts with it)."""
        with self.engine.connect() as conn:
            e = entries.c
            row = conn.execute(select(e.id, e.feed, e.data, e.canonical_url, e.attempts,
                                      *feeds.c).join(
                feeds, feeds.c.name == e.feed).where(
                entries.c.id == row_id, entries.c.state == "pending",
                entries.c.attempts < max_attempts)).first()
        if row is None:
            return None
        return _pending(row), state_from_row(row._mapping)

    def finish_entry(self, row_id: int, state: EntryState, now: datetime, *,
                     error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.id == row_id)
                         .values(state=state, processed_at=now, error=error))

    def entry_times(self, feed: str, since: datetime, limit: int = 500) -> list[datetime]:
        """When a feed's recent entries appeared, newest first, for adaptive polling: each
        entry's publication date, or when it was first seen if that is earlier or the feed
        gave none. Only the entries table is read (no column of its own is needed)."""
        published = entries.c.data["published"].as_string()
        query = (select(entries.c.first_seen, published).where(
                     entries.c.feed == feed, entries.c.first_seen >= since)
                 .order_by(entries.c.id.desc()).limit(limit))
        times: list[datetime] = []
        with self.engine.connect() as conn:
            for first_seen, stamp in conn.execute(query):
                seen = first_seen if first_seen.tzinfo else first_seen.replace(tzinfo=UTC)
                when = seen
                if stamp:
                    with contextlib.suppress(ValueError):
                        when = min(seen, datetime.fromisoformat(stamp).astimezone(UTC))
                times.append(when)
        return times


def _pending(row: Any) -> PendingEntry:
    return PendingEntry(row.id, row.feed, entry_from_json(row.data), row.canonical_url,
                        row.attempts)
