"""An article's rows and file text, built where its work ran (a worker process).

Pure: no SQL, no files touched. ``ingest.commit_outcomes`` stores what these build, in the
process that owns the index; a worker imports this module alone, without SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.store.codec import article_values, hits_json_text
from watcher.store.files import render
from watcher.textsafe import storable
from watcher.types import Article, RuleMatch


@dataclass(frozen=True)
class ReadyArticle:
    """An article as the index stores it: its row, its matches' rows and its file's text
    (None: no file), all built before the index is touched.

    The hits travel only as the index stores them, JSON text: an article can match
    hundreds of rules, and the process that commits needs only their names.
    """

    article: Article  # storable: every text encodable, times in UTC
    row: Mapping[str, Any]
    match_rows: tuple[tuple[str, str], ...]  # (rule, hits as stored: JSON text)
    file_text: str | None

    @property
    def rules(self) -> tuple[str, ...]:
        return tuple(rule for rule, _ in self.match_rows)


@dataclass(frozen=True)
class Outcome:
    """What became of one entry's work: an article to store, or (None) a failed attempt."""

    entry_row_id: int | None
    ready: ReadyArticle | None


def ready(article: Article, found: Sequence[RuleMatch], *, write_file: bool) -> ReadyArticle:
    """Everything ``commit_outcomes`` needs for ``article``; pure, runs in any process."""
    article = storable(article)  # lone surrogates, times UTC cannot express
    return ReadyArticle(
        article=article, row=article_values(article),
        match_rows=tuple((m.rule, hits_json_text(m.hits)) for m in found),
        file_text=render(article) if write_file else None)
