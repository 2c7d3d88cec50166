"""Occurrences in words, for what needs positions: NEAR pairs both sides' occurrences; and
regexes, searched in the original text under a time budget.

Both are bounded per article, so a hostile page costs a bounded delay, never a stalled
daemon: NEAR looks at a budget of pairs of occurrences, regexes get a time limit per field and
a budget per article (figures in docs/rules.md).
"""

from __future__ import annotations

import logging
import time
from bisect import bisect_left
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

from watcher.rules.query import TEXT_FIELDS, Near, Pattern
from watcher.types import Hit

log = logging.getLogger(__name__)

# A /regex/ gets this long per field, and all regexes together this long per article.
REGEX_TIMEOUT = 0.05
REGEX_BUDGET = 0.25
REGEX_MAX_HITS = 100
# NEAR looks at this many pairs of occurrences per article, all NEARs together, so a page
# repeating both sides cannot stall matching (its cost: docs/rules.md, Speed): a long article
# with each side a hundred times needs a few thousand; only a text repeating both sides
# thousands of times within reach of each other gets near it.
NEAR_PAIR_BUDGET = 20_000

# What deduplicates regex hits: (field index, start, end, pattern as written)
HitKey = tuple[int, int, int, str]


class Part(NamedTuple):
    """A term occurrence that an occurrence is made of, for its hit: offsets in the field's
    automaton string (``Words.span`` maps them to the text)."""

    term: int  # node id of the term
    start: int
    stop: int


class Occurrence(NamedTuple):
    """One occurrence of something positional in a field, in words: ``first`` up to (not
    including) ``last``."""

    field: int
    first: int
    last: int
    parts: tuple[Part, ...]


_by_position = itemgetter(0, 1, 2)


def near_occurrences(lefts: Sequence[Occurrence], rights: Sequence[Occurrence], near: Near,
                     budget: int) -> tuple[list[Occurrence], int]:
    """The occurrences of ``near`` from those of its sides, and how many pairs were
    examined; past ``budget`` pairs, those found so far decide (a text that repeats both sides
    thousands of times, a hostile page or a list of thousands of items, has millions)."""
    if not lefts or not rights:
        return [], 0
    distance = near.distance
    rights = sorted(rights, key=_by_position)
    starts = [(r.field, r.first) for r in rights]
    longest = max(r.last - r.first for r in rights)
    result: dict[tuple[int, int, int], Occurrence] = {}
    count = len(rights)
    examined = 0
    for field, first, last, parts in lefts:
        # Only rights starting between (first - distance - longest) and (last + distance)
        # can be close enough, on either side.
        index = bisect_left(starts, (field, first - distance - longest))
        while index < count:
            r_field, r_first, r_last, r_parts = rights[index]
            if r_field != field or r_first > last + distance:
                break
            index += 1
            examined += 1
            after = last <= r_first and r_first - last <= distance
            before = not near.ordered and r_last <= first and first - r_last <= distance
            if after or before:
                span = (field, min(first, r_first), max(last, r_last))
                if span not in result:
                    result[span] = Occurrence(*span, parts + r_parts)
        if examined > budget:
            break
    return list(result.values()), examined


def search_pattern(pattern: Pattern, texts: Sequence[str], budget: float, url: str
                   ) -> tuple[dict[HitKey, Hit], float]:
    """A regex's matches in the fields it searches (``texts`` by field index), each field
    with a time limit; and what is left of the article's ``budget`` of seconds."""
    assert pattern.compiled is not None
    hits: dict[HitKey, Hit] = {}
    for name in pattern.fields:
        field = TEXT_FIELDS.index(name)
        text = texts[field]
        if not text:
            continue
        limit = min(REGEX_TIMEOUT, budget)
        if limit <= 0:
            log.warning("regex time budget spent on %s: %s not searched in %s",
                        url, pattern.text, name)
            break
        started = time.monotonic()
        try:
            for found in pattern.compiled.finditer(text, timeout=limit):
                start, end = found.span()
                hits[(field, start, end, pattern.text)] = Hit(name, start, end, pattern.text)
                if len(hits) >= REGEX_MAX_HITS:
                    break
        except TimeoutError:
            log.warning("regex %s timed out after %.0f ms on %s of %s: counted as no match",
                        pattern.text, limit * 1000, name, url)
        finally:
            budget -= time.monotonic() - started
    return hits, budget
