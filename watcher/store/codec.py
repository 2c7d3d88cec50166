"""Rows to plain data and back: the one place that knows how a value is laid out in a column."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, fields
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any

from watcher.types import Article, FeedEntry, FeedState, Hit, TextSource
from watcher.urls import url_hash

FEED_STATE_FIELDS = tuple(f.name for f in fields(FeedState))

# A match records where each of its terms is, so a digest can show why it matched: the
# first places of each term say that. A page repeating a word tens of thousands of times
# would otherwise store a megabyte of offsets per rule that matched it.
MAX_STORED_HITS_PER_TERM = 50


def state_values(state: FeedState) -> dict[str, Any]:
    return asdict(state)


def state_from_row(row: Mapping[Any, Any]) -> FeedState:
    return FeedState(**{name: row[name] for name in FEED_STATE_FIELDS})


def article_values(article: Article) -> dict[str, Any]:
    return {
        "url": article.url, "canonical_url": article.canonical_url,
        "url_hash": url_hash(article.canonical_url), "feed": article.feed,
        "site": article.site, "entry_id": article.entry_id, "title": article.title,
        "description": article.description, "body": article.body, "author": article.author,
        "language": article.language, "published": article.published,
        "fetched": article.fetched, "text_source": article.text_source,
        # NULL, as in the rows stored before these columns, when the article does not say
        "published_source": article.published_source or None,
        "site_name": article.site_name or None,
    }


def article_from_row(row: Mapping[Any, Any]) -> Article:
    body = row["body"]
    source: TextSource = row["text_source"]
    return Article(
        url=row["url"], canonical_url=row["canonical_url"], feed=row["feed"],
        site=row["site"], title=row["title"], description=row["description"],
        paragraphs=tuple(body.split("\n")) if body else (), fetched=row["fetched"],
        published=row["published"], author=row["author"], language=row["language"],
        text_source=source, entry_id=row["entry_id"],
        published_source=row["published_source"] or "", site_name=row["site_name"] or "")


def hits_to_json(hits: Sequence[Hit]) -> list[list[Any]]:
    return [[hit.field, hit.start, hit.end, hit.term] for hit in _kept(hits)]


def hits_json_text(hits: Sequence[Hit]) -> str:
    """``json.dumps(hits_to_json(hits))`` byte for byte, without setting up an encoder for
    each call: an article that matches hundreds of rules encodes hundreds of these."""
    quote = encode_basestring_ascii  # json.dumps' own quoting, ensure_ascii as it does
    return "[" + ", ".join(f"[{quote(field)}, {int(start)}, {int(end)}, {quote(term)}]"
                           for field, start, end, term in _kept(hits)) + "]"


def _kept(hits: Sequence[Hit]) -> Sequence[Hit]:
    """The hits stored: the first MAX_STORED_HITS_PER_TERM of each term."""
    if len(hits) <= MAX_STORED_HITS_PER_TERM:
        return hits
    kept: list[Hit] = []
    per_term: Counter[str] = Counter()
    for hit in hits:
        per_term[hit.term] += 1
        if per_term[hit.term] <= MAX_STORED_HITS_PER_TERM:
            kept.append(hit)
    return kept


def hits_from_json(data: Sequence[Sequence[Any]]) -> tuple[Hit, ...]:
    return tuple(Hit(str(f), int(s), int(e), str(t)) for f, s, e, t in data)


def entry_to_json(entry: FeedEntry) -> dict[str, Any]:
    data = asdict(entry)
    data["published"] = entry.published.isoformat() if entry.published else None
    return data


def entry_from_json(data: Mapping[str, Any]) -> FeedEntry:
    published = data.get("published")
    return FeedEntry(
        entry_id=data["entry_id"], url=data["url"], title=data["title"],
        summary=data["summary"], content=data["content"],
        published=datetime.fromisoformat(published).astimezone(UTC) if published else None,
        author=data.get("author", ""), language=data.get("language", ""))
