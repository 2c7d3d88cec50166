"""A slow, obviously correct evaluator of the query language, written from docs/rules.md
without the engine's machinery (no automaton, no generated code, no whole-string folding):
character loops for words, a fold per word, and nested loops for every operator."""

from __future__ import annotations

import fnmatch
import unicodedata
from dataclasses import dataclass

from watcher.rules.parser import compile_query
from watcher.rules.query import And, Meta, Near, Node, Not, Or, Pattern, Term
from watcher.types import Article, Hit

APOSTROPHES = "'’"


def is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


@dataclass(frozen=True)
class Word:
    start: int
    end: int
    written: str
    folded: str


def fold(word: str) -> str:
    lowered = word.lower()
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", lowered).casefold())
    kept = "".join(c for c in decomposed if not is_mark(c) and c != " ")
    return kept or lowered


def tokenize(text: str) -> list[Word]:
    words: list[Word] = []
    index = 0
    while index < len(text):
        if not text[index].isalnum():
            index += 1
            continue
        start = index
        index += 1
        while index < len(text) and (text[index].isalnum() or is_mark(text[index])):
            index += 1
        written = text[start:index]
        possessive = (written in ("s", "S") and start >= 2 and text[start - 1] in APOSTROPHES
                      and (text[start - 2].isalnum() or is_mark(text[start - 2])))
        if not possessive:
            words.append(Word(start, index, written, fold(written)))
    return words


FIELDS = ("title", "summary", "body", "url", "author")


def field_text(article: Article, field: str) -> str:
    return {"title": article.title, "summary": article.description, "body": article.body,
            "url": article.url, "author": article.author}[field]


# An occurrence: (field, first word, after last word, ((term, first, last), ...))
Occ = tuple[str, int, int, tuple[tuple[Term, int, int], ...]]


class Reference:
    def __init__(self, article: Article) -> None:
        self.article = article
        self.words = {f: tokenize(field_text(article, f)) for f in FIELDS}

    def term(self, term: Term) -> list[Occ]:
        found: list[Occ] = []
        size = len(term.words)
        for field in term.fields:
            words = self.words[field]
            for first in range(len(words) - size + 1):
                window = words[first:first + size]
                if self._fits(term, window):
                    found.append((field, first, first + size, ((term, first, first + size),)))
        return found

    @staticmethod
    def _fits(term: Term, window: list[Word]) -> bool:
        if term.case_sensitive:
            have = [unicodedata.normalize("NFC", w.written) for w in window]
            want = list(term.originals)
        else:
            have = [w.folded for w in window]
            want = list(term.words)
        if have[:-1] != want[:-1]:
            return False
        return have[-1].startswith(want[-1]) if term.prefix else have[-1] == want[-1]

    def positional(self, node: Node) -> list[Occ]:
        if isinstance(node, Term):
            return self.term(node)
        if isinstance(node, Or):
            return [o for child in node.children for o in self.positional(child)]
        assert isinstance(node, Near)
        found: dict[tuple[str, int, int], Occ] = {}
        for lf, ls, le, lp in self.positional(node.left):
            for rf, rs, re_, rp in sorted(self.positional(node.right), key=lambda o: o[:3]):
                if lf != rf:
                    continue
                after = le <= rs and rs - le <= node.distance
                before = not node.ordered and re_ <= ls and ls - re_ <= node.distance
                if (after or before) and (lf, min(ls, rs), max(le, re_)) not in found:
                    found[(lf, min(ls, rs), max(le, re_))] = (
                        lf, min(ls, rs), max(le, re_), lp + rp)
        return list(found.values())

    def regex(self, pattern: Pattern) -> list[Hit]:
        assert pattern.compiled is not None
        hits = []
        for field in pattern.fields:
            for found in pattern.compiled.finditer(field_text(self.article, field)):
                hits.append(Hit(field, found.start(), found.end(), pattern.text))
        return hits[:100]

    def meta(self, meta: Meta) -> bool:
        value = meta.value
        glob = any(c in value for c in "*?[")
        if meta.field == "feed":
            return fnmatch.fnmatchcase(self.article.feed.lower(), value)
        if meta.field == "site":
            site = self.article.site.lower().removeprefix("www.")
            value = value.removeprefix("www.")
            return fnmatch.fnmatchcase(site, value) if glob else (
                site == value or site.endswith("." + value))
        lang = (self.article.language or "").lower()
        return fnmatch.fnmatchcase(lang, value) if glob else (
            lang == value or lang.startswith(value + "-"))

    def count(self, node: Node) -> int:
        if isinstance(node, Pattern):
            return len(self.regex(node))
        return len({o[:3] for o in self.positional(node)})

    def holds(self, node: Node, positive: bool, min_hits: int) -> bool:
        if isinstance(node, Not):
            return not self.holds(node.child, not positive, min_hits)
        if isinstance(node, And):
            return all(self.holds(c, positive, min_hits) for c in node.children)
        if isinstance(node, Or):
            return any(self.holds(c, positive, min_hits) for c in node.children)
        if isinstance(node, Meta):
            return self.meta(node)
        return self.count(node) >= (min_hits if positive else 1)

    def hits(self, node: Node, positive: bool, min_hits: int) -> set[Hit]:
        if isinstance(node, Not):
            return self.hits(node.child, not positive, min_hits)
        if isinstance(node, And | Or):
            return set().union(*(self.hits(c, positive, min_hits) for c in node.children))
        if isinstance(node, Meta) or not positive or not self.holds(node, True, min_hits):
            return set()
        if isinstance(node, Pattern):
            return set(self.regex(node))
        result = set()
        for field, _, _, parts in self.positional(node):
            words = self.words[field]
            for term, first, last in parts:
                result.add(Hit(field, words[first].start, words[last - 1].end, term.text))
        return result


def reference_match(query: str, article: Article, min_hits: int = 1) -> set[Hit] | None:
    """The hits of ``query`` on ``article`` when it matches, else None."""
    root = compile_query(query).root
    ref = Reference(article)
    if not ref.holds(root, True, min_hits):
        return None
    return ref.hits(root, True, min_hits)
