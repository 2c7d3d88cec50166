"""The sentence around a hit, with the matched terms marked: for ``rules test`` and digests.

``snippet(text, hits)`` picks the sentence of ``text`` holding the most distinct matched terms
(the earliest on a tie), trims it to ``max_chars`` around the hits, and returns the spans to
highlight. Rendering is the caller's: ``Snippet.parts()`` gives (text, highlighted) pieces to
escape and wrap (HTML, Slack), ``Snippet.highlight(before, after)`` wraps plain text (ANSI).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from watcher.types import Article, Hit

ELLIPSIS = "…"
# A sentence ends at . ! ? or … (plus closing quotes/brackets) before whitespace, at a line
# break (paragraphs are lines), or glued to the next one by a lost space, as extraction leaves
# it where two blocks met ("all the difference.The head of MI6"): lower-case, stop, capital
# followed by lower-case (so "U.S." and "3.5" are not split).
_END = re.compile(r"[.!?…][\"'”’»)\]]*\s+|(?<=[a-z])[.!?](?=[A-Z][a-z])|\n+")
# Words after which a full stop does not end a sentence.
_ABBREVIATION_LIST = (
    "mr mrs ms dr prof st sen rep gov gen col lt sgt capt cmdr adm maj jr sr no vs etc inc ltd "
    "co corp dept est fig approx jan feb mar apr jun jul aug sep sept oct nov dec mt ft")
_ABBREVIATIONS = frozenset(_ABBREVIATION_LIST.split())


@dataclass(frozen=True)
class Snippet:
    field: str  # where the text comes from: "title", "summary", "body"
    text: str
    spans: tuple[tuple[int, int], ...]  # [start, end) in ``text`` to highlight, in order

    def parts(self) -> list[tuple[str, bool]]:
        """``text`` cut into pieces, each with whether it is highlighted."""
        pieces: list[tuple[str, bool]] = []
        at = 0
        for start, end in self.spans:
            if start > at:
                pieces.append((self.text[at:start], False))
            pieces.append((self.text[start:end], True))
            at = end
        if at < len(self.text):
            pieces.append((self.text[at:], False))
        return pieces

    def highlight(self, before: str, after: str) -> str:
        """``text`` with every span wrapped, e.g. in ANSI codes or ``**``."""
        return "".join(f"{before}{piece}{after}" if marked else piece
                       for piece, marked in self.parts())


def sentence_bounds(text: str) -> list[int]:
    """Start offsets of the sentences of ``text`` (the first is 0)."""
    starts = [0]
    for found in _END.finditer(text):
        if found.group().startswith(".") and _abbreviation(text, found.start()):
            continue
        if found.end() < len(text):
            starts.append(found.end())
    return starts


def _abbreviation(text: str, dot: int) -> bool:
    word_start = dot
    while word_start > 0 and text[word_start - 1].isalpha():
        word_start -= 1
    word = text[word_start:dot]
    # "Mr." and single initials ("J. Smith", "U.S.") are not sentence ends
    return word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper())


def snippet(text: str, hits: Iterable[Hit | tuple[int, int]], *, field: str = "",
            max_chars: int = 280) -> Snippet:
    """The best sentence of ``text`` for ``hits`` (Hits or (start, end) spans into ``text``)."""
    spans: list[tuple[int, int, str]] = []
    for hit in hits:
        if isinstance(hit, Hit):
            spans.append((hit.start, hit.end, hit.term))
        else:
            spans.append((hit[0], hit[1], text[hit[0]:hit[1]].lower()))
    spans = sorted(s for s in set(spans) if 0 <= s[0] < s[1] <= len(text))
    if not spans:
        return Snippet(field, _trim(text, 0, len(text), [], max_chars)[0], ())
    starts = sentence_bounds(text)
    by_sentence: dict[int, list[tuple[int, int, str]]] = {}
    for span in spans:
        by_sentence.setdefault(bisect_right(starts, span[0]) - 1, []).append(span)
    best = max(by_sentence, key=lambda s: (len({t for _, _, t in by_sentence[s]}), -s))
    begin = starts[best]
    end = starts[best + 1] if best + 1 < len(starts) else len(text)
    inside = [(a, min(b, end)) for a, b, _ in by_sentence[best]]
    trimmed, shifted = _trim(text, begin, end, inside, max_chars)
    return Snippet(field, trimmed, tuple(shifted))


def _trim(text: str, begin: int, end: int, spans: Sequence[tuple[int, int]],
          max_chars: int) -> tuple[str, list[tuple[int, int]]]:
    """``text[begin:end]`` stripped and cut to ``max_chars`` around the first span, at word
    boundaries, with an ellipsis where it was cut; spans re-based on the result."""
    while begin < end and text[begin].isspace():
        begin += 1
    while end > begin and text[end - 1].isspace():
        end -= 1
    lead, tail = "", ""
    if end - begin > max_chars:
        focus = spans[0][0] if spans else begin
        start = max(begin, min(focus - max_chars // 3, end - max_chars))
        stop = min(end, start + max_chars)
        if start > begin:
            space = text.find(" ", start, focus if spans else stop)
            start = space + 1 if space >= 0 else start
            lead = ELLIPSIS
        if stop < end:
            space = text.rfind(" ", max(start, spans[-1][1] if spans else start), stop)
            stop = space if space > start else stop
            tail = ELLIPSIS
        begin, end = start, stop
    shift = len(lead) - begin
    kept = [(a + shift, b + shift) for a, b in spans if a >= begin and b <= end]
    return lead + text[begin:end] + tail, _merge(kept)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def snippet_fields(article: Article) -> dict[str, str]:
    """The fields a snippet may come from, in the order they are preferred."""
    return {"body": article.body, "summary": article.description, "title": article.title}


def best_snippet(article: Article, hits: Sequence[Hit], *,
                 max_chars: int = 280) -> Snippet | None:
    """The snippet a digest shows for a match: from the body when it has hits, else the
    summary, else the title; None when the hits are only in the URL or author."""
    for field, text in snippet_fields(article).items():
        # Hits recorded against an older version of the text may no longer fit it.
        mine = [h for h in hits if h.field == field and 0 <= h.start < h.end <= len(text)]
        if mine:
            return snippet(text, mine, field=field, max_chars=max_chars)
    return None
