"""Trying a query or a rule on the archive before it goes into rules.yaml: what
``watcher rules test`` and the web page's tester both do.

``trial_target`` turns what the user typed into a rule (a rule's name wins over a query);
``try_on`` matches it against stored articles, newest first, keeping the first hits and,
when asked, stopping at a deadline so a page stays quick on a large archive; it reads an
article whole only when its text may hold a match.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from watcher.config import did_you_mean
from watcher.rules import QuerySyntaxError, Rule, RuleSet, compile_query
from watcher.rules.loader import caret
from watcher.rules.screen import Screen
from watcher.types import ArticleText, Hit, StoredArticle

# Articles whose text is screened before the rest of the rows of those that may match is
# read in one statement: enough that a statement's own cost is paid for many rows, few
# enough that a search stopping at its first hits reads little it does not use.
READ_BATCH = 100


class TrialTargetError(Exception):
    """Neither a rule's name nor a valid query: ``column`` (1-based) and ``pointer`` (the
    query with a caret under the column, as ``watcher check`` shows it)."""

    def __init__(self, message: str, column: int, pointer: str) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.pointer = pointer


def trial_target(rules: RuleSet | None, text: str) -> tuple[Rule, str]:
    """The rule named ``text`` (its matching settings only), else ``text`` as a query; with
    a label for the output ("rule 'x'" or "query")."""
    if rules is not None and (rule := rules.get(text)) is not None:
        return (Rule(rule.name, rule.query, feeds=rule.feeds, min_hits=rule.min_hits),
                f"rule '{rule.name}'")
    try:
        compile_query(text)
    except QuerySyntaxError as exc:
        names = [r.name for r in rules.rules] if rules is not None else []
        hint = did_you_mean(text, names) if " " not in text else ""
        message = (f"not a rule name{hint}, and not a valid query: {exc.message}"
                   if hint else exc.message)
        raise TrialTargetError(message, exc.column, caret(text, exc.column - 1)) from exc
    return Rule("query", text), "query"


@dataclass(frozen=True)
class TrialHit:
    stored: StoredArticle
    hits: tuple[Hit, ...]


@dataclass
class TrialResult:
    hits: list[TrialHit] = field(default_factory=list)  # the first ``keep``, newest first
    scanned: int = 0
    matched: int = 0
    per_feed: Counter[str] = field(default_factory=Counter)
    complete: bool = True  # False: stopped early (enough hits, or the deadline)
    oldest: int | None = None  # the number of the last (oldest) article searched


def try_on(rule: Rule, walk: Iterable[ArticleText],
           load: Callable[[Sequence[int]], Mapping[int, StoredArticle]], *, keep: int,
           stop_at_keep: bool = False, seconds: float | None = None,
           clock: Callable[[], float] = time.perf_counter) -> TrialResult:
    """Match ``rule`` against the articles of ``walk`` (their text, newest first), reading
    the rest of an article (``load``: numbers to stored articles) only when its text may
    hold a match. Counts every match unless told to stop once ``keep`` hits are kept, or
    after ``seconds`` (the articles walked by then are searched, at least one)."""
    rules = RuleSet([rule])
    # Most articles hold no word that could wake the rule: they are screened out before
    # ``match`` splits and folds them, and before the rest of their row is read (the same
    # answers, see ``watcher.rules.screen``).
    screen = Screen(rules)
    result = TrialResult()
    deadline = None if seconds is None else clock() + seconds
    walked = iter(walk)
    while chunk := _chunk(walked, deadline, clock):
        # At least one article is searched, however late: a next page then starts below
        # it, so paging through a busy machine's answers always moves on.
        if deadline is not None and result.scanned and clock() > deadline:
            result.complete = False
            break
        loaded: Mapping[int, StoredArticle] | None = None
        for text in chunk:
            if stop_at_keep and len(result.hits) >= keep:
                result.complete = False
                return result
            if loaded is None:  # once it is sure that the chunk is searched
                loaded = load([t.number for t in chunk if screen.may_match(t.texts)])
            result.scanned += 1
            result.oldest = text.number
            stored = loaded.get(text.number)  # None: screened out
            found = rules.match(stored.article) if stored is not None else ()
            if stored is None or not found:
                continue
            result.matched += 1
            result.per_feed[stored.article.feed] += 1
            if len(result.hits) < keep:
                result.hits.append(TrialHit(stored, found[0].hits))
    return result


def _chunk(walked: Iterator[ArticleText], deadline: float | None,
           clock: Callable[[], float]) -> list[ArticleText]:
    """The next ``READ_BATCH`` articles of the walk, fewer once the deadline has passed (a
    feed glob that skips most rows makes each one slow to come)."""
    chunk: list[ArticleText] = []
    for text in walked:
        chunk.append(text)
        if len(chunk) >= READ_BATCH or (deadline is not None and clock() > deadline):
            break
    return chunk
