from __future__ import annotations

from datetime import UTC, datetime

from watcher.rules import QuerySyntaxError, compile_query
from watcher.types import Article


def article(title: str = "", summary: str = "", body: str = "", *, url: str = "",
            feed: str = "bbc-world", site: str = "bbc.co.uk", author: str = "",
            language: str | None = "en") -> Article:
    return Article(url=url or "https://www.bbc.co.uk/news/world-1", canonical_url=url,
                   feed=feed, site=site, title=title, description=summary,
                   paragraphs=tuple(body.split("\n")) if body else (),
                   fetched=datetime(2025, 1, 1, tzinfo=UTC), author=author, language=language)


def compiles(text: str) -> bool:
    """Whether ``text`` is a valid query (generated queries may not be)."""
    try:
        compile_query(text)
        return True
    except QuerySyntaxError:
        return False
